import { DateTime } from "luxon";
import { buildWeeklyReport } from "../../../src/central/report/index.js";
import type { Storage } from "../../../src/central/storage/store.js";
import type { MetricRow } from "../../../src/protocol/index.js";

/**
 * Helpers of the late-data tests (issue 24, point 1). Every date comes from
 * the real clock: a test that picks a date convenient for the code hides
 * exactly the bug these tests are about.
 */

export const DAY_MS = 86_400_000;
export const REPORT_TZ = "Europe/Berlin";

/** The ISO week (in `tz`) that contains `ts`: its name and its bounds (epoch ms). */
export interface IsoWeek {
  week: string;
  from: number;
  to: number;
}

export function isoWeekContaining(ts: number, tz = REPORT_TZ): IsoWeek {
  const start = DateTime.fromMillis(ts, { zone: tz }).startOf("week");
  const end = start.plus({ weeks: 1 }).startOf("week");
  return {
    week: `${start.weekYear}-W${String(start.weekNumber).padStart(2, "0")}`,
    from: start.toMillis(),
    to: end.toMillis(),
  };
}

/** The ISO week of the instant `days` days before now. */
export function weekDaysAgo(days: number, now = Date.now(), tz = REPORT_TZ): IsoWeek {
  return isoWeekContaining(now - days * DAY_MS, tz);
}

/**
 * Samples of one server every `stepMs` from `from` (inclusive) to `to`
 * (exclusive), on two mounts, with figures that vary with the timestamp (so
 * sums and extremes depend on which samples were counted).
 */
export function sampleRows(server: string, from: number, to: number, stepMs: number): MetricRow[] {
  const rows: MetricRow[] = [];
  for (let ts = from; ts < to; ts += stepMs) rows.push(...sampleAt(server, ts));
  return rows;
}

/** The rows (one per mount) of the sample of `server` at `ts`. */
export function sampleAt(server: string, ts: number): MetricRow[] {
  const k = Math.floor(ts / 1000);
  const cpu = (k % 997) / 10; // 0 .. 99.6
  const memTotal = 16_000_000_000;
  const memUsed = 4_000_000_000 + (k % 7919) * 1_000_000;
  const base = {
    timestamp: ts,
    server,
    cpuPercent: cpu,
    cpuPeakPercent: Math.min(100, cpu + 0.5),
    intervalSeconds: 600,
    memTotalBytes: memTotal,
    memUsedBytes: memUsed,
    memAvailableBytes: memTotal - memUsed,
  };
  return [
    {
      ...base,
      diskMount: "/",
      diskTotalBytes: 100_000_000_000,
      diskUsedBytes: 40_000_000_000 + (k % 1009) * 1_000_000,
      diskFreeBytes: 50_000_000_000,
    },
    {
      ...base,
      diskMount: "/data",
      diskTotalBytes: 2_000_000_000_000,
      diskUsedBytes: 900_000_000_000 + (k % 613) * 1_000_000,
      diskFreeBytes: 1_000_000_000_000,
    },
  ];
}

/** Splits rows into one file per UTC day (as an agent's backlog or an archive would be). */
export function perDay(rows: readonly MetricRow[]): MetricRow[][] {
  const files = new Map<number, MetricRow[]>();
  for (const r of rows) {
    const d = Math.floor(r.timestamp / DAY_MS);
    let f = files.get(d);
    if (f === undefined) {
      f = [];
      files.set(d, f);
    }
    f.push(r);
  }
  return [...files.values()];
}

/** Distinct timestamps among `rows`. */
export function distinctSamples(rows: readonly MetricRow[]): number {
  return new Set(rows.map((r) => r.timestamp)).size;
}

/** The report of `week` in the report zone, built the way `report build` builds it (real now). */
export function weekReport(store: Storage, week: string) {
  return buildWeeklyReport(store, { week, timeZone: REPORT_TZ, now: Date.now() });
}

/** Samples of `server` in the report of `week` (the sum over its days; 0 when it is not in the report). */
export async function reportedSamples(store: Storage, week: string, server: string): Promise<number> {
  const report = await weekReport(store, week);
  const s = report.servers.find((x) => x.server === server);
  return s === undefined ? 0 : s.days.reduce((n, d) => n + d.samples, 0);
}

/** Raw sample rows of `server` stored in [from, to). */
export async function storedRows(store: Storage, server: string, from: number, to: number): Promise<number> {
  let n = 0;
  for await (const _ of store.samples({ from, to, servers: [server] })) n++;
  return n;
}
