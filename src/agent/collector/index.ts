import { UnavailableError } from "../../errors.js";
import { readCpuCountersDarwin } from "./cpu_darwin.js";
import { readCpuCountersLinux } from "./cpu_linux.js";
import { readCpuCountersWin32 } from "./cpu_win32.js";
import { readDisksDarwin } from "./disk_darwin.js";
import { type DiskCollectResult, readDisksLinux } from "./disk_linux.js";
import { readDisksWin32, Win32DriveList } from "./disk_win32.js";
import { readMemoryDarwin } from "./memory_darwin.js";
import { readMemoryLinux } from "./memory_linux.js";
import { readMemoryWin32 } from "./memory_win32.js";
import type { CommandRunner, CpuCounters, DiskFilter, MemoryReading } from "./types.js";

export * from "./cpu.js";
export type { DiskCollectResult } from "./disk_linux.js";
export * from "./types.js";

export class UnsupportedPlatformError extends UnavailableError {}

/** Runs a command with a deadline; output is small (vm_stat, df, a CSV of drives). */
export const runCommand: CommandRunner = async (command, args) => {
  // Only macOS and Windows run commands; Linux never loads child_process.
  const { execFile } = await import("node:child_process");
  return new Promise((resolve, reject) => {
    execFile(
      command,
      [...args],
      { timeout: 15_000, maxBuffer: 4 * 1024 * 1024, windowsHide: true, encoding: "buffer" },
      (err, stdout) => (err ? reject(err) : resolve(decodeOutput(stdout))),
    );
  });
};

/** wmic writes UTF-16LE (with a BOM) into a pipe; everything else here writes UTF-8. */
export function decodeOutput(bytes: Buffer): string {
  const utf16 =
    (bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes.length >= 4 && bytes[1] === 0 && bytes[3] === 0);
  return (utf16 ? bytes.toString("utf16le") : bytes.toString("utf8")).replace(/^\uFEFF/, "");
}

/** The three readings for one platform. */
export interface PlatformCollector {
  readCpuCounters(): Promise<CpuCounters>;
  readMemory(): Promise<MemoryReading>;
  readDisks(filter: DiskFilter): Promise<DiskCollectResult>;
}

export function platformCollector(
  platform: NodeJS.Platform = process.platform,
  run: CommandRunner = runCommand,
): PlatformCollector {
  switch (platform) {
    case "linux":
      return {
        readCpuCounters: () => readCpuCountersLinux(),
        readMemory: () => readMemoryLinux(),
        readDisks: (filter) => readDisksLinux(filter),
      };
    case "darwin":
      return {
        readCpuCounters: readCpuCountersDarwin,
        readMemory: () => readMemoryDarwin(run),
        readDisks: (filter) => readDisksDarwin(run, filter),
      };
    case "win32": {
      const drives = new Win32DriveList(run);
      return {
        readCpuCounters: readCpuCountersWin32,
        readMemory: readMemoryWin32,
        readDisks: (filter) => readDisksWin32(drives, filter),
      };
    }
    default:
      throw new UnsupportedPlatformError(
        `the agent collects metrics on linux, darwin and win32, not on ${platform}`,
      );
  }
}
