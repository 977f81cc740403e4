/**
 * What sealed hours cost (docs/report.md, Retention): the retention's
 * prune-time seen-set computation and the size of rollup_hour_seen, on
 * SQLite and PostgreSQL. Run: `npx tsx bench/rollups/seen-sets.ts`.
 *
 * Per backend, in a fresh database:
 * 1. a year of one server (SERVER_YEAR_INTERVAL-s samples, two mounts) ending
 *    at the 35-day raw cutoff, then the first retention prune over it (what a
 *    central's first retention run does after `central import` of a year):
 *    time, hours sealed, bytes of the seen table per server-year;
 * 2. a fleet of FLEET servers (60-s samples, two mounts) over the hours
 *    around the raw cutoff, then the prune moved one hour at a time, as the
 *    hourly retention job moves it: time per sealed fleet-hour.
 *
 * Dates come from the real clock. Hourly rollups are kept forever here, so
 * that nothing of the year falls before the fold floor.
 *
 * Env: SRVUTIL_BENCH_FLEET (1000), SRVUTIL_BENCH_SERVER_YEAR_INTERVAL (60),
 * SRVUTIL_BENCH_PG_URL (the local server; "off" for SQLite only).
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { catchUpRollups } from "../../src/central/aggregate/rollup-maintainer.js";
import { rawCutoff } from "../../src/central/retention.js";
import { PgStore } from "../../src/central/storage/postgres/pg-store.js";
import { SqliteStore } from "../../src/central/storage/sqlite/sqlite-store.js";
import type { Storage } from "../../src/central/storage/store.js";
import type { MetricRow } from "../../src/protocol/index.js";

const num = (k: string, d: number) => Number(process.env[k] ?? d);
const FLEET = num("SRVUTIL_BENCH_FLEET", 1000);
const YEAR_INTERVAL = num("SRVUTIL_BENCH_SERVER_YEAR_INTERVAL", 60);
const PG_URL = process.env.SRVUTIL_BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const HOUR = 3_600_000;
const DAY = 86_400_000;
const SEAL_HOURS = 6;

function rows(server: string, from: number, to: number, intervalMs: number): MetricRow[] {
  const out: MetricRow[] = [];
  for (let ts = from; ts < to; ts += intervalMs) {
    const k = ts / 60_000;
    for (const [mount, total] of [
      ["/", 100e9],
      ["/data", 2e12],
    ] as const) {
      out.push({
        timestamp: ts,
        server,
        cpuPercent: k % 97,
        cpuPeakPercent: null,
        intervalSeconds: intervalMs / 1000,
        memTotalBytes: 16e9,
        memUsedBytes: 4e9 + (k % 1000) * 1e6,
        memAvailableBytes: 12e9 - (k % 1000) * 1e6,
        diskMount: mount,
        diskTotalBytes: total,
        diskUsedBytes: total / 2,
        diskFreeBytes: total / 2,
      });
    }
  }
  return out;
}

let uploads = 0;
async function ingest(store: Storage, batch: MetricRow[]): Promise<void> {
  const id = `bench-${uploads++}`;
  await store.ingest(
    {
      uploadId: id,
      server: batch[0]!.server,
      receivedAt: Date.now(),
      rawPath: `x/${id}`,
      sha256: id,
      bytes: 0,
    },
    batch,
  );
}

async function seenBytes(store: Storage): Promise<{ rows: number; payload: number; table: number }> {
  if (store instanceof PgStore) {
    const r = (
      await store.pool.query<{ n: number; payload: number; table: number }>(
        `SELECT count(*)::int8 AS n, coalesce(sum(length(seen)), 0)::int8 AS payload,
                pg_total_relation_size('rollup_hour_seen') AS table FROM rollup_hour_seen`,
      )
    ).rows[0]!;
    return { rows: r.n, payload: r.payload, table: r.table };
  }
  if (!(store instanceof SqliteStore)) throw new Error(`seenBytes: no reader for a ${store.kind} store`);
  const db = store.db;
  const [n, payload] = db
    .prepare("SELECT count(*), coalesce(sum(length(seen)), 0) FROM rollup_hour_seen")
    .raw()
    .get() as [number, number];
  const table = db
    .prepare("SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name = 'rollup_hour_seen'")
    .pluck()
    .get() as number;
  return { rows: n, payload, table };
}

async function withStore(kind: "sqlite" | "postgres", fn: (store: Storage) => Promise<void>): Promise<void> {
  if (kind === "sqlite") {
    const dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-bench-seen-"));
    const store = new SqliteStore(path.join(dir, "b.db"));
    await store.init();
    try {
      await fn(store);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
    return;
  }
  const schema = `srvutil_bench_seen_${process.pid}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  const store = new PgStore(PG_URL, { schema, max: 6 });
  try {
    await store.init();
    await fn(store);
  } finally {
    await store.close();
    await admin.query(`DROP SCHEMA ${schema} CASCADE`);
    await admin.end();
  }
}

async function serverYear(kind: "sqlite" | "postgres"): Promise<void> {
  await withStore(kind, async (store) => {
    const now = Date.now();
    const cutoff = rawCutoff(now, 35);
    const from = cutoff - 365 * DAY;
    let t = performance.now();
    for (let d = from; d < cutoff; d += 7 * DAY) {
      await ingest(store, rows("year-01", d, Math.min(cutoff, d + 7 * DAY), YEAR_INTERVAL * 1000));
    }
    const ingestMs = performance.now() - t;
    t = performance.now();
    await catchUpRollups(store.rollups, "Europe/Berlin");
    const foldMs = performance.now() - t;
    t = performance.now();
    const pruned = await store.rollups.prune({ rawBefore: cutoff, hourlyBefore: 0 });
    const sealMs = performance.now() - t;
    const size = await seenBytes(store);
    console.log(
      `| ${kind} | 1 server-year, ${YEAR_INTERVAL} s | ${pruned.hoursSealed} hours sealed | ` +
        `${(sealMs / 1000).toFixed(2)} s (ingest ${(ingestMs / 1000).toFixed(1)} s, fold ${(foldMs / 1000).toFixed(1)} s) | ` +
        `seen table ${size.table.toLocaleString("en")} B, payload ${size.payload.toLocaleString("en")} B in ${size.rows} rows |`,
    );
  });
}

async function hourlyJob(kind: "sqlite" | "postgres"): Promise<void> {
  await withStore(kind, async (store) => {
    const now = Date.now();
    const first = rawCutoff(now, 35);
    const from = first - HOUR;
    const to = first + SEAL_HOURS * HOUR;
    for (let s = 0; s < FLEET; s++) await ingest(store, rows(`fleet-${s}`, from, to, 60_000));
    await catchUpRollups(store.rollups, "Europe/Berlin");
    await store.rollups.prune({ rawBefore: first, hourlyBefore: 0 });
    const times: number[] = [];
    const idle: number[] = [];
    let sealed = 0;
    for (let h = 1; h <= SEAL_HOURS; h++) {
      // A run that seals nothing (the horizon where it is): the prune's fixed cost.
      let t = performance.now();
      await store.rollups.prune({ rawBefore: first + (h - 1) * HOUR, hourlyBefore: 0 });
      idle.push(performance.now() - t);
      t = performance.now();
      sealed += (await store.rollups.prune({ rawBefore: first + h * HOUR, hourlyBefore: 0 })).hoursSealed;
      times.push(performance.now() - t);
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const seal = median(times.map((x, i) => x - idle[i]!));
    console.log(
      `| ${kind} | ${FLEET} servers, 60 s, one hour per run | ${sealed} hours sealed in ${SEAL_HOURS} runs | ` +
        `run ${median(times).toFixed(0)} ms, of which sealing ${seal.toFixed(0)} ms ` +
        `(${((seal / FLEET) * 1000).toFixed(0)} µs per server-hour; runs ${times.map((x) => x.toFixed(0)).join(", ")} ms) |`,
    );
  });
}

const kinds: ("sqlite" | "postgres")[] = PG_URL === "off" ? ["sqlite"] : ["sqlite", "postgres"];
console.log(`bench seen sets, Node ${process.version}`);
for (const kind of kinds) {
  await serverYear(kind);
  await hourlyJob(kind);
}
