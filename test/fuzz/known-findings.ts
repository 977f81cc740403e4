/**
 * KNOWN_FINDINGS: what the fuzz suite finds that belongs to another part of
 * issue 24, which another branch fixes. Each entry matches only its own
 * symptom (route, status, and the input that causes it), so every other
 * violation still fails the suite. findings.test.ts replays each entry's
 * probe (one request that shows it) and fails once it no longer reproduces:
 * the fix has landed, and the entry must be deleted. Nothing is skipped
 * silently: every fuzz file prints how often it met each entry.
 */
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

/** None open: the last one (a NUL in the sign-in user name gave 500 on PostgreSQL) is fixed. */
export const KNOWN_FINDINGS: readonly KnownFinding[] = [];

export function matchKnownFinding(
  request: FuzzRequest,
  answer: Answer | null,
  violations: readonly Violation[],
): KnownFinding | null {
  return KNOWN_FINDINGS.find((f) => f.matches(request, answer, violations)) ?? null;
}
