import { readFile } from "node:fs/promises";
import { SrvutilError } from "../../errors.js";
import type { CpuCounters } from "./types.js";

export class ProcStatParseError extends SrvutilError {
  constructor(message: string) {
    // The OS printed something we cannot read: our bug or an OS we do not know yet.
    super("internal", message);
  }
}

/**
 * Parses the aggregate `cpu` line of /proc/stat:
 * `cpu user nice system idle iowait irq softirq steal guest guest_nice` (USER_HZ ticks).
 *
 * total = user + nice + system + idle + iowait + irq + softirq + steal. guest
 * and guest_nice are left out because the kernel already counts them inside
 * user and nice. busy = total − idle − iowait: a CPU waiting for I/O is idle
 * (it could run other work), which is how top, psutil and node_exporter's
 * usual queries count it.
 */
export function parseProcStat(text: string): CpuCounters {
  const line = text.split("\n").find((l) => l.startsWith("cpu "));
  if (line === undefined) throw new ProcStatParseError("/proc/stat has no aggregate 'cpu' line");
  const fields = line.trim().split(/\s+/).slice(1).map(Number);
  if (fields.length < 4 || fields.some((f) => !Number.isFinite(f) || f < 0)) {
    throw new ProcStatParseError(`/proc/stat 'cpu' line is malformed: ${line}`);
  }
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = fields;
  const total = user + nice + system + idle + iowait + irq + softirq + steal;
  return { busy: total - idle - iowait, total };
}

export async function readCpuCountersLinux(procStatPath = "/proc/stat"): Promise<CpuCounters> {
  return parseProcStat(await readFile(procStatPath, "utf8"));
}
