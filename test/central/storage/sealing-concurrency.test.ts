import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type HourAggregate, ServerRowAggregator } from "../../../src/central/aggregate/rows.js";
import { hourlyCutoff } from "../../../src/central/retention.js";
import { PgStore } from "../../../src/central/storage/postgres/pg-store.js";
import type { MetricRow } from "../../../src/protocol/index.js";
import { profileRows, randomProfile, rng } from "../../helpers/fleet.js";
import { createTestSchema, findTestPostgres, type TestSchema } from "../../helpers/postgres.js";
import { upload } from "../../helpers/store-backends.js";

/**
 * Sealing hours while they take uploads, on PostgreSQL with several central
 * instances (separate pools on one schema): writers upload overlapping,
 * repeated chunks of the same servers' hours on every instance, refreshers
 * fold on every instance, and meanwhile the retention moves the raw horizon
 * across those hours one hour at a time, sealing them and pruning their raw
 * rows. Afterwards every hour bucket holds each distinct sample exactly once:
 * no sample counted twice (a seen set that missed it), none lost (a seen set
 * that listed a sample its bucket never got). Dates from the real clock.
 */
const PG = await findTestPostgres();
const INSTANCES = 3;
const WRITERS_PER_INSTANCE = 2;
const HOUR = 3_600_000;
const HOURS = 8;

describe("PostgreSQL: sealing hours while uploads and refreshers run", () => {
  let schema: TestSchema | undefined;
  const stores: PgStore[] = [];
  beforeAll(async () => {
    if (PG.url === undefined) return;
    schema = await createTestSchema(PG.url, "srvutil_sealconc");
    for (let i = 0; i < INSTANCES; i++) {
      const store = new PgStore(PG.url, { schema: schema.schema, max: WRITERS_PER_INSTANCE + 3 });
      await store.init();
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

  it("counts every sample once in every hour, whether it arrived before, during or after its sealing", async () => {
    const now = Date.now();
    // Hours about to leave the default 35-day raw window.
    const from = Math.floor((now - 35 * 86_400_000) / HOUR) * HOUR - 2 * HOUR;
    const to = from + HOURS * HOUR;
    const hourlyBefore = hourlyCutoff(now, 13);
    await stores[0]!.rollups.registerZone("Europe/Berlin");
    await stores[0]!.rollups.prune({ rawBefore: from, hourlyBefore });

    const r = rng(2424);
    const all: MetricRow[] = [];
    const chunks: MetricRow[][] = [];
    for (let i = 0; i < 4; i++) {
      const p = randomProfile(r, `seal-${i}`);
      p.intervalSeconds = 60;
      const rows = [...profileRows(p, from, to, 300 + i)];
      all.push(...rows);
      for (let k = 0; k < rows.length; ) {
        const size = 10 + Math.floor(r() * 120);
        chunks.push(rows.slice(k, k + size));
        k += size;
      }
    }
    for (let i = chunks.length - 1; i > 0; i--) {
      const j = Math.floor(r() * (i + 1));
      [chunks[i], chunks[j]] = [chunks[j]!, chunks[i]!];
    }
    // Repeats: the same samples again, in other files, before or after their hour is sealed.
    const work = [...chunks, ...chunks.filter(() => r() < 0.35).map((c) => [...c].reverse())];

    let writing = true;
    let next = 0;
    const writer = async (store: PgStore): Promise<void> => {
      while (next < work.length) {
        await upload(store, work[next++]!);
        if (r() < 0.1) await new Promise((resolve) => setTimeout(resolve, 5));
      }
    };
    let refreshedHours = 0;
    const refresher = async (store: PgStore, seed: number): Promise<void> => {
      const rr = rng(seed);
      while (writing) {
        const step = await store.rollups.refresh({ maxBatches: 1, batchSize: 1 + Math.floor(rr() * 6) });
        refreshedHours += step.hours;
        if (!step.more) await new Promise((resolve) => setTimeout(resolve, 2));
      }
    };
    let sealed = 0;
    const retention = async (): Promise<void> => {
      // One hour at a time, as the hourly job moves it; one instance at a time (the job's lease).
      for (let k = 1; k <= HOURS; k++) {
        await new Promise((resolve) => setTimeout(resolve, 40 + r() * 80));
        const store = stores[k % INSTANCES]!;
        const cutoff = from + k * HOUR;
        sealed += (await store.rollups.prune({ rawBefore: cutoff, hourlyBefore })).hoursSealed;
        await store.retention.pruneSamples(cutoff);
      }
    };
    const writers = stores.flatMap((s) => Array.from({ length: WRITERS_PER_INSTANCE }, () => writer(s)));
    const refreshers = stores.map((s, i) => refresher(s, 11 + i));
    const pruning = retention();
    await Promise.all(writers);
    await pruning;
    writing = false;
    await Promise.all(refreshers);
    await Promise.all(stores.map((s) => s.rollups.refresh()));
    expect(refreshedHours).toBeGreaterThan(0);
    expect(sealed).toBeGreaterThan(0); // some hours were sealed from their raw rows

    for (let i = 0; i < 4; i++) {
      const server = `seal-${i}`;
      const agg = new ServerRowAggregator(server, { dates: ["all"], dayStarts: [from, to] });
      for (const row of all) if (row.server === server) agg.add(row);
      const expected = agg.finishWithHours(from).hours;
      const got = await stores[i % INSTANCES]!.rollups.readHourly(server, from, to);
      expect(got.map(exactPart)).toEqual(expected.map(exactPart));
      got.forEach((h, k) => {
        expect(h.cpuAvg).toBeCloseTo(expected[k]!.cpuAvg, 9);
        expect(h.memPercentAvg).toBeCloseTo(expected[k]!.memPercentAvg, 9);
      });
    }
  }, 180_000);
});

/** What must be exact however the samples arrived: counts, first and last, per mount the last sample. */
function exactPart(h: HourAggregate) {
  return {
    samples: h.samples,
    firstTs: h.firstTs,
    lastTs: h.lastTs,
    firstMemTotal: h.firstMemTotal,
    lastMemTotal: h.lastMemTotal,
    mounts: h.mounts,
  };
}
