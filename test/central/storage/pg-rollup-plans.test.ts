import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { partitionName, WEEK_MS, weekStartOf } from "../../../src/central/storage/postgres/partitions.js";
import { PgStore } from "../../../src/central/storage/postgres/pg-store.js";
import { HOUR_BUCKET_STATEMENTS } from "../../../src/central/storage/rollups/postgres/hour-buckets-sql.js";
import { createTestSchema, findTestPostgres, type TestSchema } from "../../helpers/postgres.js";

/**
 * The hour buckets of a refresh batch read the samples of its claimed ranges.
 * A fleet with gaps gives a batch many short ranges; joined plainly, the
 * planner overestimated them and scanned the whole week's partition for
 * every batch (a 10,000-server catch-up took 850 s instead of ~120 s). The
 * plans must read the samples through the primary key, whatever the stats.
 */
const PG = await findTestPostgres();
const HOUR = 3_600_000;
const WEEK = weekStartOf(Date.UTC(2026, 10, 18));
const SERVERS = 400;

interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  Plans?: PlanNode[];
}

function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

describe("PostgreSQL hour-bucket plans", () => {
  let schema: TestSchema | undefined;
  let store: PgStore | undefined;
  let client: pg.Client | undefined;
  beforeAll(async () => {
    if (PG.url === undefined) return;
    schema = await createTestSchema(PG.url, "srvutil_rplans");
    store = new PgStore(PG.url, { schema: schema.schema });
    await store.init();
    client = new pg.Client({ connectionString: PG.url });
    await client.connect();
    await client.query(`SET search_path = ${schema.schema}`);
    const part = partitionName(WEEK);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${part} PARTITION OF samples FOR VALUES FROM (${WEEK}) TO (${WEEK + WEEK_MS})`,
    );
    // Hourly samples with every third hour missing: each server's week is 56 short ranges.
    await client.query(
      `INSERT INTO samples
       SELECT 'srv-' || lpad(i::text, 4, '0'), ${WEEK} + h * ${HOUR}, '/', 10, NULL, 3600, 100, 50, 50, 1000, 500, 500
       FROM generate_series(0, ${SERVERS - 1}) AS i, generate_series(0, 167) AS h WHERE h % 3 <> 2`,
    );
    await client.query("ANALYZE samples");
  });
  afterAll(async () => {
    await client?.end();
    await store?.close();
    await schema?.drop();
  });
  beforeEach((ctx) => {
    if (PG.url === undefined) ctx.skip(PG.skipReason);
  });

  it("read the samples of 300 claimed ranges by primary key, never by scanning a partition", async () => {
    // A batch of six servers' weeks: 6 × 56 ranges of two hours.
    const ranges = Array.from({ length: 6 * 56 }, (_, k) => ({
      server: `srv-${String(Math.floor(k / 56)).padStart(4, "0")}`,
      from: WEEK + (k % 56) * 3 * HOUR,
    }));
    const params = [
      ranges.map((r) => r.server),
      ranges.map((r) => r.from),
      ranges.map((r) => r.from + 2 * HOUR),
    ];
    for (const [name, sql] of Object.entries(HOUR_BUCKET_STATEMENTS)) {
      const r = await client!.query<{ "QUERY PLAN": [{ Plan: PlanNode }] }>(
        `EXPLAIN (FORMAT JSON) ${sql}`,
        params,
      );
      const all = nodes(r.rows[0]!["QUERY PLAN"][0].Plan);
      // The week's partition holds the rows (the weeks ahead are empty: a scan of them reads nothing).
      const onWeek = all.filter((n) => n["Relation Name"] === partitionName(WEEK)).map((n) => n["Node Type"]);
      expect(onWeek.length, name).toBeGreaterThan(0);
      for (const type of onWeek)
        expect(type, name).toMatch(/^(Index Scan|Index Only Scan|Bitmap Heap Scan)$/);
    }
  });
});
