import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ServerRowAggregator } from "../../../src/central/aggregate/rows.js";
import { resolveReportWeek } from "../../../src/central/aggregate/week.js";
import { buildWeeklyReport } from "../../../src/central/report/index.js";
import type { WeeklyReport } from "../../../src/central/report/types.js";
import { PgStore } from "../../../src/central/storage/postgres/pg-store.js";
import { ROLLUP_SERVER_LOCK } from "../../../src/central/storage/rollups/postgres/rollups.js";
import type { MetricRow } from "../../../src/protocol/index.js";
import { profileRows, randomProfile, rng } from "../../helpers/fleet.js";
import { createTestSchema, findTestPostgres, type TestSchema } from "../../helpers/postgres.js";
import { upload } from "../../helpers/store-backends.js";

/**
 * Several central instances (separate pools on one PostgreSQL schema) ingest
 * overlapping uploads of the same servers while every one of them refreshes
 * the rollups in small steps and reads days of a zone nobody registered yet.
 * Afterwards the rollups equal the raw rows exactly: no mark lost between an
 * ingest and a refresher, no day merged from a stale hour.
 */
const PG = await findTestPostgres();
const INSTANCES = 3;
const WRITERS_PER_INSTANCE = 3;

describe("PostgreSQL rollups with concurrent writers and refreshers", () => {
  let schema: TestSchema | undefined;
  const stores: PgStore[] = [];
  beforeAll(async () => {
    if (PG.url === undefined) return;
    schema = await createTestSchema(PG.url, "srvutil_rconc");
    for (let i = 0; i < INSTANCES; i++) {
      const store = new PgStore(PG.url, { schema: schema.schema, max: WRITERS_PER_INSTANCE + 2 });
      await store.init(); // instances starting at once migrate safely (one does, the others find it done)
      stores.push(store);
    }
  });
  afterAll(async () => {
    for (const s of stores) await s.close();
    await schema?.drop();
  });
  beforeEach((ctx) => {
    if (PG.url === undefined) ctx.skip(PG.skipReason);
  });

  it("ends with rollups equal to the raw rows, hour for hour and report for report", async () => {
    const week = resolveReportWeek("2026-W44", "Europe/Berlin"); // ends on the DST change (Oct 25)
    const from = week.to - 2 * 86_400_000;
    const to = week.to + 86_400_000;
    const r = rng(44);
    // Small uploads of a few servers, each server's hours uploaded by every instance, shuffled, with repeats.
    const chunks: MetricRow[][] = [];
    for (let i = 0; i < 6; i++) {
      const p = randomProfile(r, `conc-${i}`);
      p.intervalSeconds = 60;
      const rows = [...profileRows(p, from, to, 100 + i)];
      for (let k = 0; k < rows.length; ) {
        const size = 20 + Math.floor(r() * 200);
        chunks.push(rows.slice(k, k + size));
        k += size;
      }
    }
    for (let i = chunks.length - 1; i > 0; i--) {
      const j = Math.floor(r() * (i + 1));
      [chunks[i], chunks[j]] = [chunks[j]!, chunks[i]!];
    }
    const work = [...chunks, ...chunks.filter(() => r() < 0.2)];
    await stores[0]!.rollups.registerZone("Europe/Berlin");

    let writing = true;
    let next = 0;
    const writer = async (store: PgStore): Promise<void> => {
      while (next < work.length) await upload(store, work[next++]!);
    };
    let refreshedHours = 0;
    let lateZoneReads = 0;
    const refresher = async (store: PgStore, seed: number): Promise<void> => {
      const rr = rng(seed);
      while (writing) {
        const step = await store.rollups.refresh({ maxBatches: 1, batchSize: 1 + Math.floor(rr() * 8) });
        refreshedHours += step.hours;
        if (rr() < 0.05) {
          // A zone first used mid-load: its days are filled from the hours while refreshers write them.
          const ny = resolveReportWeek("2026-W44", "America/New_York");
          await store.rollups.readDaily("America/New_York", ny, ["conc-0", "conc-3"]);
          lateZoneReads++;
        }
        if (!step.more) await new Promise((resolve) => setTimeout(resolve, 2));
      }
    };
    const writers = stores.flatMap((s) => Array.from({ length: WRITERS_PER_INSTANCE }, () => writer(s)));
    const refreshers = stores.map((s, i) => refresher(s, 7 + i));
    await Promise.all(writers);
    writing = false;
    await Promise.all(refreshers);
    expect(refreshedHours).toBeGreaterThan(0); // the refreshers did work while the writers ran
    expect(lateZoneReads).toBeGreaterThan(0);
    await Promise.all(stores.map((s) => s.rollups.refresh()));
    expect(await stores[1]!.rollups.refresh()).toMatchObject({ hours: 0, more: false });

    // Hour for hour against the raw rows.
    for (const { server } of await stores[0]!.listServers()) {
      const agg = new ServerRowAggregator(server, { dates: ["all"], dayStarts: [from, to] });
      for await (const row of stores[0]!.samples({ from, to, servers: [server] })) agg.add(row);
      expect(await stores[2]!.rollups.readHourly(server, from, to)).toEqual(agg.finishWithHours(from).hours);
    }
    // Report for report, in the zone kept during the load and in the one first used mid-load.
    const noSource = (x: WeeklyReport): WeeklyReport => ({ ...x, source: undefined });
    for (const timeZone of ["Europe/Berlin", "America/New_York"]) {
      const options = { week: "2026-W44", timeZone, now: to + 86_400_000 };
      const fromRollups = await buildWeeklyReport(stores[1]!, { ...options, source: "rollups" });
      const fromRaw = await buildWeeklyReport(stores[2]!, { ...options, source: "raw" });
      expect(fromRollups.servers).toHaveLength(6);
      expect(noSource(fromRollups)).toEqual(noSource(fromRaw));
    }
  }, 180_000);

  it("a refresh until done waits for a refresher in flight on another instance, so a report right after is exact", async () => {
    const store = stores[0]!;
    const p = randomProfile(rng(5), "inflight-01");
    p.intervalSeconds = 60;
    const from = Date.UTC(2026, 10, 2);
    const rows = [...profileRows(p, from, from + 6 * 3_600_000, 5)];
    await upload(store, rows);
    // Another instance's refresher, mid-batch: it holds the server's lock and its marks.
    const other = await stores[1]!.pool.connect();
    let released = false;
    try {
      await other.query("BEGIN");
      await other.query(`SELECT pg_advisory_xact_lock($1, ${ROLLUP_SERVER_LOCK.keySql("$2::text")})`, [
        ROLLUP_SERVER_LOCK.namespace,
        "inflight-01",
      ]);
      await other.query("SELECT * FROM rollup_dirty WHERE server = 'inflight-01' FOR UPDATE");
      const refreshed = store.rollups.refresh().then((r) => ({ ...r, released }));
      await new Promise((resolve) => setTimeout(resolve, 300));
      released = true;
      await other.query("COMMIT"); // it stops without folding anything in (as if it had failed)
      const result = await refreshed;
      expect(result.released).toBe(true); // the refresh did not return while the lock was held
      expect(result.hours).toBe(6);
    } finally {
      other.release();
    }
    const agg = new ServerRowAggregator("inflight-01", {
      dates: ["all"],
      dayStarts: [from, from + 86_400_000],
    });
    for (const r of rows) agg.add(r);
    expect(await stores[2]!.rollups.readHourly("inflight-01", from, from + 86_400_000)).toEqual(
      agg.finishWithHours(from).hours,
    );
  });
  it("a refresh until done waits for marks another refresher claimed but could not lock, so a report right after is exact", async () => {
    const store = stores[0]!;
    const p = randomProfile(rng(6), "claimed-01");
    p.intervalSeconds = 60;
    const from = Date.UTC(2026, 10, 9);
    const rows = [...profileRows(p, from, from + 5 * 3_600_000, 5)];
    await upload(store, rows);
    // Another instance's refresher between its claim and its try-lock: it holds the marks
    // (FOR UPDATE) but not the server's lock, and will leave them (as it does when the lock is taken).
    const other = await stores[1]!.pool.connect();
    let released = false;
    try {
      await other.query("BEGIN");
      const held = await other.query("SELECT * FROM rollup_dirty WHERE server = 'claimed-01' FOR UPDATE");
      expect(held.rowCount).toBe(5);
      const refreshed = store.rollups.refresh().then((r) => ({ ...r, released }));
      await new Promise((resolve) => setTimeout(resolve, 300));
      released = true;
      await other.query("COMMIT");
      const result = await refreshed;
      expect(result.released).toBe(true); // it did not skip the held marks and return
      expect(result.hours).toBe(5);
    } finally {
      other.release();
    }
    const agg = new ServerRowAggregator("claimed-01", {
      dates: ["all"],
      dayStarts: [from, from + 86_400_000],
    });
    for (const r of rows) agg.add(r);
    expect(await stores[2]!.rollups.readHourly("claimed-01", from, from + 86_400_000)).toEqual(
      agg.finishWithHours(from).hours,
    );
  });
});
