/**
 * `central import` of the same folder into SQLite and into PostgreSQL,
 * through importDirectory (the code the command runs), in this process.
 * The folder: SERVERS servers × DAYS days of 60 s samples (1–3 mounts), one
 * CSV v1 file per server-day, the shape of an agent's backlog or of a
 * migrated history. Part of `npm run bench:ingest`; alone:
 * `node --import tsx bench/ingest/import-compare.ts`.
 *
 * Env: BENCH_IMPORT_SERVERS (20), BENCH_IMPORT_DAYS (28), BENCH_IMPORT_ROUNDS (2), BENCH_PG_URL.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { createIngestService } from "../../src/central/central-process.js";
import { loadCentralConfig } from "../../src/central/config.js";
import { importDirectory } from "../../src/central/ingest/bulk.js";
import { openStorage } from "../../src/central/storage/open.js";
import { type MetricRow, serializeMetricsCsv } from "../../src/protocol/index.js";
import { profileRows, randomProfile, rng } from "../../test/helpers/fleet.js";
import { DEFAULT_BENCH_PG_URL } from "./pg-bulk.js";

const DAY = 86_400_000;
const END = Date.UTC(2026, 10, 23);

/** A folder of one CSV v1 file per server-day; returns its row count. */
export function writeImportFolder(dir: string, servers: number, days: number): number {
  mkdirSync(dir, { recursive: true });
  const r = rng(42);
  let rows = 0;
  for (let i = 0; i < servers; i++) {
    const p = randomProfile(r, `imp-${String(i).padStart(4, "0")}`);
    p.intervalSeconds = 60;
    p.dropRate = 0;
    let day: MetricRow[] = [];
    const flush = () => {
      if (day.length === 0) return;
      const d = new Date(day[0]!.timestamp).toISOString().slice(0, 10);
      writeFileSync(path.join(dir, `${p.server}_${d}.csv`), serializeMetricsCsv(day));
      rows += day.length;
      day = [];
    };
    for (const row of profileRows(p, END - days * DAY, END, i)) {
      if (day.length > 0 && Math.floor(row.timestamp / DAY) !== Math.floor(day[0]!.timestamp / DAY)) flush();
      day.push(row);
    }
    flush();
  }
  return rows;
}

/** With a throwaway schema on `url` as the search_path. */
export function pgUrlWithSchema(url: string, schema: string): string {
  return `${url}${url.includes("?") ? "&" : "?"}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
}

async function importOnce(folder: string, backend: "sqlite" | "postgres", pgUrl: string): Promise<number> {
  const data = mkdtempSync(path.join(os.tmpdir(), "srvutil-bench-import-data-"));
  const schema = `srvutil_bench_import_${process.pid}`;
  const admin = new pg.Client({ connectionString: pgUrl });
  if (backend === "postgres") {
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema}`);
  }
  try {
    const dbUrl =
      backend === "postgres" ? pgUrlWithSchema(pgUrl, schema) : `sqlite:${path.join(data, "srvutil.db")}`;
    const config = loadCentralConfig({ SRVUTIL_DATA_DIR: data, SRVUTIL_DB_URL: dbUrl });
    const store = await openStorage(config.dbUrl);
    const ingest = createIngestService(config, store, null);
    const t0 = performance.now();
    const summary = await importDirectory(ingest, folder, { maxBodyBytes: config.maxBodyBytes });
    const ms = performance.now() - t0;
    await ingest.close();
    await store.close();
    if (summary.failed.length > 0) throw new Error(`${backend}: ${JSON.stringify(summary.failed[0])}`);
    return ms;
  } finally {
    if (backend === "postgres") {
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => {});
      await admin.end();
    }
    rmSync(data, { recursive: true, force: true });
  }
}

export async function compareImport(
  pgUrl: string,
  options: { servers?: number; days?: number; rounds?: number } = {},
): Promise<string> {
  const servers = options.servers ?? 20;
  const days = options.days ?? 28;
  const rounds = options.rounds ?? 2;
  const root = mkdtempSync(path.join(os.tmpdir(), "srvutil-bench-import-"));
  try {
    const folder = path.join(root, "in");
    const rows = writeImportFolder(folder, servers, days);
    const times: Record<"sqlite" | "postgres", number[]> = { sqlite: [], postgres: [] };
    for (let r = 0; r < rounds; r++) {
      for (const backend of ["sqlite", "postgres"] as const) {
        process.stderr.write(`bench:ingest import: ${backend}, round ${r + 1}\n`);
        times[backend].push(await importOnce(folder, backend, pgUrl));
      }
    }
    const s = (xs: number[]) =>
      `${(Math.min(...xs) / 1000).toFixed(1)}–${(Math.max(...xs) / 1000).toFixed(1)} s`;
    const best = (xs: number[]) => Math.min(...xs);
    const rps = (xs: number[]) => Math.round(rows / (best(xs) / 1000)).toLocaleString("en-US");
    return [
      `central import: ${servers * days} files (${servers} servers × ${days} days × 60 s), ${rows.toLocaleString("en-US")} rows, ${rounds} rounds`,
      "",
      "| backend | time (min–max) | rows/s (best) | time vs SQLite (best; floor ≤ 1.5×) |",
      "|---|---:|---:|---:|",
      `| SQLite (baseline) | ${s(times.sqlite)} | ${rps(times.sqlite)} | 1.00× |`,
      `| PostgreSQL | ${s(times.postgres)} | ${rps(times.postgres)} | ${(best(times.postgres) / best(times.sqlite)).toFixed(2)}× |`,
    ].join("\n");
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const num = (k: string) => (process.env[k] === undefined ? undefined : Number(process.env[k]));
  const table = await compareImport(process.env.BENCH_PG_URL ?? DEFAULT_BENCH_PG_URL, {
    ...(num("BENCH_IMPORT_SERVERS") === undefined ? {} : { servers: num("BENCH_IMPORT_SERVERS")! }),
    ...(num("BENCH_IMPORT_DAYS") === undefined ? {} : { days: num("BENCH_IMPORT_DAYS")! }),
    ...(num("BENCH_IMPORT_ROUNDS") === undefined ? {} : { rounds: num("BENCH_IMPORT_ROUNDS")! }),
  });
  process.stdout.write(`\n${table}\n`);
}
