/**
 * `npm run bench:report`: report build time on SQLite and on PostgreSQL side
 * by side, from the rollups (first build and warm) and from raw rows (the
 * reference), with ratios measured in the same run.
 *
 * Per fleet and backend, in a fresh database (SQLite file; PostgreSQL: a
 * throwaway schema on BENCH_PG_URL, default the local server):
 * 1. Ingest SERVERS × DAYS × INTERVAL-s samples (1–3 mounts each), one upload
 *    per server-day through store.ingest, 4 in flight. No CSV parsing and no
 *    HTTP (bench:ingest measures those).
 * 2. Catch the rollups up (catchUpRollups: what `central import` runs).
 * 3. In a child process per measurement (peak RSS is the build's own): JSON
 *    from rollups (first build in the zone, then warm), HTML with charts,
 *    the email, and JSON from raw rows.
 *
 * Fleets: SRVUTIL_BENCH_FLEETS, "SERVERSxDAYSxINTERVAL" comma-separated;
 * default "100x28x60" (the issue's four-week fleet). The 10,000-server floor
 * is "10000x7x3600": a report from rollups reads one bucket per (server,
 * hour) whatever the sample interval, so hourly samples give the same
 * rollup volume as 60 s ones at 1/60 of the ingest time (say so when quoting).
 * Env: BENCH_PG_URL, BENCH_PG=0 (SQLite only), SRVUTIL_BENCH_SKIP_RAW=1,
 * SRVUTIL_BENCH_RUNS (warm builds, best and range; default 3).
 *
 * It also prints the size of each database after the catch-up and the builds (tables with
 * their indexes: samples, rollups, the rest), the figure for sizing a
 * central's disk (docs/scaling.md).
 *
 * SRVUTIL_BENCH_SYNTHETIC=1 replaces steps 1–2 with seedSyntheticRollups
 * (bench/support/synthetic-rollups.ts): hour buckets for DAYS days, two mounts per
 * server, written straight into the rollup tables (no samples, so use it with
 * SRVUTIL_BENCH_SKIP_RAW=1). The report reads the same volume (one bucket per
 * server-hour, 1–3 mounts averaging 2 in the ingested fleet, and no server whose
 * hours matter there either), without the PostgreSQL catch-up, which takes
 * ~14 min at 10,000 servers. Say so when quoting.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import pg from "pg";
import { catchUpRollups } from "../../src/central/aggregate/rollup-maintainer.js";
import { resolveReportWeek } from "../../src/central/aggregate/week.js";
import { buildWeeklyReport, renderReport } from "../../src/central/report/index.js";
import { openStorage } from "../../src/central/storage/open.js";
import type { Storage } from "../../src/central/storage/store.js";
import type { MetricRow } from "../../src/protocol/index.js";
import { profileRows, randomProfile, rng } from "../../test/helpers/fleet.js";
import { pgUrlWithSchema } from "../ingest/import-compare.js";
import { DEFAULT_BENCH_PG_URL } from "../ingest/pg-bulk.js";
import { seedSyntheticRollups } from "../support/synthetic-rollups.js";

const TZ = "Europe/Berlin";
const WEEK = "2026-W47";
const NOW = Date.UTC(2026, 10, 23, 8);
const here = fileURLToPath(import.meta.url);
const PG_URL = process.env.BENCH_PG_URL ?? DEFAULT_BENCH_PG_URL;
const WITH_PG = process.env.BENCH_PG !== "0";
const RUNS = Number(process.env.SRVUTIL_BENCH_RUNS ?? 3);
const SYNTHETIC = process.env.SRVUTIL_BENCH_SYNTHETIC === "1";

interface Measurement {
  ms: number;
  maxRssMiB: number;
  servers: number;
  bytes: number;
}

type What = "rollups-json" | "rollups-html" | "rollups-email" | "raw-json";

async function measure(dbUrl: string, what: What): Promise<Measurement> {
  const store = await openStorage(dbUrl);
  const started = performance.now();
  let bytes = 0;
  const report = await buildWeeklyReport(store, {
    week: WEEK,
    timeZone: TZ,
    now: NOW,
    source: what.startsWith("raw") ? "raw" : "rollups",
  });
  if (what.endsWith("html")) bytes = (await renderReport(report, "standalone")).html.length;
  else if (what.endsWith("email")) {
    const r = await renderReport(report, "email");
    bytes = r.html.length + r.images.reduce((a, i) => a + i.content.length, 0);
  } else bytes = JSON.stringify(report).length;
  const ms = performance.now() - started;
  await store.close();
  return { ms, maxRssMiB: process.resourceUsage().maxRSS / 1024, servers: report.servers.length, bytes };
}

function child(dbUrl: string, what: What): Measurement {
  const out = execFileSync(process.execPath, ["--import", "tsx", here, "--child", dbUrl, what], {
    encoding: "utf8",
    maxBuffer: 1 << 20,
  });
  return JSON.parse(out.trim().split("\n").pop()!) as Measurement;
}

async function ingest(store: Storage, servers: number, days: number, interval: number): Promise<number> {
  const week = resolveReportWeek(WEEK, TZ);
  const from = week.to - days * 86_400_000;
  const r = rng(42);
  let rows = 0;
  const inFlight = new Set<Promise<unknown>>();
  for (let i = 0; i < servers; i++) {
    const p = randomProfile(r, `srv-${String(i).padStart(5, "0")}`);
    p.intervalSeconds = interval;
    let batch: MetricRow[] = [];
    let upload = 0;
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      const id = `bench-${i}-${upload++}`;
      const job = store.ingest(
        { uploadId: id, server: p.server, receivedAt: NOW, rawPath: "bench", sha256: id, bytes: 0 },
        batch,
      );
      rows += batch.length;
      batch = [];
      inFlight.add(job);
      void job.finally(() => inFlight.delete(job));
      if (inFlight.size >= 4) await Promise.race(inFlight);
    };
    for (const row of profileRows(p, from, week.to, i)) {
      if (
        batch.length > 0 &&
        Math.floor(row.timestamp / 86_400_000) !== Math.floor(batch[0]!.timestamp / 86_400_000)
      )
        await flush();
      batch.push(row);
    }
    await flush();
  }
  await Promise.all(inFlight);
  return rows;
}

const fmt = (ms: number): string => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`);
const range = (xs: number[]): string =>
  xs.length === 1 ? fmt(xs[0]!) : `${fmt(Math.min(...xs))} (${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))})`;

/** Bytes on disk, tables with their indexes (and TOAST on PostgreSQL). */
interface DatabaseSize {
  samples: number;
  rollups: number;
  other: number;
}

