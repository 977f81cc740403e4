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
import { SEED_HEADER } from "../../src/central/ingest/seed/parse-seed.js";
import { VIEWER } from "../central/dashboard/harness.js";
import type { FuzzCentral } from "./central.js";
import { BOUNDARY, multipartBody } from "./csv-files.js";
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
    id: "csrf-non-ascii-500",
    issuePoint: "4, CSRF check gives 500 (hostile-web)",
    what:
      "a _csrf of as many non-ASCII characters as the expected token has ASCII ones makes " +
      "timingSafeEqual throw RangeError: 500 on /login, /logout and every admin form",
    matches: (request, answer, violations) => {
      const csrf = formValue(request, "_csrf");
      return (
        request.method === "POST" &&
        answer?.status === 500 &&
        only(violations, "5xx") &&
        csrf !== undefined &&
        csrf.length === 43 &&
        Buffer.byteLength(csrf) !== csrf.length
      );
    },
    probe: {
      backend: "sqlite",
      request: () => ({
        method: "POST",
        url: "/login",
        headers: { "content-type": FORM, cookie: `srvutil_login=${"a".repeat(43)}` },
        body: new URLSearchParams({ _csrf: "é".repeat(43), username: "x", password: "y" }).toString(),
      }),
    },
  },
  {
    id: "csv-header-echo",
    issuePoint: "4, amplification: header length, column count, echoed input (hostile-input)",
    what:
      "a CSV v1 header without a required column is echoed whole in the 400 (`found: …`): " +
      "a header of many names or commas gives an answer as large as the upload allows",
    matches: (request, answer, violations) =>
      pathOf(request.url) === "/api/v1/metrics" &&
      answer?.status === 400 &&
      only(violations, "answer-size") &&
      answer.body.toString("utf8").includes("is missing from the header (found: "),
    probe: {
      backend: "sqlite",
      request: (c) => ({
        method: "POST",
        url: "/api/v1/metrics",
        headers: { authorization: `Bearer ${c.agentToken}`, "content-type": "text/csv" },
        body: `${",".repeat(40_000)}\n`,
      }),
    },
  },
  {
    id: "automation-log-line-size",
    issuePoint: "4, amplification: log line size, seed bad lines (hostile-input)",
    what:
      "automation.log entries carry request input unclipped: the seed bridge writes every skipped " +
      "line of a file into one entry, and a refused bridge upload the whole server_name, so one " +
      "request can write a line of any size",
    matches: (_request, _answer, violations) => only(violations, "log-size"),
    probe: {
      backend: "sqlite",
      request: () => {
        const ts = new Date(Date.now() - 3 * 86_400_000).toISOString().slice(0, 19).replace("T", " ");
        const good = `${ts},web-01,3.1,7.91,3.03,4.88,38.3,"[{""mountpoint"": ""/"", ""total_gb"": 10, ""used_gb"": 1, ""free_gb"": 9}]"`;
        const bad = "garbage,web-01,x,1,1,1,1,[]\n".repeat(2_000);
        return {
          method: "POST",
          url: "/upload_metrics",
          headers: { "content-type": `multipart/form-data; boundary=${BOUNDARY}` },
          body: multipartBody([
            { name: "server_name", body: "web-01" },
            { name: "file", filename: "web-01.csv", body: `${SEED_HEADER}\n${good}\n${bad}` },
          ]),
        };
      },
    },
  },
  {
    id: "next-invalid-header-500",
    issuePoint: "4, next redirect (hostile-web)",
    what:
      "sign-in with a next= holding a character a header cannot carry (NUL, CR, LF, other controls, " +
      "above U+00FF) creates the session, then fails to set Location: ERR_INVALID_CHAR, 500",
    matches: (request, answer, violations) => {
      const next = formValue(request, "next") ?? "";
      const sessionOnly = violations
        .filter((v) => v.kind === "stored-on-refusal")
        .every((v) => /^dashboard_sessions \d+ -> \d+$/.test(v.detail));
      return (
        pathOf(request.url) === "/login" &&
        request.method === "POST" &&
        answer?.status === 500 &&
        only(violations, "5xx", "stored-on-refusal") &&
        sessionOnly &&
        // biome-ignore lint/suspicious/noControlCharactersInRegex: the characters a header value cannot hold
        /[\u0000-\u0008\u000a-\u001f\u007f\u0100-\uffff]/.test(next)
      );
    },
    probe: { backend: "sqlite", request: () => signIn(VIEWER.name, VIEWER.password, "/\u0000") },
  },
  {
    id: "next-offsite-redirect",
    issuePoint: "4, next redirect (hostile-web)",
    what:
      "sign-in with next=/<TAB>/evil.example answers Location: /\\t/evil.example, which a browser " +
      "reads as //evil.example: off-site",
    matches: (request, answer, violations) =>
      pathOf(request.url) === "/login" &&
      request.method === "POST" &&
      answer?.status === 303 &&
      only(violations, "redirect") &&
      typeof answer.headers.location === "string" &&
      answer.headers.location.includes("\t"),
    probe: { backend: "sqlite", request: () => signIn(VIEWER.name, VIEWER.password, "/\t/evil.example") },
  },
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
