/**
 * `npm run bench:footprint`: where the disk goes per server-year (issue 31),
 * on SQLite and PostgreSQL, with every retention default kept.
 *
 * 1. Per backend and round, a fresh store (SQLite file; PostgreSQL in a
 *    throwaway schema), sized once empty (the baseline subtracted below).
 * 2. SERVERS × DAYS whole UTC days ending at today's midnight of 60-s samples
 *    with 2 mounts, figures varying as an agent's do (two-decimal
 *    percentages, whole-second timestamps, millisecond intervals, byte counts in 4-KiB
 *    steps), sent as the agents send them: one CSV v1 file of 20 minutes
 *    (40 rows) per server and window, the fleet's files of a window
 *    concurrently, through the ingest `central serve` builds
 *    (createIngestService: raw copy where SRVUTIL_RAW_STORE=auto puts it,
 *    files on SQLite, raw_uploads on PostgreSQL); the rollups refreshed after
 *    each window (serve refreshes every 30 s), in the report zone (UTC).
 *    Then the rollup side of retention seals every seeded hour, so the seen
 *    sets a sealed hour keeps are in the figures (no sample is deleted).
 * 3. Sizes per table and per index (SQLite: dbstat; PostgreSQL:
 *    pg_table_size, pg_relation_size of each index, partitions summed into
 *    their parent), received_metrics/ on disk (apparent and allocated bytes)
 *    and gzipped in process, per file and per server-day.
 * 4. Per server-year: each object's growth per server-day times the days
 *    its retention keeps (config defaults: raw samples 35 days, hourly
 *    13 months, seen sets from the raw to the hourly horizon, daily rollups,
 *    the archive and the upload register forever: one year's growth);
 *    per-server rows (server_stats, …) once.
 *
 * Env: SRVUTIL_BENCH_SERVERS (20), SRVUTIL_BENCH_DAYS (7), SRVUTIL_BENCH_ROUNDS (3),
 * BENCH_PG_URL (postgres://postgres@127.0.0.1:5432/postgres), BENCH_PG=0 for SQLite only.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createIngestService } from "../../src/central/central-process.js";
import { loadCentralConfig } from "../../src/central/config.js";
import { openStorage } from "../../src/central/storage/open.js";
import { PgStore } from "../../src/central/storage/postgres/pg-store.js";
import type { Storage } from "../../src/central/storage/store.js";
import { type MetricRow, serializeMetricsCsv } from "../../src/protocol/index.js";
import { createTestSchema } from "../../test/helpers/postgres.js";
import { printReport, retentionDays } from "./report.js";
import { archiveOf, grown, pgCompact, pgSizes, type Run, sqliteSizes } from "./sizes.js";

const SERVERS = Number(process.env.SRVUTIL_BENCH_SERVERS ?? 20);
const DAYS = Number(process.env.SRVUTIL_BENCH_DAYS ?? 7);
const ROUNDS = Number(process.env.SRVUTIL_BENCH_ROUNDS ?? 3);
const PG_URL = process.env.BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const WITH_PG = process.env.BENCH_PG !== "0";
const MIN = 60_000;
const DAY = 86_400_000;
const WINDOW = 20; // samples per upload: the agents' default 20-minute upload interval
const MOUNTS = ["/", "/data"];
const GIB = 1024 ** 3;

const defaults = loadCentralConfig({ SRVUTIL_DATA_DIR: os.tmpdir() }).retention;

/** A deterministic generator per server, so every round and backend stores the same figures. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Agent {
  server: string;
  next: () => number;
  cpu: number;
  memUsed: number;
  diskUsed: number[];
}

/** One upload of an agent: WINDOW samples from `start`, one row per mount each. */
function windowRows(a: Agent, s: number, start: number): MetricRow[] {
  const memTotal = 16 * GIB - 2 ** 27;
  const disks = [100 * GIB, 500 * GIB];
  const rows: MetricRow[] = [];
  for (let i = 0; i < WINDOW; i++) {
    a.cpu = Math.min(100, Math.max(0, a.cpu + (a.next() - 0.5) * 10));
    a.memUsed = Math.min(
      memTotal * 0.95,
      Math.max(GIB, a.memUsed + Math.round((a.next() - 0.5) * 8192) * 4096),
    );
    // Whole seconds, as agents stamp 60-s samples; now and then a second late.
    const ts = start + i * MIN + (s % 50) * 1000 + (a.next() < 0.1 ? 1000 : 0);
    for (const [m, mount] of MOUNTS.entries()) {
      a.diskUsed[m] = a.diskUsed[m]! + Math.round(a.next() * 64) * 4096;
      rows.push({
        timestamp: ts,
        server: a.server,
        cpuPercent: Math.round(a.cpu * 100) / 100,
        cpuPeakPercent: Math.round(Math.min(100, a.cpu * (1 + a.next())) * 100) / 100,
        intervalSeconds: Math.round((60 + (a.next() - 0.5) / 50) * 1000) / 1000,
        memTotalBytes: memTotal,
        memUsedBytes: a.memUsed,
        memAvailableBytes: memTotal - a.memUsed - 2 * GIB,
        diskMount: mount,
        diskTotalBytes: disks[m]!,
        diskUsedBytes: a.diskUsed[m]!,
        diskFreeBytes: Math.round(disks[m]! * 0.95) - a.diskUsed[m]!,
      });
    }
  }
  return rows;
}