function groupSizes(perTable: { table: string; bytes: number }[]): DatabaseSize {
  const size: DatabaseSize = { samples: 0, rollups: 0, other: 0 };
  for (const { table, bytes } of perTable) {
    // PostgreSQL's weekly partitions are samples_pYYYYMMDD.
    if (table === "samples" || /^samples_p\d{8}$/.test(table)) size.samples += bytes;
    else if (table.startsWith("rollup_")) size.rollups += bytes;
    else size.other += bytes;
  }
  return size;
}

function sqliteSize(file: string): DatabaseSize {
  const db = new Database(file, { readonly: true });
  try {
    const perTable = db
      .prepare(
        'SELECT s.tbl_name AS "table", sum(d.pgsize) AS bytes FROM dbstat d JOIN sqlite_schema s ON s.name = d.name GROUP BY s.tbl_name',
      )
      .all() as { table: string; bytes: number }[];
    return groupSizes(perTable);
  } finally {
    db.close();
  }
}

async function postgresSize(admin: pg.Client, schema: string): Promise<DatabaseSize> {
  const r = await admin.query<{ table: string; bytes: string }>(
    `SELECT c.relname AS table, pg_total_relation_size(c.oid) AS bytes FROM pg_class c
     WHERE c.relnamespace = $1::regnamespace AND c.relkind = 'r'`,
    [schema],
  );
  return groupSizes(r.rows.map((x) => ({ table: x.table, bytes: Number(x.bytes) })));
}

interface BackendRun {
  size: DatabaseSize;
  rows: number;
  ingestMs: number;
  catchUpMs: number;
  first: Measurement;
  warm: Measurement[];
  html: Measurement;
  email: Measurement;
  raw: Measurement | null;
}

async function runBackend(
  backend: "sqlite" | "postgres",
  fleet: { servers: number; days: number; interval: number },
  dir: string,
  skipRaw: boolean,
): Promise<BackendRun> {
  const schema = `srvutil_bench_report_${process.pid}`;
  let dbUrl = `sqlite:${path.join(dir, `fleet-${fleet.servers}.db`)}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  if (backend === "postgres") {
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema}`);
    dbUrl = pgUrlWithSchema(PG_URL, schema);
  }
  try {
    const store = await openStorage(dbUrl);
    let t0 = performance.now();
    let rows: number;
    if (SYNTHETIC) {
      const to = resolveReportWeek(WEEK, TZ).to;
      rows = await seedSyntheticRollups(store, {
        servers: Array.from({ length: fleet.servers }, (_, i) => `srv-${String(i).padStart(5, "0")}`),
        from: to - fleet.days * 86_400_000,
        to,
        mounts: ["/", "/data"],
      });
    } else rows = await ingest(store, fleet.servers, fleet.days, fleet.interval);
    const ingestMs = performance.now() - t0;
    t0 = performance.now();
    await catchUpRollups(store.rollups, TZ);
    const catchUpMs = performance.now() - t0;
    await store.close();
    process.stderr.write(
      `bench:report ${backend} ${fleet.servers} servers: ${rows.toLocaleString("en")} rows in ${fmt(ingestMs)}, rollups caught up in ${fmt(catchUpMs)}\n`,
    );
    const first = child(dbUrl, "rollups-json");
    const warm = Array.from({ length: RUNS }, () => child(dbUrl, "rollups-json"));
    const html = child(dbUrl, "rollups-html");
    const email = child(dbUrl, "rollups-email");
    const raw = skipRaw ? null : child(dbUrl, "raw-json");
    // After the builds, which store the zone's daily rollups as a live central's would.
    const size =
      backend === "postgres"
        ? await postgresSize(admin, schema)
        : sqliteSize(path.join(dir, `fleet-${fleet.servers}.db`));
    return { size, rows, ingestMs, catchUpMs, first, warm, html, email, raw };
  } finally {
    if (backend === "postgres") {
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => {});
      await admin.end();
    }
  }
}

