import type Database from "better-sqlite3";
import { recordAppliedMigration } from "../migration-log.js";
import { refuseNewerSchema } from "../schema-version.js";

export interface Migration {
  version: number;
  description: string;
  sql: string;
}

/**
 * Applies the pending migrations of one component ("metrics", "deliveries",
 * …) in order, each in its own transaction. Components keep separate version
 * sequences so that parts of the schema owned by different modules evolve
 * independently.
 */
export function runMigrations(
  db: Database.Database,
  component: string,
  migrations: readonly Migration[],
): void {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    component TEXT NOT NULL,
    version INTEGER NOT NULL,
    description TEXT NOT NULL,
    applied_at TEXT NOT NULL,
    PRIMARY KEY (component, version)
  )`);
  refuseNewerSchema(
    component,
    db
      .prepare("SELECT version FROM schema_migrations WHERE component = ?")
      .pluck()
      .all(component) as number[],
    migrations,
  );
  // Checked again inside each IMMEDIATE transaction: two processes starting
  // on a new database must not both apply the same migration.
  const isApplied = db.prepare("SELECT 1 FROM schema_migrations WHERE component = ? AND version = ?");
  const record = db.prepare(
    "INSERT INTO schema_migrations (component, version, description, applied_at) VALUES (?, ?, ?, ?)",
  );
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    const ran = db
      .transaction(() => {
        if (isApplied.get(component, m.version) !== undefined) return false;
        db.exec(m.sql);
        record.run(component, m.version, m.description, new Date().toISOString());
        return true;
      })
      .immediate();
    if (ran) recordAppliedMigration(db, { component, version: m.version, description: m.description });
  }
}
