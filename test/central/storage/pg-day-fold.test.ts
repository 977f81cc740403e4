import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { PgStore } from "../../../src/central/storage/postgres/pg-store.js";
import { inTransaction } from "../../../src/central/storage/postgres/transaction.js";
import { zoneDaysCovering } from "../../../src/central/storage/rollups/buckets.js";
import { replaceDaysInSql } from "../../../src/central/storage/rollups/postgres/day-fold-sql.js";
import { computeDays } from "../../../src/central/storage/rollups/postgres/rows.js";
import type { MetricRow } from "../../../src/protocol/index.js";
import { createTestSchema, findTestPostgres, type TestSchema } from "../../helpers/postgres.js";
import { row } from "../ingest/fixtures.js";

/**
 * A refresh stores its days with replaceDaysInSql (folded and written inside
 * PostgreSQL); reads that fill missing days use computeDays, which folds in
 * SQL, finishes in Node and writes with writeDays. Both must store the same
 * rows, bit for bit, for days with hours, days whose hours hold no samples
 * and days without any hour, which must come out as the empty bucket.
 */
const PG = await findTestPostgres();
const TZ = "America/New_York";

describe("PostgreSQL days: replaceDaysInSql stores what computeDays stores", () => {
  let schema: TestSchema | undefined;
  let store: PgStore | undefined;
  beforeAll(async () => {
    if (PG.url === undefined) return;
    schema = await createTestSchema(PG.url, "srvutil_dayfold");
    store = new PgStore(PG.url, { schema: schema.schema, max: 2 });
    await store.init();
    await store.rollups.registerZone(TZ);
  });
  afterAll(async () => {
    await store?.close();
    await schema?.drop();
  });
  beforeEach((ctx) => {
    if (PG.url === undefined) ctx.skip(PG.skipReason);
  });

  async function storedDays(): Promise<{ days: unknown[]; mounts: unknown[] }> {
    const pool = store!.pool;
    const days = await pool.query({
      text: "SELECT * FROM rollup_daily WHERE tz = $1 ORDER BY server, date",
      values: [TZ],
      rowMode: "array",
    });
    const mounts = await pool.query({
      text: 'SELECT * FROM rollup_daily_disk WHERE tz = $1 ORDER BY server, date, mount COLLATE "C"',
      values: [TZ],
      rowMode: "array",
    });
    return { days: days.rows, mounts: mounts.rows };
  }

  it("for a DST week with gaps, several mounts, and days with no hours at all", async () => {
    const rows: MetricRow[] = [];
    // Three days around the end of summer time in New York (2026-11-01), every 20 minutes with
    // gaps, two mounts whose values change; a second server with one sample.
    for (let m = 0; m < 3 * 24 * 60; m += 20) {
      if (m % 300 === 100) continue;
      const ts = Date.parse("2026-10-31T04:00:00Z") + m * 60_000;
      for (const mount of ["/", "/data"]) {
        rows.push(
          row("fold-01", new Date(ts).toISOString(), mount, {
            cpuPercent: (m % 97) / 1.7,
            cpuPeakPercent: m % 3 === 0 ? null : (m % 89) + 0.25,
            intervalSeconds: m % 7 === 0 ? null : 1200,
            memUsedBytes: 1_000_000 + m,
            diskUsedBytes: 5_000_000 + m * (mount === "/" ? 3 : 5),
          }),
        );
      }
    }
    rows.push(row("fold-02", "2026-11-01T12:00:00Z", "C:\\"));
    await store!.ingest(
      {
        uploadId: "fold-a",
        server: "fold-01",
        receivedAt: 1,
        rawPath: "r/a",
        sha256: "a",
        bytes: 1,
      },
      rows.filter((r) => r.server === "fold-01"),
    );
    await store!.ingest(
      { uploadId: "fold-b", server: "fold-02", receivedAt: 1, rawPath: "r/b", sha256: "b", bytes: 1 },
      rows.filter((r) => r.server === "fold-02"),
    );
    await store!.rollups.refresh();

    // The days to compare: the three with data, plus two days after them without hours.
    const span = zoneDaysCovering(TZ, Date.parse("2026-10-31T04:00:00Z"), Date.parse("2026-11-05T05:00:00Z"));
    expect(span.dates).toEqual(["2026-10-31", "2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04"]);
    const spans = ["fold-01", "fold-02"].map((server) => ({ server, span }));

    await inTransaction(store!.pool, (client) =>
      computeDays(
        client,
        TZ,
        spans.map((s) => ({ ...s, days: s.span.dates.map(() => null) })),
        true,
      ),
    );
    const byNode = await storedDays();
    await inTransaction(store!.pool, (client) => replaceDaysInSql(client, TZ, spans));
    const bySql = await storedDays();

    expect(byNode.days).toHaveLength(10);
    // A day without hours is stored, and as the empty bucket: every column 0.
    const empty = byNode.days.find(
      (d) => (d as unknown[])[1] === "fold-01" && (d as unknown[])[2] === "2026-11-04",
    );
    expect((empty as unknown[]).slice(3).every((v) => Number(v) === 0)).toBe(true);
    expect(byNode.mounts.length).toBeGreaterThan(6);
    expect(bySql).toEqual(byNode);
  });
});
