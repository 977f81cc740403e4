import { mkdir, readFile, rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fsyncDirectory, writeFileAtomic } from "../atomic.js";
import type { AgentLog } from "../log.js";

/**
 * What self-update keeps in the agent directory, beside the token: the
 * pinned public key, the marker of a swap on trial, and the versions that
 * failed their trial (never tried again). The spool (metrics/) is not
 * touched by any of it.
 */
export function updatePaths(agentDir: string) {
  return {
    /** The central's manifest key, pinned at install (base64 DER SPKI); mode 0600 like agent.token. */
    publicKey: join(agentDir, "agent-signing.pub"),
    /** Written before the swap, cleared by the new version's first successful upload. */
    pending: join(agentDir, "update-pending.json"),
    failed: join(agentDir, "update-failed.json"),
  };
}

export interface PendingUpdate {
  from: string;
  to: string;
  /** The executable (or bundle) the service manager starts. */
  target: string;
  /** The old one, renamed aside; renamed back by a rollback. */
  previous: string;
  startedAt: number;
  /** How many times the new version has started on trial. */
  starts: number;
}

/** A new version that keeps crashing is rolled back at its next start after this many. */
export const MAX_TRIAL_STARTS = 5;

export async function readPinnedKey(agentDir: string): Promise<string | null> {
  const text = await readFile(updatePaths(agentDir).publicKey, "utf8").catch(() => null);
  return text === null ? null : text.trim() || null;
}

export async function pinKey(agentDir: string, publicKey: string): Promise<void> {
  await mkdir(agentDir, { recursive: true, mode: 0o700 });
  await writeFileAtomic(updatePaths(agentDir).publicKey, `${publicKey}\n`);
}

export async function readPending(agentDir: string): Promise<PendingUpdate | null> {
  const text = await readFile(updatePaths(agentDir).pending, "utf8").catch(() => null);
  if (text === null) return null;
  try {
    const p = JSON.parse(text) as Partial<PendingUpdate>;
    if (
      typeof p.from === "string" &&
      typeof p.to === "string" &&
      typeof p.target === "string" &&
      typeof p.previous === "string" &&
      typeof p.startedAt === "number" &&
      typeof p.starts === "number"
    ) {
      return p as PendingUpdate;
    }
  } catch {}
  return null;
}

export async function writePending(agentDir: string, p: PendingUpdate): Promise<void> {
  await writeFileAtomic(updatePaths(agentDir).pending, `${JSON.stringify(p)}\n`);
}

export async function clearPending(agentDir: string): Promise<void> {
  await rm(updatePaths(agentDir).pending, { force: true });
  await fsyncDirectory(agentDir);
}

export async function readFailed(agentDir: string): Promise<string[]> {
  const text = await readFile(updatePaths(agentDir).failed, "utf8").catch(() => null);
  if (text === null) return [];
  try {
    const v: unknown = JSON.parse(text);
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
  } catch {
    return [];
  }
}

export async function addFailed(agentDir: string, version: string): Promise<void> {
  const failed = await readFailed(agentDir);
  if (!failed.includes(version)) failed.push(version);
  await writeFileAtomic(updatePaths(agentDir).failed, `${JSON.stringify(failed.slice(-20))}\n`);
}

/**
 * Puts the previous version back, by renames only so it works while the
 * new one runs (Windows refuses to overwrite a running .exe but lets it be
 * renamed): target → .failed, .previous → target. The version is recorded
 * as failed and the marker cleared; the caller exits for a restart.
 */
export async function rollBack(
  agentDir: string,
  p: PendingUpdate,
  log: AgentLog,
  why: string,
): Promise<void> {
  const failedCopy = `${p.target}.failed`;
  await rm(failedCopy, { force: true }).catch(() => {});
  await rename(p.target, failedCopy);
  await rename(p.previous, p.target);
  await fsyncDirectory(dirname(p.target));
  // Removing the running file fails on Windows; the next update's rm removes it then.
  await rm(failedCopy, { force: true }).catch(() => {});
  await addFailed(agentDir, p.to);
  await clearPending(agentDir);
  log.error("update_rolled_back", `update to ${p.to} rolled back to ${p.from}: ${why}`, {
    from: p.from,
    to: p.to,
  });
}

export type StartupState =
  | { state: "none" }
  /** This is the new version on trial: confirm() after the first successful upload, roll back at `deadline`. */
  | { state: "trial"; pending: PendingUpdate; deadline: number }
  | { state: "rolled_back" };

/**
 * Run first by every daemon start, so whichever binary runs next settles a
 * swap: the new version counts its start and rolls itself back when its
 * trial is over (deadline passed, or too many starts, i.e. it crashes
 * before uploading); the old version finding a marker means the new one was
 * put back by hand or never ran its own check: the version is recorded as failed.
 */
export async function settleAtStart(
  agentDir: string,
  version: string,
  rollbackMs: number,
  log: AgentLog,
  now: number = Date.now(),
): Promise<StartupState> {
  const p = await readPending(agentDir);
  if (p === null) return { state: "none" };
  if (version === p.to) {
    p.starts++;
    const deadline = p.startedAt + rollbackMs;
    if (now >= deadline || p.starts > MAX_TRIAL_STARTS) {
      await rollBack(
        agentDir,
        p,
        log,
        now >= deadline
          ? `no successful upload within ${Math.round(rollbackMs / 1000)} s`
          : `started ${p.starts} times without a successful upload`,
      );
      return { state: "rolled_back" };
    }
    await writePending(agentDir, p);
    log.info("update_trial", `running ${p.to} on trial until its first successful upload`, { from: p.from });
    return { state: "trial", pending: p, deadline };
  }
  if (version === p.from) {
    await addFailed(agentDir, p.to);
    log.warn("update_abandoned", `update to ${p.to} did not take; staying on ${p.from}`);
  }
  await clearPending(agentDir);
  return { state: "none" };
}
