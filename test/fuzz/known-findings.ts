/**
 * KNOWN_FINDINGS: what the fuzz suite finds that belongs to another part of
 * issue 24, which another branch fixes. Each entry matches only its own
 * symptom (route, status, and the input that causes it), so every other
 * violation still fails the suite. known-findings.test.ts replays each
 * entry's probe and fails once it no longer reproduces: the fix has landed
 * and the entry must be deleted. Nothing is skipped silently: every fuzz file
 * prints how often it met each entry.
 */
import type { Answer, FuzzRequest } from "./harness.js";

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
  },
  {
    id: "seed-bridge-skipped-lines-log",
    issuePoint: "4, amplification: seed bad lines, log line size (hostile-input)",
    what:
      "the seed bridge writes every skipped line of a file into one automation.log entry: " +
      "a file of many bad lines makes a log line of unbounded size",
    matches: (request, answer, violations) =>
      pathOf(request.url) === "/upload_metrics" &&
      answer?.status === 200 &&
      only(violations, "log-size") &&
      / lines? skipped: /.test(answer.body.toString("utf8")),
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
