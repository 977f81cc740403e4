import { freemem, totalmem } from "node:os";
import { MemoryParseError, memoryReading } from "./memory.js";
import type { MemoryReading } from "./types.js";

/**
 * Windows: libuv's os.totalmem()/os.freemem() are GlobalMemoryStatusEx's
 * ullTotalPhys and ullAvailPhys — "Available" in Task Manager (standby +
 * free pages), so used = total − available matches its "In use".
 */
export async function readMemoryWin32(): Promise<MemoryReading> {
  return memoryReading(totalmem(), freemem());
}

/**
 * Parses `Get-CimInstance Win32_OperatingSystem | Format-List TotalVisibleMemorySize,FreePhysicalMemory`
 * or `wmic OS get FreePhysicalMemory,TotalVisibleMemorySize /Value` (both KiB),
 * kept for tools that capture these outputs (and to document the meaning).
 */
export function parseWin32OperatingSystem(text: string): MemoryReading {
  const value = (name: string): number | undefined => {
    const m = new RegExp(`^\\s*${name}\\s*[:=]\\s*(\\d+)\\s*$`, "m").exec(text);
    return m ? Number(m[1]) : undefined;
  };
  const total = value("TotalVisibleMemorySize");
  const free = value("FreePhysicalMemory");
  if (total === undefined || free === undefined) {
    throw new MemoryParseError("output lacks TotalVisibleMemorySize or FreePhysicalMemory");
  }
  return memoryReading(total * 1024, free * 1024);
}
