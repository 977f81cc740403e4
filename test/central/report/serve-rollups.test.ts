/**
 * `central serve` keeps the rollups of the report time zone current as
 * uploads arrive, so Monday's report needs no catch-up: on SQLite and on
 * PostgreSQL, through the port.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { DateTime } from "luxon";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { startCentral } from "../../../src/central/central-process.js";
import { loadCentralConfig } from "../../../src/central/config.js";
import { createAgentToken } from "../../../src/central/http/app.js";
import { buildWeeklyReport } from "../../../src/central/report/index.js";
import { postMetrics } from "../../../src/demo/upload.js";
import type { MetricRow } from "../../../src/protocol/index.js";
import { recentShift } from "../../helpers/clock.js";
import { storeBackends, storedDailyDates } from "../../helpers/store-backends.js";

const BACKENDS = await storeBackends();
const at = recentShift("2026-W47");

describe.each(BACKENDS)("central serve rollup upkeep on $name", ({ skipReason, make }) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-serve-rollups-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  beforeEach((ctx) => {
    if (skipReason !== undefined) ctx.skip(skipReason);
  });

  it("folds uploads into hourly and report-zone daily rollups without a report build", async () => {
    const env = {
      SRVUTIL_DATA_DIR: dir,
      SRVUTIL_LISTEN: "127.0.0.1:0",
      SRVUTIL_REPORT_TZ: "America/New_York",
      SRVUTIL_REPORT_CRON: "off",
    };
    const config = loadCentralConfig(env);
    const t = await make();
    const central = await startCentral(config, { rollupRefreshMs: 200, store: t.store });
    try {
      const store = t.store;
      const token = await createAgentToken(store, "web-01");
      // 2026-W47 moved to last week (real clock), inside the ingest horizon; the local midnight is
      // New York's of that Tuesday, whether EST or EDT then.
      const tuesday = at("2026-11-17");
      const tuesdayMidnight = DateTime.fromISO(tuesday, { zone: "America/New_York" }).toMillis();
      const rows: MetricRow[] = Array.from({ length: 48 }, (_, i) => ({
        timestamp: tuesdayMidnight + i * 1800_000, // Tue 00:00 New York, every 30 min
        server: "web-01",
        cpuPercent: i % 10,
        cpuPeakPercent: null,
        intervalSeconds: 1800,
        memTotalBytes: 1000,
        memUsedBytes: 500,
        memAvailableBytes: 500,
        diskMount: "/",
        diskTotalBytes: 100,
        diskUsedBytes: 40,
        diskFreeBytes: 50,
      }));
      expect((await postMetrics(central.url, token, rows)).status).toBe(201);

      const daily = () => storedDailyDates(store, "America/New_York", "web-01");
      const deadline = Date.now() + 10_000;
      while (!(await daily()).includes(tuesday) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(await daily()).toContain(tuesday);
      // The serve-time refresher left nothing to fold in.
      expect(await store.rollups.refresh()).toMatchObject({ hours: 0, uploads: 0, more: false });
      const hours = await store.rollups.readHourly(
        "web-01",
        Date.parse(`${tuesday}T00:00:00Z`),
        Date.parse(`${at("2026-11-19")}T00:00:00Z`),
      );
      expect(hours).toHaveLength(24);

      // The report from the kept rollups equals the one computed from raw rows.
      const options = {
        week: at("2026-W47"),
        timeZone: "America/New_York",
        now: at.ms(Date.UTC(2026, 10, 25)),
      };
      const fromRollups = await buildWeeklyReport(store, { ...options, source: "rollups" });
      const fromRaw = await buildWeeklyReport(store, { ...options, source: "raw" });
      expect(fromRollups.servers[0]!.days).toEqual(fromRaw.servers[0]!.days);
      expect(fromRollups.servers[0]!.days[1]).toMatchObject({ date: tuesday, samples: 48 });
    } finally {
      await central.close();
      await t.cleanup();
    }
  });
});
