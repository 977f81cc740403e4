import { spawnSync } from "node:child_process";
import { type Stats, statSync } from "node:fs";
import path from "node:path";

/**
 * Whether the account a service runs as can read the program it is to
 * start. A checkout under /root (mode 700) or under /tmp (hidden by the
 * unit's PrivateTmp=yes) installs fine and then fails at every start with
 * "module not found"; `central install` says so before, dry run or not.
 */

/** The account's uid and groups; null when it does not exist yet (install creates it, with a group of its own). */
export interface Account {
  name: string;
  uid: number | null;
  gids: readonly number[];
}

export function lookUpAccount(name: string): Account {
  const uid = spawnSync("id", ["-u", name], { encoding: "utf8" });
  if (uid.status !== 0) return { name, uid: null, gids: [] };
  const groups = spawnSync("id", ["-G", name], { encoding: "utf8" });
  return {
    name,
    uid: Number(uid.stdout.trim()),
    gids: (groups.stdout ?? "").trim().split(/\s+/).filter(Boolean).map(Number),
  };
}

/** The permission bits (r=4, w=2, x=1) that apply to `account` on a file with these stats. */
function bitsFor(st: Stats, account: Account): { bits: number; as: string } {
  if (account.uid === 0) return { bits: 7, as: "root" };
  if (account.uid !== null && st.uid === account.uid) return { bits: (st.mode >> 6) & 7, as: "owner" };
  if (account.gids.includes(st.gid)) return { bits: (st.mode >> 3) & 7, as: "group" };
  return { bits: st.mode & 7, as: "others" };
}

const mode = (st: Stats) => (st.mode & 0o7777).toString(8);

/**
 * One warning per file of the service's command line the account cannot
 * reach: a directory on the way it may not enter (x), the file it may not
 * read (r), or (systemd only) a place the unit hides from it.
 */
export function serviceAccessWarnings(
  files: readonly string[],
  account: Account,
  options: { privateTmp: boolean },
): string[] {
  const warnings: string[] = [];
  const fix =
    "move the checkout where it can (e.g. /opt/srvutil) or give it access; the service would fail to start";
  for (const file of files) {
    if (!path.isAbsolute(file)) continue;
    if (options.privateTmp && /^\/(var\/)?tmp\//.test(file)) {
      warnings.push(
        `${file} is under ${file.startsWith("/var/") ? "/var/tmp" : "/tmp"}, which the service does not see (PrivateTmp=yes in its unit): ${fix}`,
      );
      continue;
    }
    const parts = file.split("/").filter(Boolean);
    let current = "/";
    for (let i = 0; i <= parts.length; i++) {
      let st: Stats;
      try {
        st = statSync(current);
      } catch {
        break; // missing: the install itself reports what it needs
      }
      const last = i === parts.length;
      const { bits, as } = bitsFor(st, account);
      const need = last ? 4 : 1;
      if ((bits & need) === 0) {
        warnings.push(
          `the service user '${account.name}' cannot ${last ? "read" : "enter"} ${current} (mode ${mode(st)}, owner uid ${st.uid}; it counts as ${as}), so it cannot read ${file}: ${fix}`,
        );
        break;
      }
      if (!last) current = path.join(current, parts[i]!);
    }
  }
  return warnings;
}
