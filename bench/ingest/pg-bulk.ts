/**
 * The PostgreSQL bulk-insert methods against each other (and SQLite's
 * prepared statements as the baseline), storage only: PgStore.ingest with
 * each SampleInsertMethod on the same rows, each method in a fresh schema.
 * Part of `npm run bench:ingest`; alone: `node --import tsx bench/ingest/pg-bulk.ts`.
 *
 * Scenarios: backlog (10,000-row files, one at a time), fleet (20-row files,
 * 8 at a time), and the backlog again (every row a duplicate). Rounds
 * (BENCH_PG_BULK_ROUNDS, default 3) give a range per cell.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { PgStore } from "../../src/central/storage/postgres/pg-store.js";
import { SqliteStore } from "../../src/central/storage/sqlite/sqlite-store.js";
import type { MetricRow } from "../../src/protocol/index.js";
import {
  insertOptions,
  SAMPLE_INSERT_METHODS,
  type SampleInsertMethod,
} from "../support/pg-sample-insert.js";
import {
  BACKLOG_SAMPLES,
  BACKLOG_START,
  backlogServer,
  FLEET_SAMPLES,
  FLEET_START,
  fleetServer,
  rowsFor,
} from "./workload.js";

export const DEFAULT_BENCH_PG_URL = "postgres://postgres@127.0.0.1:5432/postgres";

interface Scenario {
  name: string;
  files: MetricRow[][];
  concurrency: number;
  /** Ingest these first, unmeasured (the duplicate scenario). */
  prefill?: boolean;
}

export interface BulkResult {
  scenario: string;
  method: SampleInsertMethod | "sqlite";
  /** rows/s per round */
  rowsPerSec: number[];
}

function scenarios(backlogFiles: number, fleetFiles: number): Scenario[] {
  const backlog = Array.from({ length: backlogFiles }, (_, i) =>
    rowsFor(backlogServer("plain", i), BACKLOG_START, BACKLOG_SAMPLES),
  );
  const fleet = Array.from({ length: fleetFiles }, (_, i) =>
    rowsFor(fleetServer(i), FLEET_START, FLEET_SAMPLES),
  );
  return [
    { name: `backlog: ${backlogFiles} × 10,000-row files, 1 at a time`, files: backlog, concurrency: 1 },
    { name: `fleet: ${fleetFiles} × 20-row files, 8 at a time`, files: fleet, concurrency: 8 },
    { name: "backlog again: every row a duplicate", files: backlog, concurrency: 1, prefill: true },
  ];
}

async function ingestAll(
  ingest: (file: MetricRow[], i: number) => Promise<unknown>,
  files: MetricRow[][],
  concurrency: number,
): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < files.length) {
        const i = next++;
        await ingest(files[i]!, i);
      }
    }),
  );
  const rows = files.reduce((a, f) => a + f.length, 0);
  return rows / ((performance.now() - t0) / 1000);
}

const upload = (i: number, server: string, tag: string) => ({
  uploadId: `${tag}-${i}`,
  server,
  receivedAt: Date.now(),
  rawPath: `bench/${i}`,
  sha256: `${tag}-${i}`,
  bytes: 0,
});

async function pgRound(url: string, method: SampleInsertMethod, sc: Scenario): Promise<number> {
  const schema = `srvutil_bench_${process.pid}_${method.replace("-", "_")}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema}`);
    const store = new PgStore(url, { schema, ...insertOptions(method), max: 8 });
    try {
      await store.init();
      if (sc.prefill) await ingestAll((f, i) => store.ingest(upload(i, f[0]!.server, "pre"), f), sc.files, 1);
      return await ingestAll(
        (f, i) => store.ingest(upload(i, f[0]!.server, "m"), f),
        sc.files,
        sc.concurrency,
      );
    } finally {
      await store.close();
    }
  } finally {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => {});
    await admin.end();
  }
}

async function sqliteRound(sc: Scenario): Promise<number> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-bench-bulk-"));
  const store = new SqliteStore(path.join(dir, "b.db"));
  try {
    await store.init();
    if (sc.prefill)
      for (const [i, f] of sc.files.entries()) store.ingestSync(upload(i, f[0]!.server, "pre"), f);
    // Through the async ingest, as the central does (group commit for concurrent files).
    return await ingestAll((f, i) => store.ingest(upload(i, f[0]!.server, "m"), f), sc.files, sc.concurrency);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function measureBulkMethods(
  url: string,
  options: { rounds?: number; backlogFiles?: number; fleetFiles?: number } = {},
): Promise<{ table: string; results: BulkResult[] }> {
  const rounds = options.rounds ?? 3;
  const results: BulkResult[] = [];
  const methods: (SampleInsertMethod | "sqlite")[] = ["sqlite", ...SAMPLE_INSERT_METHODS];
  for (const sc of scenarios(options.backlogFiles ?? 30, options.fleetFiles ?? 3000)) {
    for (const method of methods) results.push({ scenario: sc.name, method, rowsPerSec: [] });
    // Rounds interleave the methods, so a noisy neighbour hits them alike.
    for (let r = 0; r < rounds; r++) {
      for (const method of methods) {
        process.stderr.write(`bench:ingest pg-bulk ${sc.name}: ${method}, round ${r + 1}\n`);
        const v = method === "sqlite" ? await sqliteRound(sc) : await pgRound(url, method, sc);
        results.find((x) => x.scenario === sc.name && x.method === method)!.rowsPerSec.push(v);
      }
    }
  }
  const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
  const lines = [
    `| scenario (storage only, ${rounds} rounds) | method | rows/s (min–max) | best vs SQLite | best vs unnest |`,
    "|---|---|---:|---:|---:|",
  ];
  for (const x of results) {
    const best = (m: string) =>
      Math.max(...results.find((y) => y.scenario === x.scenario && y.method === m)!.rowsPerSec);
    const mine = Math.max(...x.rowsPerSec);
    lines.push(
      `| ${x.scenario} | ${x.method === "sqlite" ? "SQLite (baseline)" : `PG ${x.method}`} | ${fmt(Math.min(...x.rowsPerSec))}–${fmt(mine)} | ${((mine / best("sqlite")) * 100).toFixed(0)}% | ${x.method === "sqlite" ? "" : `${(mine / best("unnest")).toFixed(2)}×`} |`,
    );
  }
  return { table: lines.join("\n"), results };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const url = process.env.BENCH_PG_URL ?? DEFAULT_BENCH_PG_URL;
  const { table } = await measureBulkMethods(url, { rounds: Number(process.env.BENCH_PG_BULK_ROUNDS ?? 3) });
  process.stdout.write(`\n${table}\n`);
}
