import { errorCategory, errorCodeOf, exitCodeOf } from "../errors.js";

/**
 * Prints an error the way an operator wants to read it: one line naming what
 * to fix for expected errors (bad input, bad configuration, a dependency
 * that is down) with its stable code (docs/api.md#error-codes) at the end,
 * the stack for bugs. Returns the process exit code of the
 * error's category (src/errors.ts: 64 bad input, 78 bad configuration,
 * 69 unavailable, 70 internal).
 */
export function reportCliError(err: unknown): number {
  if (errorCategory(err) !== "internal" && err instanceof Error) {
    console.error(`srvutil: ${err.message} (${errorCodeOf(err)})`);
  } else {
    console.error(err);
  }
  return exitCodeOf(err);
}
