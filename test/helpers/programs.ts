import { accessSync, constants } from "node:fs";
import path from "node:path";

/**
 * The path of a Debian program a test needs (found on PATH), or an error that
 * names the package to install. A missing program fails the test instead of
 * skipping it: these tests check our output with the real tool, and npm
 * test's pretest step (scripts/provision-test-deps.mjs) installs every
 * package named here when it is missing.
 */
export function requireProgram(command: string, debianPackage: string): string {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    if (dir === "") continue;
    const candidate = path.join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this PATH entry
    }
  }
  throw new Error(
    `${command} is not installed: this test needs it (Debian: apt-get install ${debianPackage})`,
  );
}
