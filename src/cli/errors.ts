/**
 * Prints an error the way an operator wants to read it: one line naming what
 * to fix for expected errors (configuration, input), the stack for bugs.
 * Returns the process exit code.
 */
export function reportCliError(err: unknown): number {
  if (err instanceof Error && isUserFacing(err)) {
    console.error(`srvutil: ${err.message}`);
    return 2;
  }
  console.error(err);
  return 1;
}

/** Errors whose class name marks them as the user's to fix rather than a bug. */
function isUserFacing(err: Error): boolean {
  return /(Config|Validation|Usage|Input|Week)Error$/.test(err.name);
}
