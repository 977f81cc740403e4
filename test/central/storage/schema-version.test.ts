import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { authenticate, createAgentToken } from "../../../src/central/auth/tokens.js";
import { PgDeliveryStore } from "../../../src/central/storage/postgres/deliveries.js";
import { PgStore } from "../../../src/central/storage/postgres/pg-store.js";
import { SchemaTooNewError } from "../../../src/central/storage/schema-version.js";
import { runMigrations } from "../../../src/central/storage/sqlite/migrate.js";
import { METRICS_MIGRATIONS } from "../../../src/central/storage/sqlite/schema.js";
import { SqliteStore } from "../../../src/central/storage/sqlite/sqlite-store.js";
import { createTestSchema, findTestPostgres } from "../../helpers/postgres.js";

// docs/upgrading.md: migrations run at start and only go forward; an older
// srvutil refuses a database a newer one migrated.
const PG = await findTestPostgres();

let dir: string;
afterEach(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe("SQLite schema versions", () => {
  it("upgrades a version-2 database in place: its tokens keep working and gain a last use", async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-schema-"));
    const file = path.join(dir, "old.db");
    const v2 = new SqliteStore(file);
    // What srvutil 0.1.0 (metrics schema 2) created.
    runMigrations(
      v2.db,
      "metrics",
      METRICS_MIGRATIONS.filter((m) => m.version <= 2),
    );
    v2.db
      .prepare(
        "INSERT INTO agent_tokens (token_id, server, secret_hash, created_at, revoked_at) VALUES ('aaaaaaaaaaaa', 'web-01', ?, 1, NULL)",
      )
      .run("2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b"); // sha256("secret")
    await v2.close();

    const store = new SqliteStore(file);
    await store.init();
    try {
      const versions = store.db
        .prepare("SELECT version FROM schema_migrations WHERE component = 'metrics' ORDER BY version")
        .pluck()
        .all();
      expect(versions).toEqual(METRICS_MIGRATIONS.map((m) => m.version));
      expect(await store.tokens.find("agent", "aaaaaaaaaaaa")).toMatchObject({
        server: "web-01",
        lastUsedAt: null,
      });
      const token = await createAgentToken(store, "web-02");
      const auth = await authenticate(store, `Bearer ${token}`, "agent");
      expect(auth).toMatchObject({ ok: true, name: "web-02" });
      // The last use is written without being awaited by the request: wait for it.
      await new Promise((r) => setTimeout(r, 20));
      expect((await store.tokens.find("agent", token.split("_")[1]!))!.lastUsedAt).toBeGreaterThan(0);
    } finally {
      await store.close();
    }
  });

  it("refuses a database migrated by a newer srvutil, and changes nothing in it", async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-schema-"));
    const file = path.join(dir, "new.db");
    const store = new SqliteStore(file);
    await store.init();
    store.db
      .prepare(
        "INSERT INTO schema_migrations (component, version, description, applied_at) VALUES ('metrics', 99, 'future', 'x')",
      )
      .run();
    await store.close();
    const older = new SqliteStore(file);
    try {
      await expect(older.init()).rejects.toThrow(SchemaTooNewError);
      await expect(older.init()).rejects.toThrow(
        /metrics schema is at version 99, written by a newer srvutil; this one knows up to version 5\. Downgrades are not supported/,
      );
    } finally {
      await older.close();
    }
    const db = new Database(file, { readonly: true });
    expect(
      db.prepare("SELECT COUNT(*) FROM schema_migrations WHERE component = 'metrics'").pluck().get(),
    ).toBe(METRICS_MIGRATIONS.length + 1);
    db.close();
  });
});

describe("PostgreSQL schema versions", () => {
  it("refuses metrics and deliveries schemas newer than this build", async (ctx) => {
    if (PG.skipReason !== undefined) ctx.skip(PG.skipReason);
    const url = PG.url!;
    const { schema, drop } = await createTestSchema(url);
    const store = new PgStore(url, { schema, max: 2 });
    try {
      await store.init();
      await new PgDeliveryStore(store.pool).init();
      await store.pool.query(
        "INSERT INTO schema_migrations (component, version, description, applied_at) VALUES ('metrics', 99, 'f', 'x'), ('deliveries', 99, 'f', 'x')",
      );
      await expect(store.init()).rejects.toThrow(/metrics schema is at version 99/);
      await expect(new PgDeliveryStore(store.pool).init()).rejects.toThrow(
        /deliveries schema is at version 99/,
      );
      const cols = await store.pool.query<{ column_name: string }>(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'agent_tokens'",
        [schema],
      );
      expect(cols.rows.map((r) => r.column_name)).toContain("last_used_at");
    } finally {
      await store.close();
      await drop();
    }
  });
});
