import { existsSync, renameSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { InputError } from "../../errors.js";
import { refuseNewerSchema } from "./schema-version.js";
import { METRICS_MIGRATIONS } from "./sqlite/schema.js";

/**
 * `srvutil central backup FILE` and `central restore FILE`. Everything that
 * lives only in the database (samples, uploads, tokens, deliveries, the
 * schedule, rollups) is in one SQLite file, copied with SQLite's online
 * backup API: consistent while `central serve` keeps ingesting, and no
 * half-written page is ever copied. PostgreSQL has its own tools (pg_dump);
 * docs/operations.md says how.
 */

/** The command cannot run against this database (PostgreSQL) or with this file. */
export class BackupInputError extends InputError {}

export interface BackupResult {
  file: string;
  bytes: number;
}

export interface RestoreResult {
  /** The database that was replaced, kept beside it; null when there was none. */
  previous: string | null;
  bytes: number;
}

const PG_DUMP_HINT =
  "SRVUTIL_DB_URL is a PostgreSQL database: back it up with PostgreSQL's tools, e.g. " +
  '`pg_dump --format=custom --file=srvutil.dump "$SRVUTIL_DB_URL"` and restore with ' +
  '`pg_restore --clean --if-exists --dbname="$SRVUTIL_DB_URL" srvutil.dump` (docs/operations.md)';

/** The SQLite file SRVUTIL_DB_URL names, or a BackupInputError pointing to pg_dump. */
function sqliteFile(dbUrl: string): string {
  if (/^postgres(ql)?:\/\//.test(dbUrl)) throw new BackupInputError(PG_DUMP_HINT);
  if (!dbUrl.startsWith("sqlite:")) {
    throw new BackupInputError("SRVUTIL_DB_URL: backup and restore need sqlite:/path/to/file.db");
  }
  let file = dbUrl.slice("sqlite:".length);
  if (file.startsWith("//")) file = file.slice(2);
  if (file === "" || file === ":memory:") {
    throw new BackupInputError("SRVUTIL_DB_URL: an in-memory database cannot be backed up");
  }
  return path.resolve(file);
}

/** Online backup of the central's SQLite database into `target` (which must not exist). */
export async function backupDatabase(dbUrl: string, target: string): Promise<BackupResult> {
  const source = sqliteFile(dbUrl);
  const out = path.resolve(target);
  if (!existsSync(source)) throw new BackupInputError(`no database at ${source} (SRVUTIL_DB_URL)`);
  if (existsSync(out)) throw new BackupInputError(`${out} exists: choose a new file name`);
  if (out === source) throw new BackupInputError("the backup file cannot be the database itself");
  // Written under a temporary name and renamed when complete and checked, so
  // a backup interrupted half-way never looks like a good one.
  const partial = `${out}.partial`;
  rmSync(partial, { force: true });
  const db = new Database(source, { readonly: true, fileMustExist: true });
  try {
    db.pragma("busy_timeout = 5000");
    await db.backup(partial);
  } catch (err) {
    rmSync(partial, { force: true });
    throw err;
  } finally {
    db.close();
  }
  try {
    // The copy inherits WAL mode; a backup is one self-contained file instead
    // (no -wal/-shm beside it to forget when it is copied elsewhere).
    const copy = new Database(partial, { fileMustExist: true });
    try {
      copy.pragma("journal_mode = DELETE");
    } finally {
      copy.close();
    }
    checkBackupFile(partial);
  } catch (err) {
    rmSync(partial, { force: true });
    throw err;
  }
  renameSync(partial, out);
  return { file: out, bytes: statSync(out).size };
}

/**
 * Replaces the central's database with a backup. `central serve` must be
 * stopped. The current database (if any) is first copied beside itself as
 * `srvutil.db.before-restore-<time>`, so a restore of the wrong file loses nothing.
 */
export async function restoreDatabase(
  dbUrl: string,
  backup: string,
  now = Date.now(),
): Promise<RestoreResult> {
  const target = sqliteFile(dbUrl);
  const from = path.resolve(backup);
  if (!existsSync(from)) throw new BackupInputError(`${from}: no such file`);
  if (from === target) throw new BackupInputError("the backup file is the database itself");
  checkBackupFile(from);
  let previous: string | null = null;
  if (existsSync(target)) {
    previous = `${target}.before-restore-${new Date(now).toISOString().replace(/[:.]/g, "-")}`;
    const current = new Database(target, { readonly: true, fileMustExist: true });
    try {
      await current.backup(previous);
    } finally {
      current.close();
    }
  }
  // The backup API writes every page into the destination through SQLite's
  // own locking, so the WAL and shm of the old file stay coherent.
  const src = new Database(from, { readonly: true, fileMustExist: true });
  try {
    await src.backup(target);
  } finally {
    src.close();
  }
  return { previous, bytes: statSync(target).size };
}

/** A backup is an intact SQLite file written by this srvutil or an older one. */
function checkBackupFile(file: string): void {
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw new BackupInputError(`${file}: not a SQLite database (${(err as Error).message})`);
  }
  try {
    let versions: number[];
    try {
      const check = db.pragma("quick_check", { simple: true });
      if (check !== "ok") throw new BackupInputError(`${file}: damaged SQLite file (${String(check)})`);
      versions = db
        .prepare("SELECT version FROM schema_migrations WHERE component = 'metrics'")
        .pluck()
        .all() as number[];
    } catch (err) {
      if (err instanceof BackupInputError) throw err;
      throw new BackupInputError(`${file}: not a srvutil database (${(err as Error).message})`);
    }
    if (versions.length === 0)
      throw new BackupInputError(`${file}: not a srvutil database (no metrics schema)`);
    refuseNewerSchema("metrics", versions, METRICS_MIGRATIONS);
  } finally {
    db.close();
  }
}
