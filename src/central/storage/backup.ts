import { chmodSync, existsSync, mkdirSync, renameSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { InputError, UnavailableError } from "../../errors.js";
import { refuseNewerSchema } from "./schema-version.js";
import { METRICS_MIGRATIONS } from "./sqlite/schema.js";

/**
 * `srvutil central backup FILE` and `central restore FILE`. Everything that
 * lives only in the database (samples, uploads, tokens, deliveries, the
 * schedule, rollups, dashboard users) is in one SQLite file, copied with
 * SQLite's online backup API: consistent while `central serve` keeps
 * ingesting, and no half-written page is ever copied. received_metrics/ (the
 * raw files) is not in it: it only grows and its files are never rewritten,
 * so a file backup copies it incrementally; `central restore` re-ingests the
 * raw files it finds there that arrived after the backup. PostgreSQL has its
 * own tools (pg_dump); docs/operations.md says how.
 */

/** The command cannot run against this database (PostgreSQL) or with this file. */
export class BackupInputError extends InputError {}

/**
 * The data directory and backup folders hold password and token hashes:
 * created for the owner only.
 */
const PRIVATE_DIR_MODE = 0o700;
const PRIVATE_FILE_MODE = 0o600;

/**
 * The whole copy in ONE backup step. Each step is a read transaction on the
 * source; in WAL mode (how `central serve` runs SQLite) a reader never blocks
 * the writer, so uploads keep being committed while it runs. A paged copy
 * (better-sqlite3's default of 100 pages a step) would instead restart from
 * the first page whenever another process writes between two steps, and
 * under steady uploads a large database's backup might never finish.
 */
const ALL_PAGES = 0x7fffffff;
const copyInOneStep = { progress: () => ALL_PAGES };

export interface BackupResult {
  file: string;
  bytes: number;
}

export interface RestoreResult {
  /** The database file written. */
  database: string;
  /** The database that was replaced, kept beside it; null when there was none. */
  previous: string | null;
  bytes: number;
  /** The data directory did not exist and was created (mode 0700). */
  createdDir: boolean;
  /** When the newest upload in the backup was received (ms); null when it has none. */
  newestUploadAt: number | null;
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
  ensureDirectory(path.dirname(out));
  // Written under a temporary name and renamed when complete and checked, so
  // a backup interrupted half-way never looks like a good one.
  const partial = `${out}.partial`;
  rmSync(partial, { force: true });
  const db = new Database(source, { readonly: true, fileMustExist: true });
  try {
    db.pragma("busy_timeout = 5000");
    await db.backup(partial, copyInOneStep);
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
    chmodSync(partial, PRIVATE_FILE_MODE);
  } catch (err) {
    rmSync(partial, { force: true });
    throw err;
  }
  renameSync(partial, out);
  return { file: out, bytes: statSync(out).size };
}

/**
 * Replaces the central's database with a backup, or puts it in place on a new
 * machine: a missing data directory is created (mode 0700). `central serve`
 * must be stopped; a live one (its heartbeat in the database) is refused. The
 * current database (if any) is first copied beside itself as
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
  if (!statSync(from).isFile())
    throw new BackupInputError(`${from}: not a file written by \`central backup\``);
  if (from === target) throw new BackupInputError("the backup file is the database itself");
  checkBackupFile(from);
  const createdDir = ensureDirectory(path.dirname(target));
  let previous: string | null = null;
  if (existsSync(target)) {
    refuseWhileServing(target, now);
    previous = `${target}.before-restore-${new Date(now).toISOString().replace(/[:.]/g, "-")}`;
    const current = new Database(target, { readonly: true, fileMustExist: true });
    try {
      await current.backup(previous, copyInOneStep);
    } finally {
      current.close();
    }
  }
  const isNew = !existsSync(target);
  // The backup API writes every page into the destination through SQLite's
  // own locking, so the WAL and shm of the old file stay coherent.
  const src = new Database(from, { readonly: true, fileMustExist: true });
  try {
    await src.backup(target, copyInOneStep);
  } finally {
    src.close();
  }
  if (isNew) chmodSync(target, PRIVATE_FILE_MODE);
  const newestUploadAt = forgetOldInstances(target);
  return { database: target, previous, bytes: statSync(target).size, createdDir, newestUploadAt };
}

/**
 * Creates `dir` (and its parents) for the owner only when missing; true when
 * it did. A path that exists but is not a directory is the user's mistake.
 */
function ensureDirectory(dir: string): boolean {
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new BackupInputError(`${dir} exists and is not a directory`);
    return false;
  }
  try {
    mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  } catch (err) {
    throw new BackupInputError(`cannot create the directory ${dir}: ${(err as Error).message}`);
  }
  return true;
}

/** Refuses while a `central serve` has a fresh heartbeat in the database being replaced. */
function refuseWhileServing(target: string, now: number): void {
  let live: { description: string }[] = [];
  const db = new Database(target, { readonly: true, fileMustExist: true });
  try {
    db.pragma("busy_timeout = 5000");
    live = db
      .prepare("SELECT description FROM central_instances WHERE expires_at > ? ORDER BY id")
      .all(now) as { description: string }[];
  } catch {
    // No coordination tables (an older or foreign file): nothing announces a serve.
  } finally {
    db.close();
  }
  if (live.length > 0) {
    throw new UnavailableError(
      `central restore: ${live.length} central serve instance${live.length === 1 ? " is" : "s are"} running on ${target} (${live.map((i) => i.description).join("; ")}); uploads it takes would be lost. Stop it first (a killed one drops off within 30 s), then run the restore again.`,
      { reason: "central_serving" },
    );
  }
}

/**
 * A backup taken while serving holds that instance's heartbeat; on the new
 * machine it would make `central rebuild` and the next restore believe a
 * serve is running until it expires. Removed from the restored copy. Returns
 * when the newest upload in it was received.
 */
function forgetOldInstances(target: string): number | null {
  const db = new Database(target, { fileMustExist: true });
  try {
    db.pragma("busy_timeout = 5000");
    try {
      db.exec("DELETE FROM central_instances");
    } catch {
      // A backup from before the coordination tables: nothing to forget.
    }
    return (db.prepare("SELECT max(received_at) FROM uploads").pluck().get() as number | null) ?? null;
  } finally {
    db.close();
  }
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