/** Sends DAYS days to today's UTC midnight, window by window, then seals every hour. */
async function seed(store: Storage, dataDir: string, from: number): Promise<void> {
  const config = loadCentralConfig({ SRVUTIL_DATA_DIR: dataDir });
  const ingest = createIngestService(config, store, null);
  await ingest.warmUp();
  await store.rollups.registerZone(config.reportTimeZone);
  const agents: Agent[] = Array.from({ length: SERVERS }, (_, s) => ({
    server: `server-${String(s).padStart(4, "0")}`,
    next: prng(s + 1),
    cpu: 10 + s,
    memUsed: 6 * GIB,
    diskUsed: [40 * GIB, 200 * GIB],
  }));
  try {
    for (let w = from; w < from + DAYS * DAY; w += WINDOW * MIN) {
      await Promise.all(
        agents.map(async (a, s) => {
          const body = Buffer.from(serializeMetricsCsv(windowRows(a, s, w)));
          const r = await ingest.ingestFile(body, { expectedServer: a.server });
          if (r.inserted !== WINDOW * MOUNTS.length)
            throw new Error(`${a.server}: ${r.inserted} rows stored`);
        }),
      );
      await store.rollups.refresh();
    }
    await store.rollups.prune({ rawBefore: from + DAYS * DAY, hourlyBefore: 0 });
  } finally {
    await ingest.close();
  }
}

async function rawBodyBytes(store: Storage): Promise<number> {
  let total = 0;
  for (let after: string | null = null; ; ) {
    const page = await store.rawUploads.page(after, 1000);
    if (page.length === 0) return total;
    for (const u of page) total += u.bytes.byteLength;
    after = page[page.length - 1]!.uploadId;
  }
}

async function runSqlite(from: number): Promise<Run> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-bench-footprint-"));
  const file = path.join(dir, "srvutil.db");
  try {
    await (await openStorage(`sqlite:${file}`)).close();
    const before = sqliteSizes(file).sizes;
    const store = await openStorage(`sqlite:${file}`);
    await seed(store, dir, from);
    await store.close();
    const after = sqliteSizes(file);
    const archive = archiveOf(path.join(dir, "received_metrics"), DAY / (WINDOW * MIN));
    return {
      backend: "SQLite",
      sizes: grown(after.sizes, before),
      archive,
      asWritten: null,
      file: { bytes: after.fileBytes, free: after.freeBytes },
      rawBodyBytes: archive.apparent,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function runPg(from: number): Promise<Run> {
  const schema = await createTestSchema(PG_URL, "srvutil_bench_footprint");
  const dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-bench-footprint-pg-"));
  const store = new PgStore(PG_URL, { schema: schema.schema });
  try {
    await store.init();
    const before = await pgSizes(PG_URL, schema.schema);
    await seed(store, dir, from);
    const asWritten = grown(await pgSizes(PG_URL, schema.schema), before);
    // The refresh rewrites an hour's and a day's rows as their samples arrive: the dead versions
    // are reused after autovacuum, not repeated per day kept, so the year is reckoned compacted.
    await pgCompact(PG_URL, schema.schema);
    return {
      backend: "PostgreSQL",
      sizes: grown(await pgSizes(PG_URL, schema.schema), before),
      asWritten,
      archive: null,
      file: null,
      rawBodyBytes: await rawBodyBytes(store),
    };
  } finally {
    await store.close();
    await schema.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const today = Date.now() - (Date.now() % DAY);
  const from = today - DAYS * DAY;
  console.log(
    `bench:footprint — ${SERVERS} servers × ${DAYS} days of 60-s samples, ${MOUNTS.length} mounts, uploads of ${WINDOW} samples, ${ROUNDS} rounds; retention: raw ${defaults.rawDays} days, hourly ${defaults.hourlyMonths} months (${retentionDays(defaults).rollup_hourly![1]} days), daily and archive forever; Node ${process.version}`,
  );
  const runs: Run[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    for (const [name, run] of [
      ["SQLite", runSqlite],
      ...(WITH_PG ? ([["PostgreSQL", runPg]] as const) : []),
    ] as const) {
      const t = performance.now();
      runs.push(await run(from));
      console.log(
        `  round ${i + 1}, ${name}: seeded and measured in ${((performance.now() - t) / 1000).toFixed(0)} s`,
      );
    }
  }
  printReport(runs, {
    servers: SERVERS,
    days: DAYS,
    rounds: ROUNDS,
    mounts: MOUNTS.length,
    retention: defaults,
  });
}

await main();
