/**
 * Sealed hours (docs/report.md, Retention) take late samples exactly once,
 * through the upload API of `central serve`, on SQLite and PostgreSQL, with
 * the real clock: the same file again changes nothing, the same samples in
 * another file after the hour was sealed are not counted twice, and a late
 * sample before, between or after the counted ones gives the figures of a
 * fresh aggregation of all the rows (aggregate/rows.ts).
 */
import { gzipSync } from "node:zlib";
import { beforeEach, describe, expect, it } from "vitest";
import { aggregateRows } from "../../../src/central/aggregate/rows.js";
import { localDays } from "../../../src/central/aggregate/week.js";
import { startCentral } from "../../../src/central/central-process.js";
import { loadCentralConfig } from "../../../src/central/config.js";
import { createAgentToken } from "../../../src/central/http/app.js";
import type { DayReport } from "../../../src/central/model/report.js";
import type { WeeklyReport } from "../../../src/central/report/index.js";
import { DEFAULT_RETENTION, type RetentionSettings, runRetention } from "../../../src/central/retention.js";
import type { PgStore } from "../../../src/central/storage/postgres/pg-store.js";
import type { SqliteStore } from "../../../src/central/storage/sqlite/sqlite-store.js";
import type { Storage } from "../../../src/central/storage/store.js";
import { type MetricRow, serializeMetricsCsv } from "../../../src/protocol/index.js";
import { storeBackends } from "../../helpers/store-backends.js";
import {
  DAY_MS,
  distinctSamples,
  isoWeekContaining,
  REPORT_TZ,
  sampleAt,
  storedRows,
  weekReport,
} from "./helpers.js";

const BACKENDS = await storeBackends();
const HOUR = 3_600_000;
const MINUTE = 60_000;

/** Samples at :05, :15 … :55 of each hour of [from, from + hours). */
function offsetSamples(server: string, from: number, hours: number): MetricRow[] {
  const rows: MetricRow[] = [];
  for (let ts = from + 5 * MINUTE; ts < from + hours * HOUR; ts += 10 * MINUTE)
    rows.push(...sampleAt(server, ts));
  return rows;
}

async function post(url: string, token: string, rows: readonly MetricRow[]) {
  const res = await fetch(new URL("/api/v1/metrics", url), {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "text/csv", "content-encoding": "gzip" },
    body: gzipSync(serializeMetricsCsv(rows)),
  });
  const body = (await res.json()) as { upload_id: string; rows: number; duplicates: number };
  expect(res.status, JSON.stringify(body)).toBe(201);
  return body;
}

/** The report without the instant it was generated at, for comparing two builds. */
function comparable(r: WeeklyReport): Omit<WeeklyReport, "generated_at"> {
  const { generated_at: _, ...rest } = r;
  return rest;
}

/** The days of `server` in `report`. */
function daysOf(report: WeeklyReport, server: string): DayReport[] {
  const s = report.servers.find((x) => x.server === server);
  if (s === undefined) throw new Error(`${server} is not in the report of ${report.week}`);
  return s.days;
}

/**
 * The report's days equal a fresh aggregation of `rows` (every row ever
 * accepted): counts, extremes and "last sample" figures exactly, means to
 * floating-point rounding (a sealed hour adds late samples after the
 * others, not in timestamp order).
 */
function expectFreshFigures(report: WeeklyReport, server: string, rows: readonly MetricRow[]): void {
  const span = localDays(report.from.slice(0, 10), 7, REPORT_TZ);
  const fresh = aggregateRows(rows, span).get(server)!;
  const got = daysOf(report, server);
  expect(got.map((d) => [d.date, d.samples])).toEqual(fresh.map((d) => [d.date, d.samples]));
  got.forEach((d, i) => {
    const f = fresh[i]!;
    expect(d.cpu.peak).toBe(f.cpu.peak);
    expect(d.memory.total_bytes).toBe(f.memory.total_bytes);
    expect(d.memory.percent_peak).toBe(f.memory.percent_peak);
    expect(d.disks).toEqual(f.disks);
    for (const [a, b] of [
      [d.cpu.avg, f.cpu.avg],
      [d.memory.used_avg_bytes, f.memory.used_avg_bytes],
      [d.memory.available_avg_bytes, f.memory.available_avg_bytes],
      [d.memory.percent_avg, f.memory.percent_avg],
    ] as const) {
      if (b === null) expect(a).toBeNull();
      else expect(Math.abs(a! - b)).toBeLessThanOrEqual(Math.abs(b) * 1e-12);
    }
  });
}

/** Deletes the seen sets of a server, as a database sealed before seen sets existed would have none. */
async function forgetSeenSets(store: Storage, server: string): Promise<void> {
  if (store.kind === "postgres") {
    await (store as PgStore).pool.query("DELETE FROM rollup_hour_seen WHERE server = $1", [server]);
  } else {
    (store as SqliteStore).db.prepare("DELETE FROM rollup_hour_seen WHERE server = ?").run(server);
  }
}

