import { cpus } from "node:os";
import { cpuCountersFromOsCpus } from "./cpu.js";
import type { CpuCounters } from "./types.js";

/**
 * macOS: libuv's os.cpus() reads host_processor_info (CPU_STATE_USER, NICE,
 * SYSTEM, IDLE ticks converted to ms); macOS has no iowait state.
 */
export async function readCpuCountersDarwin(): Promise<CpuCounters> {
  return cpuCountersFromOsCpus(cpus());
}
