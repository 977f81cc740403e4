/**
 * The job runner and heartbeats as `central serve` wires them: two real
 * startCentral on one PostgreSQL schema, a job every 500 ms checked every
 * 50 ms by both; each period runs on exactly one of them.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadCentralConfig } from "../../../src/central/config.js";
import { serveJobs } from "../../../src/central/jobs/serve-jobs.js";
import { type RunningCentral, startCentral } from "../../../src/central/server.js";
import { PgStore } from "../../../src/central/storage/postgres/pg-store.js";
import { createTestSchema, findTestPostgres, requirePostgres } from "../../helpers/postgres.js";

const PG = await findTestPostgres();

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const fn of cleanups.reverse()) await fn().catch(() => {});
});

describe("central serve's scheduled jobs", () => {
  it("runs each period once across two instances, and lists them while they serve", async (ctx) => {
    const url = requirePostgres(ctx, PG);
    const { schema, drop } = await createTestSchema(url);
    cleanups.push(drop);
    const dbUrl = `${url}${url.includes("?") ? "&" : "?"}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
    const PERIOD = 500;
    const runs: { period: number; instance: number }[] = [];
    const centrals: RunningCentral[] = [];
    for (const instance of [0, 1]) {
      const dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-serve-jobs-"));
      cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
      const config = loadCentralConfig({
        SRVUTIL_DATA_DIR: dir,
        SRVUTIL_DB_URL: dbUrl,
        SRVUTIL_LISTEN: "127.0.0.1:0",
        SRVUTIL_REPORT_CRON: "off",
      });
      const central = await startCentral(config, {
        jobCheckMs: 50,
        jobs: [
          {
            name: "tick",
            everyMs: PERIOD,
            run: async () => {
              runs.push({ period: Math.floor(Date.now() / PERIOD), instance });
              await new Promise((r) => setTimeout(r, 20));
            },
          },
        ],
      });
      cleanups.push(() => central.close());
      centrals.push(central);
    }
    const admin = new PgStore(url, { schema, max: 1 });
    cleanups.push(() => admin.close());
    expect(await admin.coordination.liveInstances(Date.now())).toHaveLength(2);

    await new Promise((r) => setTimeout(r, 3_000));
    await Promise.all(centrals.map((c) => c.close()));
    const periods = runs.map((r) => r.period);
    expect(new Set(periods).size).toBe(periods.length);
    expect(periods.length).toBeGreaterThanOrEqual(4);
    // A clean shutdown leaves the list at once.
    expect(await admin.coordination.liveInstances(Date.now())).toEqual([]);
    // By default serve runs the retention job.
    expect(serveJobs(admin, null).map((j) => j.name)).toContain("retention");
  }, 30_000);
});
