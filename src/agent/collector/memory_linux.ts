import { readFile } from "node:fs/promises";
import { MemoryParseError, memoryReading } from "./memory.js";
import type { MemoryReading } from "./types.js";

/**
 * Parses /proc/meminfo. available = MemAvailable (the kernel's own estimate of
 * memory usable without swapping, since 3.14); on older kernels it falls back
 * to MemFree + Buffers + Cached, which is what `free` did before MemAvailable.
 */
export function parseMeminfo(text: string): MemoryReading {
  const kib = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = /^([A-Za-z0-9_()]+):\s+(\d+)(?:\s+kB)?\s*$/.exec(line);
    if (m) kib.set(m[1]!, Number(m[2]));
  }
  const total = kib.get("MemTotal");
  if (total === undefined) throw new MemoryParseError("/proc/meminfo has no MemTotal line");
  let available = kib.get("MemAvailable");
  if (available === undefined) {
    const free = kib.get("MemFree");
    if (free === undefined) throw new MemoryParseError("/proc/meminfo has neither MemAvailable nor MemFree");
    available = free + (kib.get("Buffers") ?? 0) + (kib.get("Cached") ?? 0);
  }
  return memoryReading(total * 1024, available * 1024);
}

export async function readMemoryLinux(meminfoPath = "/proc/meminfo"): Promise<MemoryReading> {
  return parseMeminfo(await readFile(meminfoPath, "utf8"));
}