async function main(): Promise<void> {
  if (process.argv[2] === "--child") {
    const m = await measure(process.argv[3]!, process.argv[4] as What);
    process.stdout.write(`${JSON.stringify(m)}\n`);
    return;
  }
  const fleets = (process.env.SRVUTIL_BENCH_FLEETS ?? "100x28x60").split(",").map((f) => {
    const [servers, days, interval] = f.split("x").map(Number);
    return { servers: servers!, days: days!, interval: interval! };
  });
  const skipRaw = process.env.SRVUTIL_BENCH_SKIP_RAW === "1";
  const dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-bench-report-"));
  const table: string[][] = [];
  const sizes: string[][] = [];
  try {
    for (const fleet of fleets) {
      const label = `${fleet.servers} × ${fleet.days} d × ${fleet.interval} s`;
      const sq = await runBackend("sqlite", fleet, dir, skipRaw);
      const pgr = WITH_PG ? await runBackend("postgres", fleet, dir, skipRaw) : null;
      const ratio = (a: number, b: number | undefined) => (b === undefined ? "" : `${(b / a).toFixed(2)}×`);
      const best = (ms: Measurement[]) => Math.min(...ms.map((m) => m.ms));
      const row = (
        what: string,
        s: number,
        p: number | undefined,
        sText = fmt(s),
        pText = p === undefined ? "" : fmt(p),
      ) => table.push([label, what, sText, pText, ratio(s, p)]);
      row(
        SYNTHETIC ? "seed hour buckets (seedSyntheticRollups)" : "ingest (store.ingest, 4 in flight)",
        sq.ingestMs,
        pgr?.ingestMs,
        `${fmt(sq.ingestMs)} (${sq.rows.toLocaleString("en")} ${SYNTHETIC ? "hour buckets" : "rows"})`,
      );
      row("rollups catch-up (catchUpRollups)", sq.catchUpMs, pgr?.catchUpMs);
      row("JSON from rollups, first build", sq.first.ms, pgr?.first.ms);
      row(
        `JSON from rollups, warm (best of ${RUNS}, range)`,
        best(sq.warm),
        pgr === null ? undefined : best(pgr.warm),
        range(sq.warm.map((m) => m.ms)),
        pgr === null ? "" : range(pgr.warm.map((m) => m.ms)),
      );
      row("HTML + charts from rollups", sq.html.ms, pgr?.html.ms);
      row("email + PNG charts from rollups", sq.email.ms, pgr?.email.ms);
      if (sq.raw !== null) row("JSON from raw rows (reference)", sq.raw.ms, pgr?.raw?.ms);
      for (const [backend, run] of [["SQLite", sq] as const, ["PostgreSQL", pgr] as const]) {
        if (run === null) continue;
        const { samples, rollups, other } = run.size;
        const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
        sizes.push([
          label,
          backend,
          SYNTHETIC ? "" : `${mib(samples)} (${(samples / run.rows).toFixed(0)} B/row)`,
          `${mib(rollups)} (${(rollups / fleet.servers / 2 ** 20).toFixed(2)} MiB/server)`,
          mib(other),
          mib(samples + rollups + other),
        ]);
      }
      table.push([
        label,
        "peak RSS, warm JSON build",
        `${Math.max(...sq.warm.map((m) => m.maxRssMiB)).toFixed(0)} MiB`,
        pgr === null ? "" : `${Math.max(...pgr.warm.map((m) => m.maxRssMiB)).toFixed(0)} MiB`,
        "",
      ]);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const head = ["fleet", "measurement", "SQLite", "PostgreSQL", "PG / SQLite"];
  console.log(
    `\nbench:report — week ${WEEK} in ${TZ}, Node ${process.version}, ${os.cpus().length} cores, load ${os.loadavg()[0]!.toFixed(1)}`,
  );
  printTable(head, table);
  console.log("\nDatabase size after the catch-up and the report builds (tables with their indexes):");
  printTable(["fleet", "backend", "samples", "rollups", "other tables", "total"], sizes);
}

function printTable(head: string[], rows: string[][]): void {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  console.log(line(head));
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  for (const r of rows) console.log(line(r));
}

await main();
