/**
 * The ingest horizon when SRVUTIL_RETENTION_HOURLY_MONTHS changes (the 422
 * tells users to raise it to take older data): raised before retention has
 * deleted those hours, older history is taken and reported; once retention
 * has deleted hour buckets, samples before them stay refused (their days
 * cannot take new samples), with a message that says so. On SQLite and
 * PostgreSQL, real clock, through the ingest service `central import` and
 * the API use.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { createIngestService } from "../../../src/central/central-process.js";
import { loadCentralConfig } from "../../../src/central/config.js";
import { SampleTooOldError } from "../../../src/central/ingest/ingest-service.js";
import { runRetention } from "../../../src/central/retention.js";
import { serializeMetricsCsv } from "../../../src/protocol/index.js";
import { storeBackends } from "../../helpers/store-backends.js";
import { DAY_MS, REPORT_TZ, reportedSamples, sampleRows, storedRows, weekDaysAgo } from "./helpers.js";

const BACKENDS = await storeBackends();
const STEP = 1_800_000;
const SERVER = "hist-01";

describe.each(BACKENDS)("raising SRVUTIL_RETENTION_HOURLY_MONTHS on $name", ({ skipReason, make }) => {
  beforeEach((ctx) => {
    if (skipReason !== undefined) ctx.skip(skipReason);
  });

  it("takes older history until retention has deleted those hours, and refuses it after", async () => {
    const t = await make();
    const env = (months: string) =>
      loadCentralConfig({
        SRVUTIL_DATA_DIR: t.dir,
        SRVUTIL_REPORT_TZ: REPORT_TZ,
        SRVUTIL_RETENTION_HOURLY_MONTHS: months,
      });
    const store = t.store;
    const retention = (months: string) =>
      runRetention(store, env(months).retention, {
        now: Date.now(),
        receivedMetricsDir: env(months).paths.receivedMetrics,
      });
    const ingestWith = async (months: string, rows: ReturnType<typeof sampleRows>) => {
      const ingest = createIngestService(env(months), store, null);
      try {
        return await ingest.ingestFile(Buffer.from(serializeMetricsCsv(rows)));
      } finally {
        await ingest.close();
      }
    };
    try {
      await retention("13"); // a central that has run with the default: it deleted nothing yet
      const old = weekDaysAgo(548); // 18 months back
      const first = sampleRows(SERVER, old.from, old.from + DAY_MS, STEP);
      await expect(ingestWith("13", first)).rejects.toThrow(
        /older than the ingest horizon.*raise SRVUTIL_RETENTION_HOURLY_MONTHS/,
      );
      expect(await storedRows(store, SERVER, old.from, old.to)).toBe(0);

      // Raised to 24 months: the 18-month-old file is taken and reported, through retention runs.
      expect((await ingestWith("24", first)).inserted).toBe(first.length);
      await retention("24");
      expect(await reportedSamples(store, old.week, SERVER)).toBe(48);

      // Lowered to 13 again: retention deletes those hour buckets (the days stay).
      const lowered = await retention("13");
      expect(lowered.rollups.hourlyDeleted).toBe(24); // the day's hour buckets
      expect(await reportedSamples(store, old.week, SERVER)).toBe(48);

      // Raised to 24 once more: samples before the deleted buckets (plus 3 days) are refused, and
      // say why; the same week's figures stay as they were.
      const second = sampleRows(SERVER, old.from + DAY_MS, old.from + 2 * DAY_MS, STEP);
      const refused = await ingestWith("24", second).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(SampleTooOldError);
      expect((refused as Error).message).toMatch(
        /retention has already deleted the hourly rollups up to \d{4}-/,
      );
      expect((refused as Error).message).toContain("SRVUTIL_RETENTION_HOURLY_MONTHS");
      expect(await reportedSamples(store, old.week, SERVER)).toBe(48);
      // Later history (16 months back) is still taken.
      const later = weekDaysAgo(487);
      const third = sampleRows(SERVER, later.from, later.to, STEP);
      expect((await ingestWith("24", third)).inserted).toBe(third.length);
      await retention("24");
      expect(await reportedSamples(store, later.week, SERVER)).toBe(third.length / 2);
    } finally {
      await t.cleanup();
    }
  }, 120_000);
});
