import type { MetricRow } from "../protocol/index.js";
import type { DiskReading, MemoryReading } from "./collector/types.js";

/** One sample: CPU over an interval ending at `timestamp`, memory and disks at `timestamp`. */
export interface Sample {
  timestamp: number;
  cpuPercent: number;
  cpuPeakPercent: number | null;
  /** Length of the interval the CPU figure covers, seconds. */
  intervalSeconds: number | null;
  memory: MemoryReading;
  disks: DiskReading[];
}

/** Percentages keep two decimals: the CSV must stay plain decimal (no 1e-7). */
export function roundPercent(value: number): number {
  return Math.min(100, Math.max(0, Math.round(value * 100) / 100));
}

/** One CSV row per disk; CPU and memory repeat on each (the CSV v1 contract). */
export function rowsFromSample(sample: Sample, server: string): MetricRow[] {
  const interval =
    sample.intervalSeconds === null
      ? null
      : Math.max(0.001, Math.round(sample.intervalSeconds * 1000) / 1000);
  return sample.disks.map((d) => ({
    timestamp: sample.timestamp,
    server,
    cpuPercent: roundPercent(sample.cpuPercent),
    cpuPeakPercent: sample.cpuPeakPercent === null ? null : roundPercent(sample.cpuPeakPercent),
    intervalSeconds: interval,
    memTotalBytes: sample.memory.totalBytes,
    memUsedBytes: sample.memory.usedBytes,
    memAvailableBytes: sample.memory.availableBytes,
    diskMount: d.mount,
    diskTotalBytes: d.totalBytes,
    diskUsedBytes: d.usedBytes,
    diskFreeBytes: d.freeBytes,
  }));
}
