/**
 * `npm run bench:rollups`: what keeping the rollups current costs after a
 * bulk load, and what it buys the first report, on SQLite and PostgreSQL in
 * one run (SQLite is the baseline of the ratios).
 *
 * Per backend, in a fresh database: a fleet of SERVERS × DAYS × INTERVAL-s
 * samples (two mounts) goes in through store.ingest, one upload per server
 * and day, 4 in flight (what `central import` does after parsing); then
 * catchUpRollups (what `central import` now runs before it returns); then
 * the first report of the last full week (its daily rows must come from the
 * rollups) and a second, warm one. SRVUTIL_BENCH_RAW=1 adds the report from
 * raw rows.
 *
 * Env: SRVUTIL_BENCH_SERVERS (100), SRVUTIL_BENCH_DAYS (28),
 * SRVUTIL_BENCH_INTERVAL_SECONDS (60), SRVUTIL_BENCH_PG_URL (the local
 * server; "off" for SQLite only).
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { catchUpRollups } from "../../src/central/aggregate/rollup-maintainer.js";
import { resolveReportWeek } from "../../src/central/aggregate/week.js";
import { buildWeeklyReport } from "../../src/central/report/index.js";
import { openStorage } from "../../src/central/storage/open.js";
import { PgStore } from "../../src/central/storage/postgres/pg-store.js";
import type { Storage } from "../../src/central/storage/store.js";
import type { MetricRow } from "../../src/protocol/index.js";

const num = (k: string, d: number) => Number(process.env[k] ?? d);
const SERVERS = num("SRVUTIL_BENCH_SERVERS", 100);
const DAYS = num("SRVUTIL_BENCH_DAYS", 28);
const INTERVAL = num("SRVUTIL_BENCH_INTERVAL_SECONDS", 60);
const PG_URL = process.env.SRVUTIL_BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const RAW = process.env.SRVUTIL_BENCH_RAW === "1";
const TZ = "Europe/Berlin";
const WEEK = "2026-W47";
const GIB = 1024 ** 3;

interface Result {
  backend: string;
  rows: number;
  ingestMs: number;
  catchUpMs: number;
  hours: number;
  firstMs: number;
  warmMs: number;
  rawMs: number | null;
}

/** One server-day of samples: deterministic, two mounts, a daily CPU swing. */
function dayRows(server: number, dayStart: number): MetricRow[] {
  const rows: MetricRow[] = [];
  for (let ts = dayStart; ts < dayStart + 86_400_000; ts += INTERVAL * 1000) {
    const phase = ((ts / 3_600_000) % 24) / 24;
    const cpu = 10 + ((server * 7) % 40) + 20 * Math.sin(phase * 2 * Math.PI) + ((ts / 60_000) % 7) / 3;
    const used = Math.round((4 + ((server + ts / 3_600_000) % 5) / 2) * GIB);
    for (const [mount, total] of [
      ["/", 100 * GIB],
      ["/data", 500 * GIB],
    ] as const) {
      rows.push({
        timestamp: ts,
        server: `srv-${String(server).padStart(4, "0")}`,
        cpuPercent: cpu,
        cpuPeakPercent: cpu + 5,
        intervalSeconds: INTERVAL,
        memTotalBytes: 16 * GIB,
        memUsedBytes: used,
        memAvailableBytes: 16 * GIB - used,
        diskMount: mount,
        diskTotalBytes: total,
        diskUsedBytes: Math.round(total * 0.4 + (ts - dayStart) * 10),
        diskFreeBytes: Math.round(total * 0.6 - (ts - dayStart) * 10),
      });
    }
  }
  return rows;
}

async function run(backend: string, store: Storage): Promise<Result> {
  const week = resolveReportWeek(WEEK, TZ);
  const firstDay = Math.floor(week.to / 86_400_000) * 86_400_000 - DAYS * 86_400_000;
  let rows = 0;
  let upload = 0;
  const jobs: (() => Promise<void>)[] = [];
  for (let s = 0; s < SERVERS; s++) {
    for (let d = 0; d < DAYS; d++) {
      jobs.push(async () => {
        const batch = dayRows(s, firstDay + d * 86_400_000);
        const id = `bench-${upload++}`;
        await store.ingest(
          {
            uploadId: id,
            server: batch[0]!.server,
            receivedAt: Date.now(),
            rawPath: "bench",
            sha256: id,
            bytes: 0,
          },
          batch,
        );
        rows += batch.length;
      });
    }
  }
  let started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < jobs.length) await jobs[next++]!();
    }),
  );
  const ingestMs = performance.now() - started;
  started = performance.now();
  const caught = await catchUpRollups(store.rollups, TZ);
  const catchUpMs = performance.now() - started;
  const now = week.to + 86_400_000;
  const time = async (source: "auto" | "raw"): Promise<number> => {
    const t0 = performance.now();
    const report = await buildWeeklyReport(store, { week: WEEK, timeZone: TZ, now, source });
    if (report.servers.length !== SERVERS)
      throw new Error(`${backend}: ${report.servers.length} servers in the report`);
    return performance.now() - t0;
  };
  const firstMs = await time("auto");
  const warmMs = await time("auto");
  const rawMs = RAW ? await time("raw") : null;
  process.stderr.write(`${backend}: done\n`);
  return { backend, rows, ingestMs, catchUpMs, hours: caught.hours, firstMs, warmMs, rawMs };
}

const fmt = (ms: number) => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`);

async function main(): Promise<void> {
  const results: Result[] = [];
  const dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-bench-rollups-"));
  try {
    const sqlite = await openStorage(`sqlite:${path.join(dir, "bench.db")}`);
    try {
      results.push(await run("SQLite", sqlite));
    } finally {
      await sqlite.close();
    }
    if (PG_URL !== "off") {
      const schema = `srvutil_bench_rollups_${process.pid}`;
      const admin = new pg.Client({ connectionString: PG_URL });
      await admin.connect();
      await admin.query(`CREATE SCHEMA ${schema}`);
      const store = new PgStore(PG_URL, { schema });
      try {
        await store.init();
        results.push(await run("PostgreSQL", store));
      } finally {
        await store.close();
        await admin.query(`DROP SCHEMA ${schema} CASCADE`);
        await admin.end();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const base = results[0]!;
  const head = [
    "backend",
    "rows",
    "ingest",
    "rollup catch-up (hours)",
    "first report",
    "warm report",
    "first/warm",
    "warm vs SQLite",
  ];
  if (RAW) head.push("report from raw");
  const table = results.map((r) => {
    const row = [
      r.backend,
      r.rows.toLocaleString("en"),
      fmt(r.ingestMs),
      `${fmt(r.catchUpMs)} (${r.hours.toLocaleString("en")})`,
      fmt(r.firstMs),
      fmt(r.warmMs),
      `${(r.firstMs / r.warmMs).toFixed(2)}×`,
      `${(r.warmMs / base.warmMs).toFixed(2)}×`,
    ];
    if (RAW) row.push(r.rawMs === null ? "" : fmt(r.rawMs));
    return row;
  });
  const widths = head.map((h, i) => Math.max(h.length, ...table.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  console.log(
    `\nbench:rollups: ${SERVERS} servers × ${DAYS} days × ${INTERVAL} s, 2 mounts; week ${WEEK} in ${TZ}; Node ${process.version}`,
  );
  console.log(line(head));
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  for (const r of table) console.log(line(r));
}

await main();
