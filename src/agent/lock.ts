import { open, readFile, rm } from "node:fs/promises";

/** A lock older than this belongs to a hung or killed process whatever its pid says. */
const STALE_LOCK_MS = 60 * 60_000;

/**
 * An exclusive lock file (O_EXCL) so a daemon and a cron run — or two
 * overlapping cron runs — never upload the same spool at once. Holds the
 * owner's pid and start time; a lock whose process is gone (kill -9) or that
 * is older than an hour is taken over.
 */
export async function tryLock(path: string, now = Date.now()): Promise<(() => Promise<void>) | null> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(path, "wx", 0o600);
      await handle.writeFile(JSON.stringify({ pid: process.pid, since: now }));
      await handle.close();
      return () => rm(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      if (!(await lockIsStale(path, now))) return null;
      await rm(path, { force: true });
    }
  }
  return null;
}

async function lockIsStale(path: string, now: number): Promise<boolean> {
  let owner: { pid?: unknown; since?: unknown };
  try {
    owner = JSON.parse(await readFile(path, "utf8")) as typeof owner;
  } catch {
    return true; // unreadable or half-written by a process that died mid-write
  }
  if (typeof owner.pid !== "number" || typeof owner.since !== "number") return true;
  if (now - owner.since > STALE_LOCK_MS) return true;
  if (owner.pid === process.pid) return false;
  try {
    process.kill(owner.pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ESRCH";
  }
}
