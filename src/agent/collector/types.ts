/**
 * What the platform collectors return. Every figure is in bytes or in the
 * platform's own counter unit; percentages are computed in one place (cpu.ts)
 * so the same arithmetic applies on every platform.
 */

/**
 * Cumulative CPU time since boot, summed over all CPUs, in the platform's
 * unit (USER_HZ ticks on Linux, milliseconds from os.cpus()). Only deltas
 * between two readings mean anything.
 */
export interface CpuCounters {
  /** Time spent doing work: everything except idle (and iowait on Linux). */
  busy: number;
  /** All time accounted for. */
  total: number;
}

export interface MemoryReading {
  totalBytes: number;
  /** Memory that can be given to new work without swapping (Linux MemAvailable). */
  availableBytes: number;
  /** total − available. */
  usedBytes: number;
}

export interface DiskReading {
  /** Mount point (`/`, `/data`) or drive (`C:`). */
  mount: string;
  fsType: string;
  /** Block device or source as the OS names it (for diagnostics and de-duplication). */
  device: string;
  totalBytes: number;
  /** total − free for root (df "Used"). */
  usedBytes: number;
  /** Free for unprivileged users (df "Avail"). */
  freeBytes: number;
}

/** Which filesystems become disk rows. Patterns may use `*` as a wildcard. */
export interface DiskFilter {
  /** When non-empty, only mounts matching one of these are reported. */
  includeMounts: readonly string[];
  excludeMounts: readonly string[];
  /** Filesystem types to report even though they are skipped by default (e.g. `tmpfs`). */
  includeFsTypes: readonly string[];
  /** Extra filesystem types to skip. */
  excludeFsTypes: readonly string[];
}

export const DEFAULT_DISK_FILTER: DiskFilter = {
  includeMounts: [],
  excludeMounts: [],
  includeFsTypes: [],
  excludeFsTypes: [],
};

/** Runs an external command and returns its stdout (injectable so parsers are testable). */
export type CommandRunner = (command: string, args: readonly string[]) => Promise<string>;
