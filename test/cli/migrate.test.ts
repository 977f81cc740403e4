/**
 * `srvutil central migrate` as a real process: it reports what it applied,
 * says so when there is nothing to do, exits with the unavailable code when
 * the database does not answer, and two of them started at once on a fresh
 * PostgreSQL schema apply every migration exactly once between them.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { EXIT_CODE } from "../../src/errors.js";
import { runCli } from "../helpers/cli.js";
import { freePort } from "../helpers/net.js";
import { createTestSchema, findTestPostgres, requirePostgres } from "../helpers/postgres.js";

const PG = await findTestPostgres();

/** "  metrics 1: samples, uploads, agent tokens" → "metrics 1". */
function appliedLines(stdout: string): string[] {
  return [...stdout.matchAll(/^ {2}(\S+ \d+): /gm)].map((m) => m[1]!);
}

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const fn of cleanups.reverse()) await fn().catch(() => {});
});

function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-migrate-"));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe("srvutil central migrate", () => {
  it("applies the SQLite schema, lists what it applied, and finds nothing to do the second time", async () => {
    const env = { ...process.env, SRVUTIL_DATA_DIR: tempDir() };
    const first = await runCli(["central", "migrate"], env);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^Applied \d+ migrations to the sqlite schema:/);
    const applied = appliedLines(first.stdout);
    expect(applied).toContain("metrics 1");
    expect(applied).toContain("deliveries 1");
    expect(applied).toContain("coordination 1");
    expect(applied).toContain("raw_uploads 1");
    expect(applied).toContain("alerts 1");
    expect(applied).toContain("server_tags 1");
    const second = await runCli(["central", "migrate"], env);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toBe("The sqlite schema is current: no migrations to apply\n");
  }, 60_000);

  it("exits 69 (unavailable) naming SRVUTIL_DB_URL when PostgreSQL does not answer", async () => {
    const port = await freePort(); // nothing listens there
    const r = await runCli(["central", "migrate"], {
      ...process.env,
      SRVUTIL_DATA_DIR: tempDir(),
      SRVUTIL_DB_URL: `postgres://postgres@127.0.0.1:${port}/postgres`,
    });
    expect(r.code).toBe(EXIT_CODE.unavailable);
    expect(r.stderr).toContain("SRVUTIL_DB_URL");
    expect(r.stderr).toMatch(/does not answer/);
  }, 60_000);

  it("two started at once on a fresh PostgreSQL schema apply each migration exactly once", async (ctx) => {
    const url = requirePostgres(ctx, PG);
    const { schema, drop } = await createTestSchema(url);
    cleanups.push(drop);
    const dbUrl = `${url}${url.includes("?") ? "&" : "?"}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
    const env = { ...process.env, SRVUTIL_DB_URL: dbUrl };
    const [one, two] = await Promise.all([
      runCli(["central", "migrate"], { ...env, SRVUTIL_DATA_DIR: tempDir() }),
      runCli(["central", "migrate"], { ...env, SRVUTIL_DATA_DIR: tempDir() }),
    ]);
    expect(one.code, one.stderr).toBe(0);
    expect(two.code, two.stderr).toBe(0);
    const a = appliedLines(one.stdout);
    const b = appliedLines(two.stdout);
    expect(a.filter((m) => b.includes(m))).toEqual([]);
    const client = new pg.Client({ connectionString: dbUrl });
    await client.connect();
    try {
      const rows = (
        await client.query<{ m: string }>(
          "SELECT component || ' ' || version AS m FROM schema_migrations ORDER BY component, version",
        )
      ).rows.map((r) => r.m);
      expect([...a, ...b].sort()).toEqual([...rows].sort());
      expect(rows).toContain("metrics 1");
      expect(rows).toContain("coordination 1");
      expect(rows).toContain("raw_uploads 1");
      expect(rows).toContain("alerts 1");
      expect(rows).toContain("agent_updates 1");
      expect(rows).toContain("server_tags 1");
    } finally {
      await client.end();
    }
    const again = await runCli(["central", "migrate"], { ...env, SRVUTIL_DATA_DIR: tempDir() });
    expect(again.stdout).toBe("The postgres schema is current: no migrations to apply\n");
  }, 60_000);
});
