/**
 * The once-across-instances job runner on both backends: several runners on
 * separate connections to one database (as several `central serve` would
 * be) race for every period, and each period runs exactly once; a holder
 * that dies mid-job leaves the period to another after its lease expires.
 */
import { afterAll, describe, expect, it } from "vitest";
import { JobRunner, type ScheduledJob } from "../../../src/central/jobs/scheduled-jobs.js";
import type { Storage } from "../../../src/central/storage/store.js";
import { storeBackends } from "../../helpers/store-backends.js";

interface Backend {
  name: string;
  /** `n` stores on one database, each with its own connection(s). */
  open(ctx: { skip: (note?: string) => never }, n: number): Promise<Storage[]>;
}

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const fn of cleanups.reverse()) await fn().catch(() => {});
});

const NAMES = {
  sqlite: "SQLite (one file, several connections)",
  postgres: "PostgreSQL (one schema, several pools)",
};
const backends: Backend[] = (await storeBackends()).map((backend) => ({
  name: NAMES[backend.name],
  async open(ctx, n) {
    if (backend.skipReason !== undefined) ctx.skip(backend.skipReason);
    const t = await backend.make({ max: 2, sqlite: { backgroundCheckpoint: false } });
    cleanups.push(() => t.cleanup());
    const stores = [t.store];
    for (let i = 1; i < n; i++) stores.push(await t.another());
    return stores;
  },
}));

describe.each(backends)("scheduled jobs on $name", (backend) => {
  it("runs each period exactly once however many instances race for it", async (ctx) => {
    const stores = await backend.open(ctx, 4);
    const runs: { period: number; by: number }[] = [];
    let clock = Date.UTC(2026, 10, 30, 0, 0, 0);
    const PERIOD = 60_000;
    const runners = stores.map(
      (store, by) =>
        new JobRunner({
          coordination: store.coordination,
          holder: `instance-${by}`,
          now: () => clock,
          jobs: [
            {
              name: "retention",
              everyMs: PERIOD,
              run: async () => {
                runs.push({ period: Math.floor(clock / PERIOD), by });
                await new Promise((r) => setTimeout(r, 5)); // overlap with the others' claims
              },
            },
          ],
        }),
    );
    for (let p = 0; p < 10; p++) {
      // Every instance checks several times within the period, concurrently.
      for (let k = 0; k < 3; k++) await Promise.all(runners.map((r) => r.runDue()));
      clock += PERIOD;
    }
    const periods = runs.map((r) => r.period);
    expect(periods).toHaveLength(10);
    expect(new Set(periods).size).toBe(10);
    expect(await stores[0]!.coordination.lastCompletedPeriod("retention")).toBe(
      (Math.floor(clock / PERIOD) - 1) * PERIOD,
    );
    // Not always the same instance: whoever claims first wins.
    expect(new Set(runs.map((r) => r.by)).size).toBeGreaterThanOrEqual(1);
  });

  it("gives a dead holder's period to another instance once its lease expires", async (ctx) => {
    const [first, second] = await backend.open(ctx, 2);
    const c1 = first!.coordination;
    const c2 = second!.coordination;
    const now = Date.UTC(2026, 10, 30, 3, 0, 0);
    const lease = 60_000;
    expect(await c1.claimJob("rollup-upkeep", now, "a", now, lease)).toBe(true);
    // "a" dies without completing: "b" must wait for the lease …
    expect(await c2.claimJob("rollup-upkeep", now, "b", now + 1_000, lease)).toBe(false);
    expect(await c2.claimJob("rollup-upkeep", now, "b", now + lease - 1, lease)).toBe(false);
    // … then takes it over and completes the period.
    expect(await c2.claimJob("rollup-upkeep", now, "b", now + lease, lease)).toBe(true);
    expect(await c2.completeJob("rollup-upkeep", now, "b")).toBe(true);
    // "a" coming back cannot complete or re-run what "b" did.
    expect(await c1.completeJob("rollup-upkeep", now, "a")).toBe(false);
    expect(await c1.claimJob("rollup-upkeep", now, "a", now + 2 * lease, lease)).toBe(false);
    expect(await c1.lastCompletedPeriod("rollup-upkeep")).toBe(now);
    // The next period is open to anyone.
    expect(await c1.claimJob("rollup-upkeep", now + 3_600_000, "a", now + 3_600_000, lease)).toBe(true);
  });

  it("lets another instance retry a period whose job failed", async (ctx) => {
    const [first, second] = await backend.open(ctx, 2);
    const now = Date.UTC(2026, 10, 30, 4, 0, 0);
    let attempts = 0;
    const job = (fail: boolean): ScheduledJob => ({
      name: "flaky",
      everyMs: 3_600_000,
      run: async () => {
        attempts++;
        if (fail) throw new Error("disk on fire");
      },
    });
    const failing = new JobRunner({
      coordination: first!.coordination,
      jobs: [job(true)],
      holder: "a",
      now: () => now,
    });
    const healthy = new JobRunner({
      coordination: second!.coordination,
      jobs: [job(false)],
      holder: "b",
      now: () => now + 1,
    });
    expect(await failing.runDue()).toEqual([{ job: "flaky", period: now, ok: false, error: "disk on fire" }]);
    expect(await healthy.runDue()).toEqual([{ job: "flaky", period: now, ok: true }]);
    expect(await healthy.runDue()).toEqual([]);
    expect(await failing.runDue()).toEqual([]);
    expect(attempts).toBe(2);
  });

  it("lists serving instances until they leave or their heartbeat expires", async (ctx) => {
    const [store] = await backend.open(ctx, 1);
    const c = store!.coordination;
    const now = Date.UTC(2026, 10, 30, 5, 0, 0);
    await c.heartbeat({ id: "host-a:1", description: "host-a pid 1", startedAt: now }, now, 30_000);
    await c.heartbeat({ id: "host-b:2", description: "host-b pid 2", startedAt: now }, now, 30_000);
    expect((await c.liveInstances(now + 1)).map((i) => i.id)).toEqual(["host-a:1", "host-b:2"]);
    await c.leave("host-a:1");
    expect((await c.liveInstances(now + 1)).map((i) => i.id)).toEqual(["host-b:2"]);
    expect(await c.liveInstances(now + 30_000)).toEqual([]);
  });
});
