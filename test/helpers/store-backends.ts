import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { openStorage } from "../../src/central/storage/open.js";
import { PgStore } from "../../src/central/storage/postgres/pg-store.js";
import { SqliteStore } from "../../src/central/storage/sqlite/sqlite-store.js";
import type { Storage } from "../../src/central/storage/store.js";
import type { MetricRow } from "../../src/protocol/index.js";
import { createTestSchema, findTestPostgres } from "./postgres.js";

export interface TempStore {
  store: Storage;
  dir: string;
  cleanup(): Promise<void>;
}

/** A real SQLite store in a fresh temp directory. */
export async function tempStore(): Promise<TempStore> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-report-"));
  const store = await openStorage(`sqlite:${path.join(dir, "srvutil.db")}`);
  return {
    store,
    dir,
    async cleanup() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The backends a port-level test runs on: SQLite always, PostgreSQL when
 * test/helpers/postgres.ts finds it (else `skipReason` says why; tests call
 * ctx.skip with it, so the summary names them).
 */
export async function storeBackends(): Promise<
  { name: "sqlite" | "postgres"; skipReason: string | undefined; make: () => Promise<TempStore> }[]
> {
  const pg = await findTestPostgres();
  return [
    { name: "sqlite", skipReason: undefined, make: tempStore },
    { name: "postgres", skipReason: pg.skipReason, make: () => tempPgStore(pg.url!) },
  ];
}

/** A real PostgreSQL store in a throwaway schema (`max` connections in its pool). */
export async function tempPgStore(url: string, max = 4): Promise<TempStore & { schema: string }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-report-pg-"));
  const { schema, drop } = await createTestSchema(url);
  const store = new PgStore(url, { schema, max });
  await store.init();
  return {
    store,
    dir,
    schema,
    async cleanup() {
      await store.close();
      await drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

let uploadCounter = 0;

/** Stores rows as one upload of one server (as the API would after validation). */
export async function upload(store: Storage, rows: readonly MetricRow[]): Promise<void> {
  if (rows.length === 0) return;
  const server = rows[0]!.server;
  uploadCounter++;
  await store.ingest(
    {
      uploadId: `test-${process.pid}-${uploadCounter}`,
      server,
      receivedAt: Date.now(),
      rawPath: `received_metrics/${server}/test/${uploadCounter}.csv`,
      sha256: `sha-${process.pid}-${uploadCounter}`,
      bytes: rows.length * 100,
    },
    rows,
  );
}

/**
 * The dates stored in the daily rollups of `tz` for `server`: what the port
 * does not show (readDaily fills what is missing), so tests that check that
 * days were kept ahead of a report look at the table of the backend.
 */
export async function storedDailyDates(store: Storage, tz: string, server: string): Promise<string[]> {
  const sql = "SELECT date FROM rollup_daily WHERE tz = $1 AND server = $2 ORDER BY date";
  if (store instanceof SqliteStore) {
    return store.db.prepare(sql.replace(/\$\d/g, "?")).pluck().all(tz, server) as string[];
  }
  if (store instanceof PgStore) {
    return (await store.pool.query<{ date: string }>(sql, [tz, server])).rows.map((r) => r.date);
  }
  throw new Error("storedDailyDates: unknown store");
}
