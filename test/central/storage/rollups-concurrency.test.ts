import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ServerRowAggregator } from "../../../src/central/aggregate/rows.js";
import { resolveReportWeek } from "../../../src/central/aggregate/week.js";
import { buildWeeklyReport } from "../../../src/central/report/index.js";
import type { WeeklyReport } from "../../../src/central/report/types.js";
import { PgStore } from "../../../src/central/storage/postgres/pg-store.js";
import { ROLLUP_SERVER_LOCK } from "../../../src/central/storage/rollups/postgres/rollups.js";
import type { MetricRow } from "../../../src/protocol/index.js";
import { utcMidnightDaysAgo } from "../../helpers/clock.js";
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

  /**
   * Another instance's refresher, mid-batch, holding the server's marks (FOR
   * UPDATE): with the server's lock too ("in flight"), or between its claim
   * and its try-lock, which fails and leaves the marks ("claimed, not
   * locked"). Either way it stops without folding anything in, and a refresh
   * until done on this instance must wait for it, not skip those hours.
   */
  it.each([
    {
      holder: "a refresher in flight on another instance",
      server: "inflight-01",
      seed: 5,
      hours: 6,
      locked: true,
    },
    {
      holder: "marks another refresher claimed but could not lock",
      server: "claimed-01",
      seed: 6,
      hours: 5,
      locked: false,
    },
  ])(
    "a refresh until done waits for $holder, so a report right after is exact",
    async ({ server, seed, hours, locked }) => {
      const store = stores[0]!;
      const p = randomProfile(rng(seed), server);
      p.intervalSeconds = 60;
      const from = utcMidnightDaysAgo(3);
      const rows = [...profileRows(p, from, from + hours * 3_600_000, 5)];
      await upload(store, rows);
      const other = await stores[1]!.pool.connect();
      let released = false;
      try {
        await other.query("BEGIN");
        if (locked) {
          await other.query(`SELECT pg_advisory_xact_lock($1, ${ROLLUP_SERVER_LOCK.keySql("$2::text")})`, [
            ROLLUP_SERVER_LOCK.namespace,
            server,
          ]);
        }
        const held = await other.query("SELECT * FROM rollup_dirty WHERE server = $1 FOR UPDATE", [server]);
        expect(held.rowCount).toBe(hours);
        const refreshed = store.rollups.refresh().then((r) => ({ ...r, released }));
        await new Promise((resolve) => setTimeout(resolve, 300));
        released = true;
        await other.query("COMMIT");
        const result = await refreshed;
        expect(result.released).toBe(true); // the refresh did not return while the marks were held
        expect(result.hours).toBe(hours);
      } finally {
        other.release();
      }
      const agg = new ServerRowAggregator(server, { dates: ["all"], dayStarts: [from, from + 86_400_000] });
      for (const r of rows) agg.add(r);
      expect(await stores[2]!.rollups.readHourly(server, from, from + 86_400_000)).toEqual(
        agg.finishWithHours(from).hours,
      );
    },
  );
});
