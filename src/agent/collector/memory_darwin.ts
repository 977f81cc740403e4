import { MemoryParseError, memoryReading } from "./memory.js";
import type { CommandRunner, MemoryReading } from "./types.js";

/**
 * macOS: total from `sysctl -n hw.memsize`, available from `vm_stat`
 * as (Pages free + Pages inactive + Pages speculative) × page size — the pages
 * the kernel can hand out without compressing or swapping, the same
 * definition psutil uses for `available` on macOS.
 */
export function parseVmStat(vmStatText: string, memsizeText: string): MemoryReading {
  const total = Number(memsizeText.trim());
  if (!Number.isSafeInteger(total) || total <= 0) {
    throw new MemoryParseError(`'sysctl -n hw.memsize' printed '${memsizeText.trim()}', expected bytes`);
  }
  const pageSizeMatch = /page size of (\d+) bytes/.exec(vmStatText);
  if (!pageSizeMatch) throw new MemoryParseError("vm_stat output has no 'page size of N bytes' header");
  const pageSize = Number(pageSizeMatch[1]);
  const pages = new Map<string, number>();
  for (const line of vmStatText.split("\n")) {
    const m = /^"?([^":]+)"?:\s+(\d+)\.?\s*$/.exec(line.trim());
    if (m) pages.set(m[1]!.trim(), Number(m[2]));
  }
  const free = pages.get("Pages free");
  const inactive = pages.get("Pages inactive");
  if (free === undefined || inactive === undefined) {
    throw new MemoryParseError("vm_stat output lacks 'Pages free' or 'Pages inactive'");
  }
  const speculative = pages.get("Pages speculative") ?? 0;
  return memoryReading(total, (free + inactive + speculative) * pageSize);
}

export async function readMemoryDarwin(run: CommandRunner): Promise<MemoryReading> {
  const [vmStat, memsize] = await Promise.all([run("vm_stat", []), run("sysctl", ["-n", "hw.memsize"])]);
  return parseVmStat(vmStat, memsize);
}
