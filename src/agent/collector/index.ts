import { UnavailableError } from "../../errors.js";
import { readCpuCountersDarwin } from "./cpu_darwin.js";
import { readCpuCountersLinux } from "./cpu_linux.js";
import { readCpuCountersWin32 } from "./cpu_win32.js";
import { readDisksDarwin } from "./disk_darwin.js";
import { type DiskCollectResult, readDisksLinux } from "./disk_linux.js";
import { readDisksWin32 } from "./disk_win32.js";
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
      { timeout: 15_000, maxBuffer: 4 * 1024 * 1024, windowsHide: true, encoding: "utf8" },
      (err, stdout) => (err ? reject(err) : resolve(stdout)),
    );
  });
};

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
    case "win32":
      return {
        readCpuCounters: readCpuCountersWin32,
        readMemory: readMemoryWin32,
        readDisks: (filter) => readDisksWin32(run, filter),
      };
    default:
      throw new UnsupportedPlatformError(
        `the agent collects metrics on linux, darwin and win32, not on ${platform}`,
      );
  }
}
