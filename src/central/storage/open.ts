import path from "node:path";
import { ConfigError, UnavailableError } from "../../errors.js";
import { isPostgresUrl, sqliteFileOf } from "./database-url.js";
import { PgStore } from "./postgres/pg-store.js";
import { SqliteStore, type SqliteSynchronous } from "./sqlite/sqlite-store.js";
import type { Storage } from "./store.js";

/** A database URL that names no supported store, or a store that cannot be used yet. */
export class StoreConfigError extends ConfigError {}

/** A database that does not answer (refused, unreachable, starting up): try again later. */
export class StoreUnavailableError extends UnavailableError {}

export type { SqliteSynchronous };

export interface OpenStoreOptions {
  /** SQLite sync mode (SRVUTIL_SQLITE_SYNCHRONOUS): NORMAL, the default, or FULL; see docs/api.md. */
  synchronous?: SqliteSynchronous;
}

/**
 * Opens the storage named by SRVUTIL_DB_URL (`sqlite:/abs/path.db` or
 * `postgres://user:pass@host:5432/db`) and runs its migrations: the one
 * place that picks the backend.
 */
export async function openStorage(dbUrl: string, options: OpenStoreOptions = {}): Promise<Storage> {
  const file = sqliteFileOf(dbUrl);
  if (file !== null) {
    if (file === "") throw new StoreConfigError("SRVUTIL_DB_URL: expected sqlite:/path/to/file.db");
    const store = new SqliteStore(file === ":memory:" ? file : path.resolve(file), {
      synchronous: options.synchronous ?? "NORMAL",
    });
    try {
      await store.init();
    } catch (err) {
      await store.close();
      throw err;
    }
    return store;
  }
  if (isPostgresUrl(dbUrl)) {
    const store = new PgStore(dbUrl);
    try {
      await store.init();
    } catch (err) {
      await store.close().catch(() => {});
      const why = err instanceof Error ? err.message : String(err);
      // Not answering is the server being away; anything else (password, database name) is ours to fix.
      if (isUnreachable(err)) {
        throw new StoreUnavailableError(`SRVUTIL_DB_URL: the PostgreSQL server does not answer (${why})`, {
          cause: err,
        });
      }
      throw new StoreConfigError(`SRVUTIL_DB_URL: cannot use the PostgreSQL database (${why})`);
    }
    return store;
  }
  throw new StoreConfigError(
    `SRVUTIL_DB_URL: unsupported database URL scheme in '${dbUrl.replace(/\/\/[^@/]*@/, "//***@")}'; expected sqlite:/path/to/file.db`,
  );
}

const UNREACHABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  // PostgreSQL: cannot_connect_now (starting up, shutting down), too_many_connections.
  "57P03",
  "53300",
]);

function isUnreachable(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === "string" && UNREACHABLE_CODES.has(code)) return true;
  if (err instanceof AggregateError) return err.errors.some(isUnreachable);
  return err instanceof Error && /Connection terminated|timeout expired/i.test(err.message);
}
