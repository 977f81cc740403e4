import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { uptime } from "node:os";
import { join } from "node:path";
import { writeFileAtomic } from "./atomic.js";
import { countersAreMonotonic } from "./collector/cpu.js";
import type { CpuCounters } from "./collector/types.js";

/**
 * The previous run's CPU counters, kept so a one-shot run (cron, Task
 * Scheduler) reports the average since the last run, not a 1 s snapshot.
 */
export interface CpuState {
  counters: CpuCounters;
  /** Real wall clock of the reading, epoch ms (not the injectable sample clock). */
  readAtMs: number;
  /** Identifies the boot the counters belong to; counters restart at boot. */
  bootId: string;
}

export const CPU_STATE_FILE = "cpu-state.json";

/** Beyond this a previous reading no longer describes "since the last run" usefully. */
export const MAX_STATE_AGE_MS = 24 * 3600_000;

/**
 * Linux has a boot UUID; elsewhere the boot time (now − uptime) rounded to a
 * minute identifies the boot well enough (clock adjustments move it by seconds).
 */
export function currentBootId(): string {
  if (process.platform === "linux") {
    try {
      return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    } catch {
      // fall through
    }
  }
  return `boot@${Math.round((Date.now() - uptime() * 1000) / 60_000)}`;
}

export async function readCpuState(agentDir: string): Promise<CpuState | null> {
  try {
    const parsed = JSON.parse(await readFile(join(agentDir, CPU_STATE_FILE), "utf8")) as Partial<CpuState>;
    const c = parsed.counters;
    if (
      c &&
      typeof c.busy === "number" &&
      typeof c.total === "number" &&
      typeof parsed.readAtMs === "number" &&
      typeof parsed.bootId === "string"
    ) {
      return { counters: { busy: c.busy, total: c.total }, readAtMs: parsed.readAtMs, bootId: parsed.bootId };
    }
  } catch {
    // missing or corrupt: treated as a first run
  }
  return null;
}

export async function writeCpuState(agentDir: string, state: CpuState): Promise<void> {
  // Losing this file in a power cut only means one short fresh measurement: no fsync needed.
  await writeFileAtomic(join(agentDir, CPU_STATE_FILE), `${JSON.stringify(state)}\n`, { durable: false });
}

/**
 * Whether `previous` can serve as the start of this run's interval: same
 * boot, counters grew, not too old, and at least `minElapsedMs` ago (a run
 * right after another would otherwise average over a few milliseconds).
 */
export function stateIsUsable(
  previous: CpuState | null,
  current: CpuCounters,
  nowMs: number,
  bootId: string,
  minElapsedMs: number,
): previous is CpuState {
  if (previous === null) return false;
  if (previous.bootId !== bootId) return false;
  const elapsed = nowMs - previous.readAtMs;
  if (elapsed < minElapsedMs || elapsed > MAX_STATE_AGE_MS) return false;
  return countersAreMonotonic(previous.counters, current) && current.total > previous.counters.total;
}
