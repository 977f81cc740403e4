import type Database from "better-sqlite3";

/**
 * Statements prepared once per connection: a refresh touches thousands of
 * (server, hour) ranges and preparing the same SQL for each was about a
 * quarter of its time (bench:ingest soak profile). Every call site sets its
 * own mode (raw, pluck) on each use, so sharing is safe.
 */
const statementCache = new WeakMap<Database.Database, Map<string, Database.Statement>>();

export function prepared(db: Database.Database, sql: string): Database.Statement {
  let bySql = statementCache.get(db);
  if (bySql === undefined) {
    bySql = new Map();
    statementCache.set(db, bySql);
  }
  let statement = bySql.get(sql);
  if (statement === undefined) {
    statement = db.prepare(sql);
    bySql.set(sql, statement);
  }
  return statement;
}

/**
 * SQL shared with PostgreSQL, written with its `$N` placeholders, as SQLite's
 * `?`. better-sqlite3 binds positional values only to plain `?`, so each `$N`
 * must stand once and in order ($1, $2, …); anything else throws here.
 */
export function fromPg(sql: string): string {
  let n = 0;
  return sql.replace(/\$(\d+)/g, (_, d: string) => {
    if (Number(d) !== ++n) throw new Error(`fromPg: $${d} out of order in ${sql}`);
    return "?";
  });
}
