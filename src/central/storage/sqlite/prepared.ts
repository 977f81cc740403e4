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
