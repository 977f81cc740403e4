import Database from "better-sqlite3";
import type { AlertStore } from "./alert-store.js";
import { PgAlertStore } from "./postgres/alerts.js";
import { createPgPool } from "./postgres/pg-store.js";
import { SqliteAlertStore } from "./sqlite/alerts.js";
import type { StorageReaderSpec } from "./store.js";

/** The alert rules' reads, on a connection of their own. */
export interface AlertReader extends Pick<AlertStore, "lastSeen" | "recentWindow" | "hours"> {
  close(): Promise<void>;
}

/**
 * Opens the alert rules' reads on a connection of their own, for the
 * evaluator's worker thread (alerts/judge-worker.ts): SQLite a read-only
 * connection to the same file (WAL: it reads what is committed and never
 * holds the writer up), PostgreSQL a pool of two. The schema is the main
 * handle's, already migrated: nothing is created here.
 */
export async function openAlertReader(spec: StorageReaderSpec): Promise<AlertReader> {
  if (spec.backend === "sqlite") {
    const db = new Database(spec.file, { readonly: true, fileMustExist: true });
    db.pragma("busy_timeout = 5000");
    return readerOf(new SqliteAlertStore(db), async () => {
      db.close();
    });
  }
  const pool = createPgPool(spec.connectionString, { schema: spec.schema, max: 2 });
  return readerOf(new PgAlertStore(pool), () => pool.end());
}

/** Only the reads of an alert store, so nothing else is reachable from the worker. */
function readerOf(alerts: AlertStore, close: () => Promise<void>): AlertReader {
  return {
    lastSeen: () => alerts.lastSeen(),
    recentWindow: (spanMs, servers) => alerts.recentWindow(spanMs, servers),
    hours: (from, to, servers) => alerts.hours(from, to, servers),
    close,
  };
}
