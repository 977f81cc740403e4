/**
 * Issue 24, point 1, through `srvutil central import`: an archive spanning a
 * year, imported into a central whose retention job has run, fills the
 * report of every week it covers with exactly its samples, before and after
 * the next retention run; a file 14 months old is that file's error (naming
 * the horizon and the setting) and the other files go in. On SQLite and
 * PostgreSQL, with the real clock.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { loadCentralConfig } from "../../../src/central/config.js";
import type { WeeklyReport } from "../../../src/central/report/index.js";
import { runRetention } from "../../../src/central/retention.js";
import { openStorage } from "../../../src/central/storage/open.js";
import type { Storage } from "../../../src/central/storage/store.js";
import { type MetricRow, serializeMetricsCsv } from "../../../src/protocol/index.js";
import { runCli } from "../../helpers/cli.js";
import { createTestSchema, findTestPostgres } from "../../helpers/postgres.js";
import {
  DAY_MS,
  type IsoWeek,
  isoWeekContaining,
  REPORT_TZ,
  reportedSamples,
  sampleRows,
  weekDaysAgo,
} from "./helpers.js";

const PG = await findTestPostgres();
const STEP = 1_200_000; // a sample every 20 minutes (the seed agent's cron): 27,700 samples, 55,400 rows
const SERVER = "arch-01";
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), "srvutil-late-import-"));
  dirs.push(d);
  return d;
}

interface Backend {
  name: string;
  skipReason: string | undefined;
  /** The environment of a central on this backend (data directory and database), and its cleanup. */
  env(): Promise<{ env: Record<string, string>; cleanup(): Promise<void> }>;
}

const backends: Backend[] = [
  {
    name: "sqlite",
    skipReason: undefined,
    env: async () => ({ env: { SRVUTIL_DATA_DIR: tempDir() }, cleanup: async () => {} }),
  },
  {
    name: "postgres",
    skipReason: PG.skipReason,
    env: async () => {
      const { schema, drop } = await createTestSchema(PG.url!, "srvutil_lateimp");
      const url = PG.url!;
      return {
        env: {
          SRVUTIL_DATA_DIR: tempDir(),
          SRVUTIL_DB_URL: `${url}${url.includes("?") ? "&" : "?"}options=${encodeURIComponent(`-c search_path=${schema}`)}`,
        },
        cleanup: drop,
      };
    },
  },
];

/** The archive: one CSV v1 file per UTC week of samples (as a year of an agent's spool or an export). */
function writeArchive(dir: string, rows: readonly MetricRow[]): number {
  const files = new Map<string, MetricRow[]>();
  const monday = Date.UTC(1970, 0, 5);
  for (const r of rows) {
    const start = monday + Math.floor((r.timestamp - monday) / (7 * DAY_MS)) * 7 * DAY_MS;
    const key = new Date(start).toISOString().slice(0, 10);
    let f = files.get(key);
    if (f === undefined) {
      f = [];
      files.set(key, f);
    }
    f.push(r);
  }
  for (const [monday, f] of files) {
    mkdirSync(path.join(dir, monday.slice(0, 4)), { recursive: true });
    writeFileSync(
      path.join(dir, monday.slice(0, 4), `${SERVER}-week-of-${monday}.csv`),
      serializeMetricsCsv(f),
    );
  }
  return files.size;
}

/** Every ISO week (report zone) that [from, to) touches, with the samples it must report. */
function weeksOf(from: number, to: number): (IsoWeek & { samples: number })[] {
  const out: (IsoWeek & { samples: number })[] = [];
  for (let w = isoWeekContaining(from); w.from < to; w = isoWeekContaining(w.to)) {
    const first = Math.ceil(Math.max(w.from, from) / STEP) * STEP;
    const end = Math.min(w.to, to);
    out.push({ ...w, samples: first < end ? Math.ceil((end - first) / STEP) : 0 });
  }
  return out;
}

