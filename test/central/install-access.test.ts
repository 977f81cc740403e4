import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Account, serviceAccessWarnings } from "../../src/central/install/access.js";
import { applyCentralInstall } from "../../src/central/install/index.js";

/**
 * `central install` warns when the service user cannot read the program it
 * is to start: a checkout under a directory it may not enter (/root, mode
 * 700), or under /tmp, which the unit's PrivateTmp=yes hides from it.
 */
let work: string;
beforeEach(() => {
  // Under /tmp on purpose: the PrivateTmp case is about exactly this place.
  work = mkdtempSync("/tmp/srvutil-install-access-");
  chmodSync(work, 0o755);
});
afterEach(() => {
  chmodSync(path.join(work, "locked"), 0o700);
  rmSync(work, { recursive: true, force: true });
});

/** A checkout at <work>/<dir>/srvutil with bin/srvutil.js, `dir` given `mode`. */
function checkout(dir: string, dirMode: number): string {
  const bin = path.join(work, dir, "srvutil", "bin");
  mkdirSync(bin, { recursive: true, mode: 0o755 });
  const script = path.join(bin, "srvutil.js");
  writeFileSync(script, "// srvutil\n", { mode: 0o644 });
  chmodSync(path.join(work, dir), dirMode);
  return script;
}

/** The service account as install would create it: no uid yet, a group of its own. */
const newServiceUser: Account = { name: "srvutil", uid: null, gids: [] };

describe("serviceAccessWarnings", () => {
  it("names the directory the service user cannot enter, and passes a readable checkout", () => {
    mkdirSync(path.join(work, "locked"));
    const hidden = checkout("locked", 0o700);
    const open = checkout("open", 0o755);
    expect(serviceAccessWarnings([hidden], newServiceUser, { privateTmp: false })).toEqual([
      `the service user 'srvutil' cannot enter ${path.join(work, "locked")} (mode 700, owner uid ${process.getuid!()}; it counts as others), so it cannot read ${hidden}: move the checkout where it can (e.g. /opt/srvutil) or give it access; the service would fail to start`,
    ]);
    expect(serviceAccessWarnings([open], newServiceUser, { privateTmp: false })).toEqual([]);
    // The owner of the directory may enter it.
    const owner: Account = { name: "me", uid: process.getuid!(), gids: [] };
    expect(serviceAccessWarnings([hidden], owner, { privateTmp: false })).toEqual([]);
  });

  it("names a file the service user cannot read", () => {
    mkdirSync(path.join(work, "locked"));
    const script = checkout("open", 0o755);
    chmodSync(script, 0o600);
    expect(serviceAccessWarnings([script], newServiceUser, { privateTmp: false })[0]).toMatch(
      new RegExp(`^the service user 'srvutil' cannot read ${script.replaceAll(".", "\\.")} \\(mode 600`),
    );
  });
});

describe("central install on Linux", () => {
  it("--dry-run warns about a checkout under /tmp (PrivateTmp) before anything else", async () => {
    mkdirSync(path.join(work, "locked"));
    const script = checkout("open", 0o755);
    const lines: string[] = [];
    await applyCentralInstall({
      platform: "linux",
      env: { SRVUTIL_DATA_DIR: "/var/lib/srvutil" },
      command: ["/usr/bin/node", script],
      dryRun: true,
      unitDir: path.join(work, "units"),
      envFile: path.join(work, "central.env"),
      lookUpAccount: () => newServiceUser,
      print: (l) => lines.push(l),
    });
    expect(lines[0]).toBe(
      `# WARNING: ${script} is under /tmp, which the service does not see (PrivateTmp=yes in its unit): move the checkout where it can (e.g. /opt/srvutil) or give it access; the service would fail to start`,
    );
    expect(lines.filter((l) => l.startsWith("# WARNING"))).toHaveLength(1);
  });
});
