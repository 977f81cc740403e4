import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { accessScope, parseScopeGroups, silenceVisible } from "../../../src/central/auth/principal.js";
import { parseDeliveryGroups } from "../../../src/central/delivery/groups.js";
import { runMigrations } from "../../../src/central/storage/sqlite/migrate.js";
import { METRICS_MIGRATIONS } from "../../../src/central/storage/sqlite/schema.js";
import { SqliteStore } from "../../../src/central/storage/sqlite/sqlite-store.js";
import { USERS_MIGRATIONS } from "../../../src/central/storage/sqlite/users.js";

const groups = parseDeliveryGroups(
  {
    groups: [
      { name: "payments", servers: ["pay-*"], to: ["p@example.com"] },
      { name: "db", servers: ["db-0?", "pay-db"], to: ["d@example.com"] },
    ],
  },
  ["ops@example.com"],
);

describe("accessScope", () => {
  it("gives admins and unscoped viewers every server, whatever groups they name", () => {
    for (const p of [
      { role: "admin" as const, groups: null },
      { role: "admin" as const, groups: ["db"] },
      { role: "viewer" as const, groups: null },
    ]) {
      const s = accessScope(p, groups);
      expect(s.whole).toBe(true);
      expect(s.sees("anything-else")).toBe(true);
      expect(s.seesGroup("payments")).toBe(true);
    }
  });

  it("gives a scoped viewer the union of its groups' servers, and nothing for a group the file no longer has", () => {
    const s = accessScope({ role: "viewer", groups: ["db", "gone"] }, groups);
    expect(s.whole).toBe(false);
    expect(["db-01", "DB-02", "pay-db"].map(s.sees)).toEqual([true, true, true]);
    expect(["pay-01", "db-100", "web-01"].map(s.sees)).toEqual([false, false, false]);
    const both = accessScope({ role: "viewer", groups: ["db", "payments"] }, groups);
    expect(["pay-01", "db-01", "web-01"].map(both.sees)).toEqual([true, true, false]);
    expect(accessScope({ role: "viewer", groups: ["gone"] }, groups).sees("pay-01")).toBe(false);
    expect(accessScope({ role: "viewer", groups: [] }, groups).sees("pay-01")).toBe(false);
    expect(s.seesGroup("db")).toBe(true);
    expect(s.seesGroup("default")).toBe(false);
  });

  it("shows a scoped viewer the silences of its groups and servers, never a glob", () => {
    const s = accessScope({ role: "viewer", groups: ["db"] }, groups);
    const v = (server: string | null, group: string | null) => silenceVisible(s, { server, group });
    expect([v(null, "db"), v("db-01", null), v(null, null)]).toEqual([true, true, true]);
    expect([v(null, "payments"), v("pay-01", null), v("db-*", null), v("*", null)]).toEqual([
      false,
      false,
      false,
      false,
    ]);
  });
});

describe("parseScopeGroups", () => {
  it("reads A,B, drops blanks and repeats, and takes empty as unscoped", () => {
    expect(parseScopeGroups(" db, payments,,db ", "viewer", groups)).toEqual(["db", "payments"]);
    expect(parseScopeGroups("", "viewer", groups)).toBeNull();
    expect(parseScopeGroups(undefined, "admin", groups)).toBeNull();
  });

  it("refuses unknown names with the ones the file has, and groups on an admin", () => {
    expect(() => parseScopeGroups("db,nope,x y", "viewer", groups)).toThrow(
      "unknown groups 'nope', 'x y': the groups file (SRVUTIL_GROUPS_FILE) has default, payments, db",
    );
    expect(() => parseScopeGroups("db", "admin", groups)).toThrow("groups limit viewers only");
  });
});

let dir: string | undefined;
afterEach(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

it("an upgraded SQLite database keeps its users and viewer tokens unscoped", async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-scope-"));
  const file = path.join(dir, "old.db");
  const old = new SqliteStore(file);
  runMigrations(
    old.db,
    "metrics",
    METRICS_MIGRATIONS.filter((m) => m.version <= 4),
  );
  runMigrations(
    old.db,
    "users",
    USERS_MIGRATIONS.filter((m) => m.version <= 2),
  );
  old.db
    .prepare(
      "INSERT INTO dashboard_users (name, role, password_hash, created_at) VALUES ('v', 'viewer', 'h', 1)",
    )
    .run();
  old.db
    .prepare(
      "INSERT INTO viewer_tokens (token_id, name, secret_hash, created_at) VALUES ('aaaaaaaaaaaa', 'ops', 'h', 1)",
    )
    .run();
  await old.close();
  const store = new SqliteStore(file);
  await store.init();
  try {
    expect(await store.users.findUser("v")).toMatchObject({ role: "viewer", groups: null });
    expect((await store.tokens.find("viewer", "aaaaaaaaaaaa"))?.groups ?? null).toBeNull();
  } finally {
    await store.close();
  }
});
