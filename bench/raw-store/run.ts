/**
 * `npm run bench:raw-store`: what keeping raw uploads in the database costs
 * against keeping them as files (SRVUTIL_RAW_STORE=database vs files), on
 * each backend, through the real ingest path (IngestService.ingestFile:
 * parse, replay check, raw copy, one transaction), 32 uploads in flight,
 * 20-row files like an agent's. "files" is the baseline of each backend,
 * measured in the same run; rounds alternate the modes so the machine's
 * noise falls on both. PostgreSQL: SRVUTIL_BENCH_PG_URL, else
 * SRVUTIL_TEST_PG_URL, else the local server; skipped (and said) if none answers.
 *
 * Env: BENCH_RAW_FILES (default 1000 per measurement), BENCH_RAW_ROUNDS (3).
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import pg from "pg";
import { createIngestService } from "../../src/central/central-process.js";
import { loadCentralConfig } from "../../src/central/config.js";
import { PgStore } from "../../src/central/storage/postgres/pg-store.js";
import { SqliteStore } from "../../src/central/storage/sqlite/sqlite-store.js";
import type { Storage } from "../../src/central/storage/store.js";
import { serializeMetricsCsv } from "../../src/protocol/index.js";
import { FLEET_SAMPLES, fleetServer, rowsFor } from "../ingest/workload.js";

const FILES = Number(process.env.BENCH_RAW_FILES ?? 1000);
const ROUNDS = Number(process.env.BENCH_RAW_ROUNDS ?? 3);
const CONCURRENCY = 32;
const PG_URL =
  process.env.SRVUTIL_BENCH_PG_URL ??
  process.env.SRVUTIL_TEST_PG_URL ??
  "postgres://postgres@127.0.0.1:5432/postgres";

interface Result {
  uploadsPerSecond: number;
  p50: number;
  p99: number;
}

async function measure(store: Storage, mode: "files" | "database", round: number): Promise<Result> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "srvutil-bench-raw-"));
  const config = loadCentralConfig({
    SRVUTIL_DATA_DIR: dataDir,
    SRVUTIL_RAW_STORE: mode,
    SRVUTIL_PARSE_WORKERS: "0",
  });
  const ingest = createIngestService(config, store, null);
  await ingest.warmUp();
  // New rows every round (a later hour), so each upload inserts its 20 rows.
  const start = Date.UTC(2026, 10, 2) + (round * 2 + (mode === "files" ? 0 : 1)) * 3_600_000;
  const bodies = Array.from({ length: FILES }, (_, i) =>
    Buffer.from(
      serializeMetricsCsv(
        rowsFor(fleetServer(i % 1000), start + Math.floor(i / 1000) * 600_000, FLEET_SAMPLES),
      ),
    ),
  );
  const latencies: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < bodies.length) {
        const body = bodies[next++]!;
        const s = performance.now();
        await ingest.ingestFile(body);
        latencies.push(performance.now() - s);
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  await ingest.close();
  rmSync(dataDir, { recursive: true, force: true });
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
  return { uploadsPerSecond: FILES / seconds, p50: at(0.5), p99: at(0.99) };
}

async function pgAnswers(url: string): Promise<string | null> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await c.connect();
    await c.query("SELECT 1");
    return null;
  } catch (err) {
    return (err as Error).message;
  } finally {
    await c.end().catch(() => {});
  }
}

async function main(): Promise<void> {
  const backends: { name: string; open: () => Promise<{ store: Storage; done: () => Promise<void> }> }[] = [
    {
      name: "SQLite",
      open: async () => {
        const dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-bench-raw-db-"));
        const store = new SqliteStore(path.join(dir, "srvutil.db"));
        await store.init();
        return {
          store,
          done: async () => {
            await store.close();
            rmSync(dir, { recursive: true, force: true });
          },
        };
      },
    },
  ];
  const problem = await pgAnswers(PG_URL);
  if (problem === null) {
    backends.push({
      name: "PostgreSQL",
      open: async () => {
        const schema = `srvutil_bench_raw_${process.pid}`;
        const admin = new pg.Client({ connectionString: PG_URL });
        await admin.connect();
        await admin.query(`CREATE SCHEMA ${schema}`);
        const store = new PgStore(PG_URL, { schema, max: 10 });
        await store.init();
        return {
          store,
          done: async () => {
            await store.close();
            await admin.query(`DROP SCHEMA ${schema} CASCADE`);
            await admin.end();
          },
        };
      },
    });
  } else {
    process.stdout.write(
      `PostgreSQL skipped: ${PG_URL.replace(/:[^:@/]*@/, ":***@")} does not answer (${problem})\n`,
    );
  }

  process.stdout.write(
    `bench:raw-store — ${FILES} uploads of ${FLEET_SAMPLES * 2} rows per measurement, ${CONCURRENCY} in flight, ${ROUNDS} rounds, Node ${process.version}\n`,
  );
  for (const samples of [FLEET_SAMPLES, 5000]) {
    const body = Buffer.from(serializeMetricsCsv(rowsFor(fleetServer(1), Date.UTC(2026, 10, 2), samples)));
    const packed = gzipSync(body, { level: 6 }).length;
    process.stdout.write(
      `raw copy of a ${samples * 2}-row file: ${body.length.toLocaleString("en")} bytes → ${packed.toLocaleString("en")} gzip (${(body.length / packed).toFixed(1)}× smaller)\n`,
    );
  }
  process.stdout.write(
    "| backend | raw store | uploads/s (min–max) | p50 ms | p99 ms | vs files (median) |\n",
  );
  process.stdout.write("|---|---|---:|---:|---:|---:|\n");
  for (const b of backends) {
    const { store, done } = await b.open();
    const runs: Record<"files" | "database", Result[]> = { files: [], database: [] };
    for (let r = 0; r < ROUNDS; r++) {
      const order: ("files" | "database")[] = r % 2 === 0 ? ["files", "database"] : ["database", "files"];
      for (const mode of order) runs[mode].push(await measure(store, mode, r));
    }
    await done();
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const base = median(runs.files.map((x) => x.uploadsPerSecond));
    for (const mode of ["files", "database"] as const) {
      const rate = runs[mode].map((x) => x.uploadsPerSecond);
      const line = [
        b.name,
        mode,
        `${Math.round(Math.min(...rate)).toLocaleString("en")}–${Math.round(Math.max(...rate)).toLocaleString("en")}`,
        median(runs[mode].map((x) => x.p50)).toFixed(1),
        median(runs[mode].map((x) => x.p99)).toFixed(1),
        `${((median(rate) / base) * 100).toFixed(0)}%`,
      ];
      process.stdout.write(`| ${line.join(" | ")} |\n`);
    }
  }
}

await main();
