/**
 * KNOWN_FINDINGS: what the fuzz suite finds that belongs to another part of
 * issue 24, which another branch fixes. Each entry matches only its own
 * symptom (route, status, and the input that causes it), so every other
 * violation still fails the suite. findings.test.ts replays each entry's
 * probe (one request that shows it) and fails once it no longer reproduces:
 * the fix has landed, and the entry must be deleted. Nothing is skipped
 * silently: every fuzz file prints how often it met each entry.
 */
import { newToken } from "../../src/central/dashboard/sessions.js";
import type { FuzzCentral } from "./central.js";
import type { Answer, FuzzRequest } from "./transport.js";

export interface Violation {
  kind: "5xx" | "bad-status" | "answer-size" | "log-size" | "stored-on-refusal" | "no-answer" | "redirect";
  detail: string;
}

export interface KnownFinding {
  id: string;
  /** Where in issue 24 it belongs, and which helper owns the fix. */
  issuePoint: string;
  what: string;
  /** True when this violation is this finding's symptom. */
  matches(request: FuzzRequest, answer: Answer | null, violations: readonly Violation[]): boolean;
  /** One request that shows it, on a central with the dashboard's data (test/central/dashboard/harness.ts seed). */
  probe: { backend: "sqlite" | "postgres"; request(c: FuzzCentral): FuzzRequest };
}

const FORM = "application/x-www-form-urlencoded";

function signIn(username: string, password: string, next = "/"): FuzzRequest {
  const login = newToken();
  return {
    method: "POST",
    url: "/login",
    headers: { "content-type": FORM, cookie: `srvutil_login=${login}` },
    body: new URLSearchParams({ _csrf: login, username, password, next }).toString(),
  };
}

const pathOf = (url: string) => url.split("?")[0]!;

function formValue(request: FuzzRequest, name: string): string | undefined {
  if (request.body === undefined) return undefined;
  const text = Buffer.isBuffer(request.body) ? request.body.toString("utf8") : request.body;
  try {
    return new URLSearchParams(text).get(name) ?? undefined;
  } catch {
    return undefined;
  }
}

const only = (violations: readonly Violation[], ...kinds: Violation["kind"][]) =>
  violations.length > 0 && violations.every((v) => kinds.includes(v.kind));

export const KNOWN_FINDINGS: readonly KnownFinding[] = [
  {
    id: "login-nul-postgres-500",
    issuePoint: "4, login throttle (hostile-web)",
    what:
      "on PostgreSQL, a user name with a NUL character reaches the throttle's and the user lookup's " +
      "queries, which PostgreSQL refuses: 500 (SQLite answers 401); the sign-in handler and its " +
      "throttle keys are being rewritten for point 4",
    matches: (request, answer, violations) =>
      pathOf(request.url) === "/login" &&
      request.method === "POST" &&
      answer?.status === 500 &&
      only(violations, "5xx") &&
      (formValue(request, "username") ?? "").includes("\u0000"),
    probe: { backend: "postgres", request: () => signIn("a\u0000b", "wrong password") },
  },
];

export function matchKnownFinding(
  request: FuzzRequest,
  answer: Answer | null,
  violations: readonly Violation[],
): KnownFinding | null {
  return KNOWN_FINDINGS.find((f) => f.matches(request, answer, violations)) ?? null;
}

export { pathOf };
