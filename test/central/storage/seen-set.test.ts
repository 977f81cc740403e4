/**
 * The seen sets of sealed hours (src/central/storage/rollups/seen-set.ts): exact
 * round trips, the size the docs state, and the same bytes from the SQL that
 * writes them set-based on each backend (SQLite's srvutil_seen aggregate,
 * PostgreSQL's insertSeenSetsSql) as from SeenSet.encode.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { insertSeenSetsSql } from "../../../src/central/storage/rollups/postgres/sealed-hours.js";
import { SeenSet } from "../../../src/central/storage/rollups/seen-set.js";
import { SqliteStore } from "../../../src/central/storage/sqlite/sqlite-store.js";
import { rng } from "../../helpers/fleet.js";
import { createTestSchema, findTestPostgres, requirePostgres } from "../../helpers/postgres.js";

const PG = await findTestPostgres();
const HOUR = 3_600_000;

/** Random offsets within an hour: whole seconds, or milliseconds, with repeats (several mounts). */
function randomOffsets(r: () => number, n: number, wholeSeconds: boolean): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const v = wholeSeconds ? Math.floor(r() * 3600) * 1000 : Math.floor(r() * HOUR);
    out.push(v);
    if (r() < 0.3) out.push(v); // a second mount of the same sample
  }
  if (r() < 0.2) out.push(0, HOUR - (wholeSeconds ? 1000 : 1)); // the hour's bounds
  return out;
}

const cases = (() => {
  const r = rng(24);
  const list: number[][] = [[0], [HOUR - 1], [5 * 60_000], Array.from({ length: 60 }, (_, i) => i * 60_000)];
  for (let i = 0; i < 40; i++) list.push(randomOffsets(r, 1 + Math.floor(r() * 400), r() < 0.6));
  return list;
})();

describe("SeenSet", () => {
  it("round-trips exactly and answers membership", () => {
    const r = rng(7);
    for (const offsets of cases) {
      const set = SeenSet.of(offsets);
      const back = SeenSet.decode(set.encode());
      expect(back.offsets).toEqual([...new Set(offsets)].sort((a, b) => a - b));
      for (const o of offsets) expect(back.has(o)).toBe(true);
      for (let i = 0; i < 50; i++) {
        const probe = Math.floor(r() * HOUR);
        expect(back.has(probe)).toBe(offsets.includes(probe));
      }
    }
  });

  it("keeps a legacy range through additions and encoding", () => {
    const set = SeenSet.range(60_000, 1_800_000).withAdded([3_000_000, 59_999]);
    const back = SeenSet.decode(set.encode());
    expect(back.range).toEqual([60_000, 1_800_000]);
    expect(back.offsets).toEqual([59_999, 3_000_000]);
    for (const o of [60_000, 900_500, 1_800_000, 59_999, 3_000_000]) expect(back.has(o)).toBe(true);
    for (const o of [59_998, 1_800_001, 2_999_999]) expect(back.has(o)).toBe(false);
  });

  it("costs one byte per sample a minute apart (plus one): 61 bytes for an hour", () => {
    expect(SeenSet.of(cases[3]!).encode()).toHaveLength(61);
    // Every ten minutes: deltas of 600 s take two bytes.
    expect(SeenSet.of(Array.from({ length: 6 }, (_, i) => i * 600_000)).encode()).toHaveLength(1 + 1 + 5 * 2);
  });

  it("refuses bytes it did not write", () => {
    expect(() => SeenSet.decode(Uint8Array.from([]))).toThrow(/empty/);
    expect(() => SeenSet.decode(Uint8Array.from([8]))).toThrow(/flags/);
    expect(() => SeenSet.decode(Uint8Array.from([0, 0x80]))).toThrow(/truncated/);
  });
});

describe("seen sets written by SQL", () => {
  it("SQLite: the srvutil_seen aggregate writes SeenSet.encode's bytes", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-seen-"));
    const store = new SqliteStore(path.join(dir, "s.db"));
    try {
      await store.init();
      await store.rollups.refresh(); // registers the aggregate on this connection
      const select = store.db.prepare("SELECT srvutil_seen(value) FROM json_each(?)").pluck();
      for (const offsets of cases) {
        expect(new Uint8Array(select.get(JSON.stringify(offsets)) as Buffer)).toEqual(
          SeenSet.of(offsets).encode(),
        );
      }
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("PostgreSQL: insertSeenSetsSql writes SeenSet.encode's bytes", async (ctx) => {
    const url = requirePostgres(ctx, PG);
    const { schema, drop } = await createTestSchema(url, "srvutil_seen");
    const { PgStore } = await import("../../../src/central/storage/postgres/pg-store.js");
    const store = new PgStore(url, { schema, max: 2 });
    try {
      await store.init();
      const servers: string[] = [];
      const ts: number[] = [];
      const base = Date.UTC(2026, 0, 5, 10);
      cases.forEach((offsets, i) => {
        for (const o of offsets) {
          servers.push(`s-${i}`);
          ts.push(base + i * HOUR + o);
        }
      });
      await store.pool.query(
        insertSeenSetsSql("(SELECT * FROM unnest($1::text[], $2::int8[]) AS x(server, ts)) AS src"),
        [servers, ts],
      );
      const rows = (
        await store.pool.query<{ server: string; hour: number; seen: Buffer }>(
          "SELECT server, hour, seen FROM rollup_hour_seen",
        )
      ).rows;
      expect(rows).toHaveLength(cases.length);
      for (const r of rows) {
        const i = Number(r.server.slice(2));
        expect(r.hour).toBe(base + i * HOUR);
        expect(new Uint8Array(r.seen)).toEqual(SeenSet.of(cases[i]!).encode());
      }
    } finally {
      await store.close();
      await drop();
    }
  });
});
