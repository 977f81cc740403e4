import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { openStorage } from "../../src/central/storage/open.js";
import { PgStore } from "../../src/central/storage/postgres/pg-store.js";
import { SqliteStore, type SqliteStoreOptions } from "../../src/central/storage/sqlite/sqlite-store.js";
import type { Storage } from "../../src/central/storage/store.js";
import type { MetricRow } from "../../src/protocol/index.js";
import { createTestSchema, findTestPostgres } from "./postgres.js";

/**
 * The one two-backend harness of the storage tests: every test that runs
 * against the port on SQLite and PostgreSQL gets its stores here.
 */
export interface TempStore {
  store: Storage;
  /** A temp directory of this store (SQLite: holds the database file), removed by cleanup. */
  dir: string;
  /**
   * Opens another handle on the same database, as a second central instance
   * would (initialised; closed by cleanup).
   */
  another(): Promise<Storage>;
  /** Closes every handle, drops the PostgreSQL schema, removes the directory. */
  cleanup(): Promise<void>;
}

export interface TempStoreOptions {
  /** PostgreSQL: connections in each handle's pool (default 4). */
  max?: number;
  /** PostgreSQL: prefix of the throwaway schema's name. */
  schemaPrefix?: string;
  /** SQLite: options of each handle. */
  sqlite?: SqliteStoreOptions;
}

export interface StoreBackend {
  name: "sqlite" | "postgres";
  /** Why this backend cannot run here (no PostgreSQL found), or undefined. */
  skipReason: string | undefined;
  make(options?: TempStoreOptions): Promise<TempStore>;
}

/** A real SQLite store in a fresh temp directory. */
export async function tempStore(options: TempStoreOptions = {}): Promise<TempStore> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-report-"));
  const file = path.join(dir, "srvutil.db");
  const store =
    options.sqlite === undefined
      ? await openStorage(`sqlite:${file}`)
      : new SqliteStore(file, options.sqlite);
  if (options.sqlite !== undefined) await store.init();
  const handles: Storage[] = [store];
  return {
    store,
    dir,
    async another() {
      const other = new SqliteStore(file, options.sqlite);
      handles.push(other);
      await other.init();
      return other;
    },
    async cleanup() {
      for (const h of handles.reverse()) await h.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The backends a port-level test runs on: SQLite always, PostgreSQL when
 * test/helpers/postgres.ts finds it (else `skipReason` says why; tests call
 * ctx.skip with it, so the summary names them).
 */
export async function storeBackends(): Promise<[sqlite: StoreBackend, postgres: StoreBackend]> {
  const pg = await findTestPostgres();
  return [
    { name: "sqlite", skipReason: undefined, make: (options) => tempStore(options) },
    { name: "postgres", skipReason: pg.skipReason, make: (options) => tempPgStore(pg.url!, options) },
  ];
}

/** A real PostgreSQL store in a throwaway schema. */
export async function tempPgStore(
  url: string,
  options: TempStoreOptions = {},
): Promise<TempStore & { schema: string }> {
  const { max = 4, schemaPrefix } = options;
  const dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-report-pg-"));
  const { schema, drop } = await createTestSchema(url, schemaPrefix);
  const store = new PgStore(url, { schema, max });
  const handles: Storage[] = [store];
  await store.init();
  return {
    store,
    dir,
    schema,
    async another() {
      const other = new PgStore(url, { schema, max });
      handles.push(other);
      await other.init();
      return other;
    },
    async cleanup() {
      for (const h of handles.reverse()) await h.close();
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
