/**
 * The release, as in package.json (test/version.test.ts keeps them equal).
 * A constant rather than a read of package.json at run time, so the CLI and
 * any bundle of it need no file beside them; CHANGELOG.md lists the releases.
 */
export const VERSION = "0.1.0";

/** What `srvutil --version` prints and bug reports ask for: release, Node.js, platform. */
export function versionLine(): string {
  return `srvutil ${VERSION} (Node.js ${process.version}, ${process.platform}-${process.arch})`;
}
