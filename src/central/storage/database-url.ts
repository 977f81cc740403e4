import path from "node:path";

/**
 * What SRVUTIL_DB_URL (`sqlite:/abs/path.db` or `postgres://user:pass@host:5432/db`)
 * says beyond the backend it names, for code outside storage/ (the service
 * installer) that must not parse it itself. ./open.ts opens it.
 */

/** The file part of a SQLite URL (`sqlite:/path`, `sqlite:///path`, `sqlite::memory:`), or null for any other URL. */
export function sqliteFileOf(dbUrl: string): string | null {
  if (!dbUrl.startsWith("sqlite:")) return null;
  const file = dbUrl.slice("sqlite:".length);
  return file.startsWith("//") ? file.slice(2) : file; // sqlite:///abs/path
}

/** True for a `postgres://` or `postgresql://` URL. */
export function isPostgresUrl(dbUrl: string): boolean {
  return /^postgres(ql)?:\/\//.test(dbUrl);
}

/**
 * The local directory the database lives in, which the central's service
 * account must be able to write (a SQLite file and its WAL); null when the
 * database is not a local file (PostgreSQL, in-memory SQLite).
 */
export function localDatabaseDirectory(dbUrl: string): string | null {
  const file = sqliteFileOf(dbUrl);
  return file === null || file === ":memory:" ? null : path.dirname(path.resolve(file));
}

/** The URL as it may be shown: a PostgreSQL password as ***; a SQLite URL names a file and has nothing secret. */
export function redactDatabaseUrl(dbUrl: string): string {
  return /^postgres/.test(dbUrl) ? dbUrl.replace(/\/\/([^:@/]*):[^@/]*@/, "//$1:***@") : dbUrl;
}
