import { type MetricRow, serializeMetricsCsv } from "../../src/protocol/index.js";

/**
 * The rows both the HTTP load and the raw-SQLite baseline use, so the two
 * columns of the table measure the same work.
 */

export const FLEET_SAMPLES = 10; // × 2 mounts = 20 rows per file
export const BACKLOG_SAMPLES = 5000; // × 2 mounts = 10,000 rows per file
const MOUNTS = ["/", "/data"];

export function fleetServer(i: number): string {
  return `fleet-${String(i).padStart(5, "0")}`;
}

export function backlogServer(kind: "plain" | "gzip", i: number): string {
  return `backlog-${kind}-${String(i).padStart(3, "0")}`;
}

/** `samples` timestamps one minute apart from `startMs`, each with two mounts. */
export function rowsFor(server: string, startMs: number, samples: number): MetricRow[] {
  const rows: MetricRow[] = [];
  for (let i = 0; i < samples; i++) {
    const ts = startMs + i * 60_000;
    const cpu = (i * 7.3) % 100;
    for (const m of MOUNTS) {
      rows.push({
        timestamp: ts,
        server,
        cpuPercent: Math.round(cpu * 10) / 10,
        cpuPeakPercent: Math.min(100, Math.round(cpu * 15) / 10),
        intervalSeconds: 60,
        memTotalBytes: 16_000_000_000,
        memUsedBytes: 6_000_000_000 + i * 1000,
        memAvailableBytes: 10_000_000_000 - i * 1000,
        diskMount: m,
        diskTotalBytes: 500_000_000_000,
        diskUsedBytes: 200_000_000_000 + i,
        diskFreeBytes: 280_000_000_000 - i,
      });
    }
  }
  return rows;
}

/** Fleet files sit in the last days (inside any skew window); backlog files a month back. */
export const FLEET_START = Date.UTC(2026, 10, 20, 0, 0, 0);
export const BACKLOG_START = Date.UTC(2026, 9, 1, 0, 0, 0);

export function fleetCsv(i: number, round = 0): string {
  // Each soak round goes further back in time, so its rows are new.
  const start = FLEET_START - round * FLEET_SAMPLES * 60_000;
  return serializeMetricsCsv(rowsFor(fleetServer(i), start, FLEET_SAMPLES));
}

export function backlogCsv(kind: "plain" | "gzip", i: number): string {
  return serializeMetricsCsv(rowsFor(backlogServer(kind, i), BACKLOG_START, BACKLOG_SAMPLES));
}
