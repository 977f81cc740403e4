import { cpus } from "node:os";
import { cpuCountersFromOsCpus } from "./cpu.js";
import type { CpuCounters } from "./types.js";

/**
 * Windows: libuv's os.cpus() reads NtQuerySystemInformation
 * (SystemProcessorPerformanceInformation): user, kernel − idle as sys, idle,
 * interrupt time as irq — the counters Task Manager's CPU graph is built on.
 */
export async function readCpuCountersWin32(): Promise<CpuCounters> {
  return cpuCountersFromOsCpus(cpus());
}
