/**
 * `central serve` keeps the rollups of the report time zone current as
 * uploads arrive, so Monday's report needs no catch-up.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadCentralConfig } from "../../../src/central/config.js";
import { buildWeeklyReport } from "../../../src/central/report/index.js";
import { createAgentToken, startCentral } from "../../../src/central/server.js";
import type { SqliteStore } from "../../../src/central/storage/sqlite/sqlite-store.js";
import { postMetrics } from "../../../src/demo/upload.js";
import type { MetricRow } from "../../../src/protocol/index.js";

describe("central serve rollup upkeep", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-serve-rollups-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("folds uploads into hourly and report-zone daily rollups without a report build", async () => {
    const env = {
      SRVUTIL_DATA_DIR: dir,
      SRVUTIL_LISTEN: "127.0.0.1:0",
      SRVUTIL_REPORT_TZ: "America/New_York",
      SRVUTIL_REPORT_CRON: "off",
    };
    const config = loadCentralConfig(env);
    const central = await startCentral(config, { rollupRefreshMs: 200 });
    try {
      const store = central.store as SqliteStore;
      const token = await createAgentToken(store, "web-01");
      const rows: MetricRow[] = Array.from({ length: 48 }, (_, i) => ({
        timestamp: Date.UTC(2026, 10, 17, 5) + i * 1800_000, // Tue 00:00 New York, every 30 min
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

      const daily = () =>
        store.db
          .prepare("SELECT date FROM rollup_daily WHERE tz = 'America/New_York' AND server = 'web-01'")
          .pluck()
          .all() as string[];
      const deadline = Date.now() + 10_000;
      while (daily().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(daily()).toContain("2026-11-17");

      // The report from the kept rollups equals the one computed from raw rows.
      const options = { week: "2026-W47", timeZone: "America/New_York", now: Date.UTC(2026, 10, 25) };
      const fromRollups = await buildWeeklyReport(store, { ...options, source: "rollups" });
      const fromRaw = await buildWeeklyReport(store, { ...options, source: "raw" });
      expect(fromRollups.servers[0]!.days).toEqual(fromRaw.servers[0]!.days);
      expect(fromRollups.servers[0]!.days[1]).toMatchObject({ date: "2026-11-17", samples: 48 });
    } finally {
      await central.close();
    }
  });
});
