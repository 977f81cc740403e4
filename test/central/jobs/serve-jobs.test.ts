/**
 * The job runner and heartbeats as `central serve` wires them: two real
 * startCentral on one PostgreSQL schema, a job every 500 ms checked every
 * 50 ms by both; each period runs on exactly one of them.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type RunningCentral, startCentral } from "../../../src/central/central-process.js";
import { loadCentralConfig } from "../../../src/central/config.js";
import { serveJobs } from "../../../src/central/jobs/serve-jobs.js";
import { openStorage } from "../../../src/central/storage/open.js";
import { PgStore } from "../../../src/central/storage/postgres/pg-store.js";
import type { Storage } from "../../../src/central/storage/store.js";
import type { MetricRow } from "../../../src/protocol/index.js";
import { createTestSchema, findTestPostgres, requirePostgres } from "../../helpers/postgres.js";
import { upload } from "../../helpers/store-backends.js";
import { row } from "../ingest/fixtures.js";

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
            // The period claimed, not the clock when the run starts: on a loaded
            // machine a claim made late in one period may start running in the next.
            run: async (period) => {
              runs.push({ period, instance });
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
    const settings = {
      retention: { rawDays: 35, receivedMetricsDays: null, hourlyMonths: 13 },
      receivedMetricsDir: "",
    };
    expect(serveJobs(admin, null, settings).map((j) => j.name)).toContain("retention");
  }, 30_000);
});

describe("the retention job as central serve wires it", () => {
  it("prunes raw samples past the horizon and keeps the rest (SQLite)", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-retention-job-"));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const t = await tempStoreIn(dir);
    cleanups.push(() => t.close());
    const now = Date.now();
    const old = Math.floor((now - 40 * DAY) / HOUR) * HOUR;
    const recent = Math.floor((now - 2 * DAY) / HOUR) * HOUR;
    await upload(t, [at(old), at(old + 60_000)]);
    await upload(t, [at(recent)]);
    const job = serveJobs(t, null, {
      retention: { rawDays: 35, receivedMetricsDays: null, hourlyMonths: 13 },
      receivedMetricsDir: path.join(dir, "received_metrics"),
    }).find((j) => j.name === "retention")!;
    await job.run(Date.now());
    const left: number[] = [];
    for await (const r of t.samples({ from: 0, to: now })) left.push(r.timestamp);
    expect(left).toEqual([recent]);
  });
});

const DAY = 86_400_000;
const HOUR = 3_600_000;

const at = (ts: number): MetricRow => row("srv-a", new Date(ts).toISOString());

async function tempStoreIn(dir: string): Promise<Storage> {
  return openStorage(`sqlite:${path.join(dir, "srvutil.db")}`);
}
