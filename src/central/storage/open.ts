import path from "node:path";
import { PgStore } from "./postgres/pg-store.js";
import { SqliteStore, type SqliteSynchronous } from "./sqlite/sqlite-store.js";
import type { MetricsStore } from "./store.js";

/** A database URL that names no supported store, or a store that cannot be used yet. */
export class StoreConfigError extends Error {
  override readonly name = "StoreConfigError";
}

/**
 * Opens the store named by SRVUTIL_DB_URL (`sqlite:/abs/path.db` or
 * `postgres://user:pass@host:5432/db`) and runs its migrations. The SQLite sync mode comes from SRVUTIL_SQLITE_SYNCHRONOUS
 * (NORMAL, the default, or FULL; see docs/api.md).
 */
export async function openStore(dbUrl: string, env: NodeJS.ProcessEnv = process.env): Promise<MetricsStore> {
  if (dbUrl.startsWith("sqlite:")) {
    let file = dbUrl.slice("sqlite:".length);
    if (file.startsWith("//")) file = file.slice(2); // sqlite:///abs/path
    if (file === "") throw new StoreConfigError("SRVUTIL_DB_URL: expected sqlite:/path/to/file.db");
    const store = new SqliteStore(file === ":memory:" ? file : path.resolve(file), {
      synchronous: sqliteSynchronousFromEnv(env),
    });
    try {
      await store.init();
    } catch (err) {
      await store.close();
      throw err;
    }
    return store;
  }
  if (/^postgres(ql)?:\/\//.test(dbUrl)) {
    const store = new PgStore(dbUrl);
    try {
      await store.init();
    } catch (err) {
      await store.close().catch(() => {});
      const why = err instanceof Error ? err.message : String(err);
      throw new StoreConfigError(`SRVUTIL_DB_URL: cannot use the PostgreSQL database (${why})`);
    }
    return store;
  }
  throw new StoreConfigError(
    `SRVUTIL_DB_URL: unsupported database URL scheme in '${dbUrl.replace(/\/\/[^@/]*@/, "//***@")}'; expected sqlite:/path/to/file.db`,
  );
}

export function sqliteSynchronousFromEnv(env: NodeJS.ProcessEnv): SqliteSynchronous {
  const v = (env.SRVUTIL_SQLITE_SYNCHRONOUS ?? "").trim().toUpperCase();
  if (v === "") return "NORMAL";
  if (v === "NORMAL" || v === "FULL") return v;
  throw new StoreConfigError(`SRVUTIL_SQLITE_SYNCHRONOUS: expected NORMAL or FULL, got '${v}'`);
}
