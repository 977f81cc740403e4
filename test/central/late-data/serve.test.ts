/**
 * Issue 24, point 1, through `central serve`: samples 6 weeks, 6 months and
 * 12 months old, uploaded over HTTP (loopback) with the retention job having
 * run before and after, appear in their week's report exactly once; 14 months
 * old is refused with a 4xx that names the horizon and the setting, and
 * nothing of that upload is stored. On SQLite and PostgreSQL, real clock.
 */
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { startCentral } from "../../../src/central/central-process.js";
import { loadCentralConfig } from "../../../src/central/config.js";
import { createAgentToken } from "../../../src/central/http/app.js";
import { runRetention } from "../../../src/central/retention.js";
import type { Storage } from "../../../src/central/storage/store.js";
import { postMetrics } from "../../../src/demo/upload.js";
import { storeBackends } from "../../helpers/store-backends.js";
import {
  DAY_MS,
  distinctSamples,
  perDay,
  REPORT_TZ,
  reportedSamples,
  sampleRows,
  storedRows,
  weekDaysAgo,
  weekReport,
} from "./helpers.js";

const BACKENDS = await storeBackends();
const STEP = 600_000; // a sample every 10 minutes
const SERVER = "web-late";

/** Uploads currently stored (received_metrics/ files and raw uploads in the database included). */
async function storedUploads(store: Storage, dataDir: string): Promise<{ files: number; raw: number }> {
  const root = path.join(dataDir, "received_metrics");
  let files = 0;
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(d, e.name));
      else files++;
    }
  };
  if (existsSync(root)) walk(root);
  return { files, raw: await store.rawUploads.count() };
}

describe.each(BACKENDS)("late data through central serve on $name", ({ skipReason, make }) => {
  beforeEach((ctx) => {
    if (skipReason !== undefined) ctx.skip(skipReason);
  });

  it("counts 6-week, 6-month and 12-month-old uploads once and refuses 14-month-old ones", async () => {
    const t = await make();
    const config = loadCentralConfig({
      SRVUTIL_DATA_DIR: t.dir,
      SRVUTIL_LISTEN: "127.0.0.1:0",
      SRVUTIL_REPORT_TZ: REPORT_TZ,
      SRVUTIL_REPORT_CRON: "off",
    });
    const central = await startCentral(config, { rollupRefreshMs: 200, store: t.store });
    const retention = () =>
      runRetention(t.store, config.retention, {
        now: Date.now(),
        receivedMetricsDir: config.paths.receivedMetrics,
      });
    try {
      const store = t.store;
      const token = await createAgentToken(store, SERVER);
      // A central that has run: the retention job has recorded its horizons.
      const first = await retention();
      expect(first.rollups.rawHorizon).toBeGreaterThan(Date.now() - 36 * DAY_MS);

      const weeks = [weekDaysAgo(42), weekDaysAgo(182), weekDaysAgo(365)];
      const expected = new Map<string, number>();
      for (const w of weeks) {
        const rows = sampleRows(SERVER, w.from, w.to, STEP);
        expected.set(w.week, distinctSamples(rows));
        for (const file of perDay(rows)) {
          const res = await postMetrics(central.url, token, file);
          expect(res.status, JSON.stringify(res.body)).toBe(201);
        }
      }
      for (const w of weeks) expect(await reportedSamples(store, w.week, SERVER)).toBe(expected.get(w.week));
      // The next retention run prunes the late raw rows; the report stays.
      await retention();
      for (const w of weeks) {
        expect(await storedRows(store, SERVER, w.from, w.to)).toBe(0);
        expect(await reportedSamples(store, w.week, SERVER)).toBe(expected.get(w.week));
      }

      // 14 months old: refused before anything of the upload is stored.
      const before = await storedUploads(store, t.dir);
      const old = weekDaysAgo(426);
      const res = await postMetrics(
        central.url,
        token,
        sampleRows(SERVER, old.from, old.from + DAY_MS, STEP),
      );
      expect(res.status).toBe(422);
      const body = res.body as { error: string; reason: string; code: string };
      expect(body.reason).toBe("sample_too_old");
      expect(body.code).toBe("SRVUTIL_E_SAMPLE_TOO_OLD");
      expect(body.error).toMatch(/^the file holds a sample from /);
      expect(body.error).toContain("SRVUTIL_RETENTION_HOURLY_MONTHS");
      expect(body.error).toMatch(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z/);
      expect(await storedUploads(store, t.dir)).toEqual(before);
      expect(await storedRows(store, SERVER, old.from, old.to)).toBe(0);
      expect((await weekReport(store, old.week)).servers).toEqual([]);
    } finally {
      await central.close();
      await t.cleanup();
    }
  }, 180_000);
});