async function withStore<T>(env: Record<string, string>, fn: (store: Storage) => Promise<T>): Promise<T> {
  const config = loadCentralConfig({ ...env, SRVUTIL_REPORT_TZ: REPORT_TZ });
  const store = await openStorage(config.dbUrl);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** The retention job of `central serve`, run once with the real clock. */
function retentionRun(env: Record<string, string>) {
  const config = loadCentralConfig({ ...env, SRVUTIL_REPORT_TZ: REPORT_TZ });
  return withStore(env, (store) =>
    runRetention(store, config.retention, {
      now: Date.now(),
      receivedMetricsDir: config.paths.receivedMetrics,
    }),
  );
}

describe.each(backends)("central import of a year of history on $name", ({ skipReason, env: makeEnv }) => {
  beforeEach((ctx) => {
    if (skipReason !== undefined) ctx.skip(skipReason);
  });

  it("fills every week's report, before and after the next retention run, and refuses the too-old file", async () => {
    const { env, cleanup } = await makeEnv();
    try {
      const cliEnv = { ...process.env, ...env, SRVUTIL_REPORT_TZ: REPORT_TZ };
      // A central that has run: its retention job has recorded the horizons.
      const first = await retentionRun(env);
      expect(first.rollups.rawHorizon).toBeGreaterThan(Date.now() - 36 * DAY_MS);

      // A year of history, up to yesterday (the last weeks are inside the raw window, the rest sealed).
      const from = Math.floor((Date.now() - 385 * DAY_MS) / STEP) * STEP;
      const to = Math.floor((Date.now() - DAY_MS) / STEP) * STEP;
      const archive = tempDir();
      const files = writeArchive(archive, sampleRows(SERVER, from, to, STEP));
      // …and one file 14 months old.
      const old = weekDaysAgo(426);
      writeFileSync(
        path.join(archive, "too-old.csv"),
        serializeMetricsCsv(sampleRows(SERVER, old.from, old.from + DAY_MS, STEP)),
      );

      const imported = await runCli(["central", "import", archive], cliEnv, 300_000);
      expect(imported.code, imported.stderr).toBe(1); // one file failed
      expect(imported.stdout).toContain(`Imported ${files} of ${files + 1} files`);
      const error = imported.stderr.split("\n").find((l) => l.includes("too-old.csv"));
      // The file's error ends with the code, as the seed bridge's line does.
      expect(error).toMatch(/too-old\.csv: the file holds a sample from .* \(SRVUTIL_E_SAMPLE_TOO_OLD\)$/);
      expect(error).toMatch(/ingest horizon \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z/);
      expect(error).toContain("SRVUTIL_RETENTION_HOURLY_MONTHS");

      const weeks = weeksOf(from, to);
      expect(weeks.length).toBeGreaterThanOrEqual(55);
      const counts = (store: Storage) =>
        Promise.all(weeks.map(async (w) => [w.week, await reportedSamples(store, w.week, SERVER)] as const));
      const expected = weeks.map((w) => [w.week, w.samples] as const);
      expect(await withStore(env, counts)).toEqual(expected);
      expect(await withStore(env, (store) => reportedSamples(store, old.week, SERVER))).toBe(0);

      // The next retention run prunes the raw rows of the sealed weeks: every report stays.
      const second = await retentionRun(env);
      expect(second.samples!.rowsDeleted + second.samples!.partitionsDropped.length).toBeGreaterThan(0);
      expect(await withStore(env, counts)).toEqual(expected);

      // Importing the archive again stores nothing (each file is a replay) and changes no report.
      const again = await runCli(["central", "import", archive], cliEnv, 300_000);
      expect(again.stdout).toContain(`Imported 0 of ${files + 1} files`);
      expect(again.stdout).toContain(`${files} already stored, 1 failed`);
      expect(await withStore(env, counts)).toEqual(expected);

      // `report build` (the CLI) of a week 10 months back says the same.
      const mid = weeks[Math.floor(weeks.length / 6)]!;
      const built = await runCli(
        ["report", "build", "--week", mid.week, "--format", "json", "--out", "-"],
        cliEnv,
        120_000,
      );
      expect(built.code, built.stderr).toBe(0);
      const report = JSON.parse(built.stdout) as WeeklyReport;
      const days = report.servers.find((s) => s.server === SERVER)!.days;
      expect(days.reduce((n, d) => n + d.samples, 0)).toBe(mid.samples);
    } finally {
      await cleanup();
    }
  }, 600_000);
});