describe.each(BACKENDS)("sealed hours on $name", ({ skipReason, make }) => {
  beforeEach((ctx) => {
    if (skipReason !== undefined) ctx.skip(skipReason);
  });

  it("take late samples once: replays, the same samples in other files, samples before, between and after", async () => {
    const t = await make();
    const config = loadCentralConfig({
      SRVUTIL_DATA_DIR: t.dir,
      SRVUTIL_LISTEN: "127.0.0.1:0",
      SRVUTIL_REPORT_TZ: REPORT_TZ,
      SRVUTIL_REPORT_CRON: "off",
    });
    // The retention job is run by hand here, with the real clock, so that each step is known.
    const central = await startCentral(config, { store: t.store, jobs: [] });
    const store = t.store;
    const retention = (settings: RetentionSettings = config.retention) =>
      runRetention(store, settings, { now: Date.now(), receivedMetricsDir: config.paths.receivedMetrics });
    const report = async (week: string) => weekReport(store, week);
    try {
      await retention();

      // 1. Hours sealed by the prune step: uploaded while recent (34 days old, inside the raw
      //    window), then a retention with a 33-day raw window seals them from their raw rows.
      const sealed = "seal-01";
      const sealedToken = await createAgentToken(store, sealed);
      const h0 = Math.floor((Date.now() - 34 * DAY_MS) / HOUR) * HOUR;
      const first = offsetSamples(sealed, h0, 12);
      const week = isoWeekContaining(h0).week;
      await post(central.url, sealedToken, first);
      expect(daysOf(await report(week), sealed).reduce((n, d) => n + d.samples, 0)).toBe(72);
      const run = await retention({ ...DEFAULT_RETENTION, rawDays: 33 });
      expect(run.rollups.hoursSealed).toBeGreaterThanOrEqual(12);
      expect(await storedRows(store, sealed, h0, h0 + 12 * HOUR)).toBe(0);
      const afterSeal = await report(week);
      expectFreshFigures(afterSeal, sealed, first);

      // The same file again: a replay, nothing changes.
      const replay = await post(central.url, sealedToken, first);
      expect(replay.duplicates).toBe(replay.rows);
      expect(comparable(await report(week))).toEqual(comparable(afterSeal));

      // The same samples in another file (another order, so another SHA-256), plus three late
      // ones in hour 3: before its first counted sample, between two, and after its last.
      const h3 = h0 + 3 * HOUR;
      const late = [h3, h3 + 10 * MINUTE, h3 + 58 * MINUTE].flatMap((ts) => sampleAt(sealed, ts));
      const other = [...first].reverse().concat(late);
      const stored = await post(central.url, sealedToken, other);
      expect(stored.duplicates).toBe(0); // the raw rows were pruned: every row is stored again
      const withLate = await report(week);
      expect(daysOf(withLate, sealed).reduce((n, d) => n + d.samples, 0)).toBe(75);
      expectFreshFigures(withLate, sealed, [...first, ...late]);
      const lateHour = (await store.rollups.readHourly(sealed, h3, h3 + HOUR))[0]!;
      expect(lateHour).toMatchObject({ samples: 9, firstTs: h3, lastTs: h3 + 58 * MINUTE });

      // The next retention prunes the late rows; the figures stay. Sending any of it again counts nothing.
      await retention({ ...DEFAULT_RETENTION, rawDays: 33 });
      expect(await storedRows(store, sealed, h0, h0 + 12 * HOUR)).toBe(0);
      expect(comparable(await report(week))).toEqual(comparable(withLate));
      await post(central.url, sealedToken, [...late, ...first.slice(0, 20)]);
      expect(comparable(await report(week))).toEqual(comparable(withLate));

      // 2. Hours sealed before anything arrived for them (six weeks old: no bucket, no seen set).
      const lateServer = "late-01";
      const lateToken = await createAgentToken(store, lateServer);
      const d0 = Math.floor((Date.now() - 42 * DAY_MS) / DAY_MS) * DAY_MS;
      const lateWeek = isoWeekContaining(d0).week;
      const f1 = offsetSamples(lateServer, d0, 24);
      await post(central.url, lateToken, f1);
      const r1 = await report(lateWeek);
      expect(daysOf(r1, lateServer).reduce((n, d) => n + d.samples, 0)).toBe(distinctSamples(f1));
      expectFreshFigures(r1, lateServer, f1);
      // Before retention prunes f1's rows: the same samples again (deduplicated by the samples'
      // key) and two between counted ones.
      const between = [d0 + 7 * HOUR + 30 * MINUTE, d0 + 20 * HOUR].flatMap((ts) => sampleAt(lateServer, ts));
      await post(central.url, lateToken, [...f1].reverse().concat(between));
      await retention();
      expect(await storedRows(store, lateServer, d0, d0 + DAY_MS)).toBe(0);
      // After: f1's samples once more in another file, and one new one.
      const more = sampleAt(lateServer, d0 + 23 * HOUR + 59 * MINUTE + 59_500); // not on a whole second
      await post(central.url, lateToken, [...more, ...f1.slice(40)]);
      await post(central.url, lateToken, f1); // a replay of the first file
      const r2 = await report(lateWeek);
      expect(daysOf(r2, lateServer).reduce((n, d) => n + d.samples, 0)).toBe(distinctSamples(f1) + 3);
      expectFreshFigures(r2, lateServer, [...f1, ...between, ...more]);

      // 3. A bucket sealed before seen sets existed (an upgraded central): its first-to-last range
      //    stands in for its seen set, so nothing in it is counted twice; later samples still count.
      await forgetSeenSets(store, lateServer);
      const rangeHour = d0 + 5 * HOUR;
      await post(central.url, lateToken, [
        ...f1.filter((r) => r.timestamp >= rangeHour && r.timestamp < rangeHour + HOUR),
        ...sampleAt(lateServer, rangeHour + 30 * MINUTE), // inside the range: taken as counted
        ...sampleAt(lateServer, rangeHour + 59 * MINUTE), // after the last counted sample
      ]);
      const r3 = await report(lateWeek);
      expect(daysOf(r3, lateServer).reduce((n, d) => n + d.samples, 0)).toBe(distinctSamples(f1) + 4);
      expectFreshFigures(r3, lateServer, [
        ...f1,
        ...between,
        ...more,
        ...sampleAt(lateServer, rangeHour + 59 * MINUTE),
      ]);
    } finally {
      await central.close();
      await t.cleanup();
    }
  }, 180_000);
});
