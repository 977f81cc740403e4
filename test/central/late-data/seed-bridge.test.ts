/**
 * Issue 24, point 1, through the seed bridge (POST /upload_metrics, the
 * seed agents' route): a seed file six weeks old, sent after the retention
 * job has run, is in its week's report once (and again after the next run);
 * one 14 months old is refused with 422 naming the horizon and the setting,
 * and nothing of it is stored. On SQLite and PostgreSQL, real clock.
 */
import { existsSync, readdirSync } from "node:fs";
import { DateTime } from "luxon";
import { beforeEach, describe, expect, it } from "vitest";
import { startCentral } from "../../../src/central/central-process.js";
import { loadCentralConfig } from "../../../src/central/config.js";
import { createAgentToken } from "../../../src/central/http/app.js";
import { SEED_HEADER } from "../../../src/central/ingest/seed/parse-seed.js";
import { runRetention } from "../../../src/central/retention.js";
import { storeBackends } from "../../helpers/store-backends.js";
import { DAY_MS, REPORT_TZ, reportedSamples, storedRows, weekDaysAgo } from "./helpers.js";

const BACKENDS = await storeBackends();
const SERVER = "SEED-LATE-01";
const STEP = 20 * 60_000; // the seed agent's cron

/** A seed-format file: one line every 20 minutes of the local day starting at `dayStart`. */
function seedDay(dayStart: number): { bytes: Buffer; samples: number } {
  const lines: string[] = [];
  for (let ts = dayStart; ts < dayStart + DAY_MS; ts += STEP) {
    const local = DateTime.fromMillis(ts, { zone: REPORT_TZ }).toFormat("yyyy-MM-dd HH:mm:ss");
    const cpu = ((ts / STEP) % 90) + 1;
    lines.push(
      `${local},${SERVER},${cpu.toFixed(1)},8.0,3.0,5.0,37.5,` +
        `"[{""device"": ""/dev/sda1"", ""mountpoint"": ""/"", ""total_gb"": 100.0, ""used_gb"": 40.0, ""free_gb"": 60.0}]"`,
    );
  }
  return { bytes: Buffer.from(`${SEED_HEADER}\r\n${lines.join("\r\n")}\r\n`), samples: lines.length };
}

async function postSeed(url: string, bytes: Buffer): Promise<{ status: number; text: string }> {
  const form = new FormData();
  form.append("server_name", SERVER);
  form.append("file", new Blob([bytes]), `${SERVER}_server_metrics.csv`);
  const res = await fetch(new URL("/upload_metrics", url), { method: "POST", body: form });
  return { status: res.status, text: await res.text() };
}

describe.each(BACKENDS)("late data through the seed bridge on $name", ({ skipReason, make }) => {
  beforeEach((ctx) => {
    if (skipReason !== undefined) ctx.skip(skipReason);
  });

  it("reports a six-week-old seed file once and refuses a 14-month-old one", async () => {
    const t = await make();
    const config = loadCentralConfig({
      SRVUTIL_DATA_DIR: t.dir,
      SRVUTIL_LISTEN: "127.0.0.1:0",
      SRVUTIL_REPORT_TZ: REPORT_TZ,
      SRVUTIL_REPORT_CRON: "off",
      SRVUTIL_SEED_COMPAT: "on",
    });
    const central = await startCentral(config, { store: t.store });
    const store = t.store;
    const retention = () =>
      runRetention(store, config.retention, {
        now: Date.now(),
        receivedMetricsDir: config.paths.receivedMetrics,
      });
    try {
      await createAgentToken(store, SERVER); // enrolled
      await retention();

      const week = weekDaysAgo(42);
      const day = seedDay(week.from + 2 * DAY_MS); // the Wednesday, local midnight to midnight
      const ok = await postSeed(central.url, day.bytes);
      expect(ok.status, ok.text).toBe(200);
      expect(await reportedSamples(store, week.week, SERVER)).toBe(day.samples);
      await retention();
      expect(await storedRows(store, SERVER, week.from, week.to)).toBe(0);
      expect(await reportedSamples(store, week.week, SERVER)).toBe(day.samples);
      // The agent sends it again (it keeps files it is unsure about): nothing changes.
      expect((await postSeed(central.url, day.bytes)).status).toBe(200);
      expect(await reportedSamples(store, week.week, SERVER)).toBe(day.samples);

      const rawBefore = await store.rawUploads.count();
      const filesBefore = existsSync(config.paths.receivedMetrics)
        ? readdirSync(config.paths.receivedMetrics, { recursive: true }).length
        : 0;
      const old = weekDaysAgo(426);
      const refused = await postSeed(central.url, seedDay(old.from).bytes);
      expect(refused.status).toBe(422);
      // The code at the end of the line, as on every refusal of the bridge.
      expect(refused.text).toMatch(/^Error: the file holds a sample from .* \(SRVUTIL_E_SAMPLE_TOO_OLD\)$/);
      expect(refused.text).toMatch(/ingest horizon \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z/);
      expect(refused.text).toContain("SRVUTIL_RETENTION_HOURLY_MONTHS");
      expect(await store.rawUploads.count()).toBe(rawBefore);
      expect(
        existsSync(config.paths.receivedMetrics)
          ? readdirSync(config.paths.receivedMetrics, { recursive: true }).length
          : 0,
      ).toBe(filesBefore);
      expect(await storedRows(store, SERVER, old.from, old.to)).toBe(0);
      expect(await reportedSamples(store, old.week, SERVER)).toBe(0);
    } finally {
      await central.close();
      await t.cleanup();
    }
  }, 120_000);
});
