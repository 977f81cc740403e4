import type pg from "pg";
import { recordAppliedMigration } from "../migration-log.js";
import { refuseNewerSchema } from "../schema-version.js";
import type { Migration } from "../sqlite/migrate.js";

export type { Migration };

/**
 * Applies the pending migrations of one component ("metrics", "deliveries",
 * "rollups", …) in order, in one transaction, under one advisory lock that
 * every component shares: several central instances may start at once, one
 * migrates and the others wait, then find nothing left to do. Components keep
 * separate version sequences (the same table and rule as SQLite's
 * ../sqlite/migrate.ts).
 */
export async function runPgMigrations(
  pool: pg.Pool,
  component: string,
  migrations: readonly Migration[],
): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    await client.query("SELECT pg_advisory_xact_lock(hashtext('srvutil-migrations'))");
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      component TEXT NOT NULL, version INTEGER NOT NULL, description TEXT NOT NULL,
      applied_at TEXT NOT NULL, PRIMARY KEY (component, version))`);
    const applied = new Set(
      (
        await client.query<{ version: number }>(
          "SELECT version FROM schema_migrations WHERE component = $1",
          [component],
        )
      ).rows.map((r) => r.version),
    );
    refuseNewerSchema(component, applied, migrations);
    const done: Migration[] = [];
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (applied.has(m.version)) continue;
      await client.query(m.sql);
      await client.query(
        "INSERT INTO schema_migrations (component, version, description, applied_at) VALUES ($1, $2, $3, $4)",
        [component, m.version, m.description, new Date().toISOString()],
      );
      done.push(m);
    }
    await client.query("COMMIT");
    for (const m of done)
      recordAppliedMigration(pool, { component, version: m.version, description: m.description });
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}
