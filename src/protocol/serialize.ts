import { CANONICAL_COLUMNS, type KnownColumn, type MetricRow } from "./metrics.js";
import { formatTimestamp } from "./timestamp.js";

/** Quotes a field only when RFC 4180 requires it. */
export function csvField(value: string): string {
  if (/[",\r\n]/.test(value) || value !== value.trim()) return `"${value.replaceAll('"', '""')}"`;
  return value;
}

function cell(row: MetricRow, column: KnownColumn): string {
  switch (column) {
    case "timestamp":
      return formatTimestamp(row.timestamp);
    case "server":
      return row.server;
    case "cpu_percent":
      return String(row.cpuPercent);
    case "cpu_peak_percent":
      return row.cpuPeakPercent === null ? "" : String(row.cpuPeakPercent);
    case "interval_seconds":
      return row.intervalSeconds === null ? "" : String(row.intervalSeconds);
    case "mem_total_bytes":
      return String(row.memTotalBytes);
    case "mem_used_bytes":
      return String(row.memUsedBytes);
    case "mem_available_bytes":
      return String(row.memAvailableBytes);
    case "disk_mount":
      return csvField(row.diskMount);
    case "disk_total_bytes":
      return String(row.diskTotalBytes);
    case "disk_used_bytes":
      return String(row.diskUsedBytes);
    case "disk_free_bytes":
      return String(row.diskFreeBytes);
  }
}

/** Serializes rows as a CSV v1 file (canonical column order, LF line ends). */
export function serializeMetricsCsv(rows: readonly MetricRow[]): string {
  const lines = [CANONICAL_COLUMNS.join(",")];
  for (const row of rows) lines.push(CANONICAL_COLUMNS.map((c) => cell(row, c)).join(","));
  return `${lines.join("\n")}\n`;
}
