import type { CpuCounters } from "./types.js";

/**
 * Average busy share between two cumulative readings, 0..100, or null when no
 * time passed between them (the figure would be meaningless, not zero).
 */
export function cpuPercentFromCounters(previous: CpuCounters, current: CpuCounters): number | null {
  const total = current.total - previous.total;
  const busy = current.busy - previous.busy;
  if (!(total > 0)) return null;
  const percent = (busy / total) * 100;
  return Math.min(100, Math.max(0, percent));
}

/** True when `current` can follow `previous` on the same boot (counters only grow). */
export function countersAreMonotonic(previous: CpuCounters, current: CpuCounters): boolean {
  return current.total >= previous.total && current.busy >= previous.busy;
}

/** Shape of node's os.cpus()[n].times (milliseconds). */
export interface OsCpuTimes {
  user: number;
  nice: number;
  sys: number;
  idle: number;
  irq: number;
}

/**
 * Counters from os.cpus() (macOS host_processor_info, Windows
 * NtQuerySystemInformation via libuv): busy = user + nice + sys + irq.
 */
export function cpuCountersFromOsCpus(cpus: readonly { times: OsCpuTimes }[]): CpuCounters {
  let busy = 0;
  let total = 0;
  for (const { times } of cpus) {
    const b = times.user + times.nice + times.sys + times.irq;
    busy += b;
    total += b + times.idle;
  }
  return { busy, total };
}
