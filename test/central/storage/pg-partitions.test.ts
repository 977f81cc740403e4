import pg from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  insertOptions,
  SAMPLE_INSERT_METHODS,
  type SampleInsertMethod,
} from "../../../bench/support/pg-sample-insert.js";
import { sampleValues } from "../../../src/central/storage/db-rows.js";
import { runPgMigrations } from "../../../src/central/storage/postgres/migrate.js";
import { WEEK_MS, weekStartOf } from "../../../src/central/storage/postgres/partitions.js";
import { PG_METRICS_MIGRATIONS, PgStore } from "../../../src/central/storage/postgres/pg-store.js";
import type { MetricRow } from "../../../src/protocol/index.js";
import {
  createTestSchema,
  findTestPostgres,
  requirePostgres,
  type TestSchema,
} from "../../helpers/postgres.js";
import { row } from "../ingest/fixtures.js";

/** The partitioned samples table on the real PostgreSQL: upgrade, partitions on demand, every insert method. */
const PG = await findTestPostgres();

let schema: TestSchema | undefined;
let url = "";
const stores: PgStore[] = [];
let admin: pg.Client | undefined;

beforeEach(async (ctx) => {
  url = requirePostgres(ctx, PG);
  schema = await createTestSchema(url, "srvutil_part");
  admin = new pg.Client({ connectionString: url, options: `-c search_path=${schema.schema}` });
  await admin.connect();
});

afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  await admin?.end();
  await schema?.drop();
});

function open(options: { insertMethod?: SampleInsertMethod } = {}): PgStore {
  const s = new PgStore(url, { schema: schema!.schema, max: 3, ...insertOptions(options.insertMethod) });
  stores.push(s);
  return s;
}

const upload = (id: string, server: string) => ({
  uploadId: id,
  server,
  receivedAt: Date.UTC(2026, 10, 25),
  rawPath: `received_metrics/${server}/2026-11-25/${id}.csv`,
  sha256: `sha-${id}`,
  bytes: 10,
});

async function collect(store: PgStore, from = 0, to = Number.MAX_SAFE_INTEGER): Promise<MetricRow[]> {
  const out: MetricRow[] = [];
  for await (const r of store.samples({ from, to })) out.push(r);
  return out;
}

async function partitionNames(): Promise<string[]> {
  const r = await admin!.query<{ name: string }>(
    "SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'samples'::regclass ORDER BY 1",
  );
  return r.rows.map((x) => x.name);
}

/** `n` rows 10 minutes apart from `start`, mounts / and /data (with a tab and a backslash, for COPY's escaping). */
function series(server: string, start: number, n: number): MetricRow[] {
  const rows: MetricRow[] = [];
  for (let i = 0; i < n; i++) {
    for (const mount of ["/", "D:\\data\tx"]) {
      rows.push({
        ...row(server, new Date(start + i * 600_000).toISOString(), mount),
        cpuPercent: (i * 7.3) % 100,
        cpuPeakPercent: i % 3 === 0 ? null : 50,
        intervalSeconds: i % 5 === 0 ? null : 600,
      });
    }
  }
  return rows;
}

describe("PostgreSQL samples partitioned by week", () => {
  it("upgrades an unpartitioned samples table with its rows to weekly partitions", async () => {
    // The schema as main had it: only the "metrics" migrations, samples a plain table.
    const pool = new pg.Pool({ connectionString: url, options: `-c search_path=${schema!.schema}` });
    await runPgMigrations(pool, "metrics", PG_METRICS_MIGRATIONS);
    const old = [
      ...series("alpha", Date.UTC(2026, 9, 30, 20), 400), // Fri 30 Oct → Tue 3 Nov: two weeks
      ...series("beta", Date.UTC(2026, 10, 20), 10),
    ];
    for (const r of old) {
      await pool.query(
        "INSERT INTO samples VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        sampleValues(r),
      );
    }
    await pool.query(
      "INSERT INTO server_stats SELECT server, MIN(ts), MAX(ts), COUNT(*) FROM samples GROUP BY server",
    );
    await pool.end();
    const relkind = async () =>
      (
        await admin!.query<{ relkind: string }>(
          "SELECT relkind FROM pg_class WHERE oid = 'samples'::regclass",
        )
      ).rows[0]!.relkind;
    expect(await relkind()).toBe("r"); // a plain table

    const store = open();
    await store.init();
    expect(await relkind()).toBe("p"); // partitioned
    const names = await partitionNames();
    expect(names).toEqual(
      expect.arrayContaining(["samples_p20261026", "samples_p20261102", "samples_p20261116"]),
    );
    expect(names).not.toContain("samples_p20261109"); // no rows that week, not ahead of now either
    expect((await admin!.query("SELECT to_regclass('samples_unpartitioned') AS t")).rows[0].t).toBeNull();
    const expected = [...old].sort(
      (a, b) =>
        (a.server < b.server ? -1 : a.server > b.server ? 1 : 0) ||
        a.timestamp - b.timestamp ||
        (a.diskMount < b.diskMount ? -1 : a.diskMount > b.diskMount ? 1 : 0),
    );
    expect(await collect(store)).toEqual(expected);
    // Writes after the upgrade keep deduplicating against the moved rows.
    const again = await store.ingest(
      upload("u-again", "alpha"),
      old.filter((r) => r.server === "alpha").slice(0, 50),
    );
    expect(again).toMatchObject({ inserted: 0, duplicates: 50 });
  });

  it("takes uploads for any time, far past or far future, creating their weeks on demand", async () => {
    const store = open();
    await store.init();
    const before = await partitionNames();
    const rows = [
      ...series("alpha", Date.UTC(2000, 0, 2, 23), 12), // Sunday → Monday: two weeks
      ...series("alpha", Date.UTC(2090, 5, 1), 3),
    ];
    expect(await store.ingest(upload("u1", "alpha"), rows)).toMatchObject({
      inserted: rows.length,
      duplicates: 0,
    });
    const added = (await partitionNames()).filter((n) => !before.includes(n));
    expect(added.sort()).toEqual(["samples_p19991227", "samples_p20000103", "samples_p20900529"]);
    expect(await collect(store)).toHaveLength(rows.length);
  });

  it("keys every per-server table by server first, so it can be distributed by server", async () => {
    const store = open();
    await store.init();
    const r = await admin!.query<{ table: string; key: string[] }>(
      `SELECT c.relname AS table, array_agg(a.attname ORDER BY k.ord)::text[] AS key
       FROM pg_constraint p
       JOIN pg_class c ON c.oid = p.conrelid
       JOIN unnest(p.conkey) WITH ORDINALITY AS k(attnum, ord) ON true
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
       WHERE p.contype = 'p' AND c.relnamespace = current_schema()::regnamespace
         AND c.relkind IN ('r', 'p') AND c.relname NOT LIKE 'samples_p%'
         AND EXISTS (SELECT 1 FROM pg_attribute s WHERE s.attrelid = c.oid AND s.attname = 'server' AND NOT s.attisdropped)
       GROUP BY c.relname ORDER BY 1`,
    );
    const notByServer = r.rows.filter((x) => !x.key.includes("server")).map((x) => x.table);
    // Tokens are found by token id alone: a small reference table, copied to every node.
    // Alert episodes too: found by id (acknowledge), read fleet-wide and written in one
    // transaction with the alerts' version row by every evaluation. The enrolment log
    // too: a small append-only record of who enrolled, read whole by `central enrol list`.
    expect(notByServer).toEqual(["agent_tokens", "alert_episodes", "enrolment_log"]);
    expect(r.rows.find((x) => x.table === "samples")?.key).toEqual(["server", "ts", "mount"]);
    expect(r.rows.find((x) => x.table === "uploads")?.key).toEqual(["server", "seq"]);
  });

  it("creates the current week and four ahead at init", async () => {
    const store = open();
    await store.init();
    const names = await partitionNames();
    const now = weekStartOf(Date.now());
    for (let i = 0; i <= 4; i++) {
      expect(names).toContain(
        `samples_p${new Date(now + i * WEEK_MS).toISOString().slice(0, 10).replaceAll("-", "")}`,
      );
    }
  });

  it("lets two instances create the same new week at once", async () => {
    const a = open();
    const b = open();
    await a.init();
    await b.init();
    const start = Date.UTC(2001, 0, 1);
    const [ra, rb] = await Promise.all([
      a.ingest(upload("ua", "alpha"), series("alpha", start, 20)),
      b.ingest(upload("ub", "beta"), series("beta", start, 20)),
    ]);
    expect(ra.inserted + rb.inserted).toBe(80);
    expect((await partitionNames()).filter((n) => n === "samples_p20010101")).toHaveLength(1);
  });

  it("re-creates a week another instance dropped while this one still had it cached", async () => {
    const a = open();
    const b = open();
    await a.init();
    await b.init();
    const start = Date.UTC(2003, 0, 6);
    await a.ingest(upload("u1", "alpha"), series("alpha", start, 5));
    await b.retention.pruneSamples(start + WEEK_MS); // drops the week under a's cache
    expect(await partitionNames()).not.toContain("samples_p20030106");
    const outcome = await a.ingest(upload("u2", "alpha"), series("alpha", start, 5));
    expect(outcome).toMatchObject({ inserted: 10, duplicates: 0 });
  });

  it.each(SAMPLE_INSERT_METHODS)(
    "counts new rows and duplicates exactly with the %s insert",
    async (method) => {
      const store = open({ insertMethod: method });
      await store.init();
      const first = series("alpha", Date.UTC(2026, 10, 2), 600); // 1,200 rows: COPY territory
      expect(await store.ingest(upload("u1", "alpha"), first)).toMatchObject({
        inserted: 1200,
        duplicates: 0,
      });
      // Half already stored, half new, and a row repeated inside the file.
      const second = [...first.slice(600), ...series("alpha", Date.UTC(2026, 10, 12), 300), first[0]!];
      expect(await store.ingest(upload("u2", "alpha"), second)).toMatchObject({
        rows: 1201,
        inserted: 600,
        duplicates: 601,
      });
      const small = series("beta", Date.UTC(2026, 10, 2), 5);
      expect(await store.ingest(upload("u3", "beta"), [...small, small[1]!])).toMatchObject({
        inserted: 10,
        duplicates: 1,
      });
      const stored = await collect(store);
      expect(stored).toHaveLength(1810);
      expect(stored.find((r) => r.diskMount !== "/")?.diskMount).toBe("D:\\data\tx");
      expect(stored.find((r) => r.timestamp === first[0]!.timestamp && r.diskMount === "/")).toEqual(
        first[0],
      );
      const uploads = await admin!.query("SELECT upload_id, rows, inserted FROM uploads ORDER BY upload_id");
      expect(uploads.rows).toEqual([
        { upload_id: "u1", rows: 1200, inserted: 1200 },
        { upload_id: "u2", rows: 1201, inserted: 600 },
        { upload_id: "u3", rows: 11, inserted: 10 },
      ]);
    },
  );
});
