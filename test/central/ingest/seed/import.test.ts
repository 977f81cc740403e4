/**
 * `srvutil central import` on a seed-format recieved_metrics/ folder (our own
 * fixtures in the seed's shape, see test/fixtures/seed/make_fixtures.py),
 * re-import, rebuild, and the weekly report built from the imported rows,
 * with every figure worked out by hand below.
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WeeklyReport } from "../../../../src/central/report/index.js";
import { EXIT_CODE } from "../../../../src/errors.js";
import { REPO_ROOT, runCli } from "../../../helpers/cli.js";

const FIXTURES = path.join(REPO_ROOT, "test/fixtures/seed");
const GIB = 1024 ** 3;
const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), "srvutil-seed-"));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function count(dataDir: string, sql: string): number {
  const db = new Database(path.join(dataDir, "srvutil.db"), { readonly: true });
  try {
    return db.prepare(sql).pluck().get() as number;
  } finally {
    db.close();
  }
}

function rawFiles(dataDir: string): string[] {
  const root = path.join(dataDir, "received_metrics");
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}

describe("importing the seed's recieved_metrics/", () => {
  const data = tempDir();
  const src = path.join(tempDir(), "recieved_metrics");
  // The fixtures are dated February 2026 and their figures are worked out by hand: hourly rollups
  // kept forever, so the ingest horizon (13 months back by default) never refuses them.
  const env = {
    ...process.env,
    SRVUTIL_DATA_DIR: data,
    SRVUTIL_REPORT_TZ: "Europe/Berlin",
    SRVUTIL_RETENTION_HOURLY_MONTHS: "keep",
  };
  let firstImport: Awaited<ReturnType<typeof runCli>>;

  beforeAll(async () => {
    cpSync(path.join(FIXTURES, "recieved_metrics"), src, { recursive: true });
    firstImport = await runCli(["central", "import", src], env);
  });

  it("imports every readable line, counts repeated rows, and names each skipped line with file and line", () => {
    const { code, stdout, stderr } = firstImport;
    expect(code, stderr).toBe(0);
    // WEB-01: 9 lines, 3 skipped, 6 × 2 partitions = 12 rows, 2 of them the repeated line.
    // WIN-01: 2 lines × 2 drives = 4. DB-01: 2 × 1 = 2. The "- Copy" file is the same upload.
    expect(stdout).toContain(
      "Imported 3 of 4 files (18 rows: 16 new, 2 repeated); 1 already stored, 0 failed; 3 lines skipped",
    );
    const web = path.join(src, "WEB-01_2026-02-14_12-00-05_server_metrics.csv");
    expect(stderr).toContain(
      `${web}: skipped line 6, column disk_info_json: /: used 140 GB is more than total 100 GB`,
    );
    expect(stderr).toContain(`${web}: skipped line 7, column cpu_percent: -5.0 is negative`);
    expect(stderr).toContain(`${web}: skipped line 8, column disk_info_json: not valid JSON`);
    expect(count(data, "SELECT COUNT(*) FROM samples")).toBe(16);
    expect(count(data, "SELECT COUNT(*) FROM samples WHERE mount IN ('C:', 'D:')")).toBe(4);
  });

  it("keeps each raw file byte for byte, named as a seed file read in Europe/Berlin", () => {
    const raws = rawFiles(data);
    expect(raws).toHaveLength(3);
    for (const raw of raws) {
      expect(path.basename(raw)).toMatch(/^\d{8}T\d{9}Z-[0-9a-f]{12}\.seed\.Europe%2FBerlin\.csv$/);
      const server = path.basename(path.dirname(path.dirname(raw)));
      const original = readdirSync(src).find((f) => f.startsWith(`${server}_`) && !f.includes("Copy"))!;
      expect(readFileSync(raw).equals(readFileSync(path.join(src, original)))).toBe(true);
    }
  });

  it("changes nothing when imported again, even with another --source-tz", async () => {
    const again = await runCli(["central", "import", src], env);
    expect(again.stdout).toContain(
      "Imported 0 of 4 files (0 rows: 0 new, 0 repeated); 4 already stored, 0 failed; 0 lines skipped",
    );
    const utc = await runCli(["central", "import", "--source-tz", "UTC", src], env);
    expect(utc.stdout).toContain("Imported 0 of 4 files");
    expect(count(data, "SELECT COUNT(*) FROM samples")).toBe(16);
    expect(count(data, "SELECT COUNT(*) FROM uploads")).toBe(3);
    expect(rawFiles(data)).toHaveLength(3);
  });

  it("refuses bad options, and --format v1 reads the seed files as CSV v1 (which they are not)", async () => {
    const bad = await runCli(["central", "import", "--format", "csv", src], env);
    expect(bad.code).toBe(EXIT_CODE.bad_input);
    expect(bad.stderr).toContain("--format: expected auto, v1, seed");
    const tz = await runCli(["central", "import", "--source-tz", "Mars/Olympus", src], env);
    expect(tz.code).toBe(EXIT_CODE.bad_input);
    expect(tz.stderr).toContain("not an IANA time zone");
    const v1 = await runCli(["central", "import", "--format", "v1", src], env);
    expect(v1.code).toBe(1);
    expect(v1.stderr).toContain("required column 'server' is missing");
  });

  it("builds a weekly report whose figures match the ones worked out by hand", async () => {
    const report = await buildReport(env);
    expectHandFigures(report);
  });

  it("rebuilds the same rows and the same report from the raw files", async () => {
    const rebuilt = await runCli(["central", "rebuild"], env);
    expect(rebuilt.code, rebuilt.stderr).toBe(0);
    expect(rebuilt.stdout).toContain(
      "Rebuilt from 3 of 3 raw files: 18 rows (16 distinct); 3 seed lines skipped; 0 failed",
    );
    expect(count(data, "SELECT COUNT(*) FROM samples")).toBe(16);
    expectHandFigures(await buildReport(env));
  });
});

async function buildReport(env: NodeJS.ProcessEnv): Promise<WeeklyReport> {
  const out = await runCli(["report", "build", "--week", "2026-W07", "--format", "json", "--out", "-"], env);
  expect(out.code, out.stderr).toBe(0);
  return JSON.parse(out.stdout) as WeeklyReport;
}

/**
 * ISO week 2026-W07 runs Monday 9 to Sunday 15 February; days[4] is Friday
 * the 13th, days[5] Saturday the 14th. Memory % is (total − available) / total.
 */
function expectHandFigures(report: WeeklyReport): void {
  expect(report.timezone).toBe("Europe/Berlin");
  expect(report.servers.map((s) => s.server)).toEqual(["DB-01", "WEB-01", "WIN-01"]);
  const [db, web, win] = report.servers as [
    WeeklyReport["servers"][0],
    WeeklyReport["servers"][0],
    WeeklyReport["servers"][0],
  ];

  // WEB-01 Friday: 10:00, 10:20 (twice in the file, counted once), 10:40; the
  // 11:00, 11:20 and 11:40 lines were skipped. CPU 10, 20, 60 → avg 90/3 = 30,
  // peak 60. Available 6, 4, 2 of 8 GB → used 2, 4, 6 GB = 25, 50, 75 % →
  // avg 50 %, peak 75 %, used avg 4 GB. Disks at the last sample: / 40 of
  // 100 GB (40 %), /data 100 of 500 GB (20 %).
  const webFri = web.days[4]!;
  expect(webFri.date).toBe("2026-02-13");
  expect(webFri.samples).toBe(3);
  expect(webFri.cpu).toEqual({ avg: 30, peak: 60 });
  expect(webFri.memory).toEqual({
    total_bytes: 8 * GIB,
    used_avg_bytes: 4 * GIB,
    available_avg_bytes: 4 * GIB,
    percent_avg: 50,
    percent_peak: 75,
  });
  expect(webFri.disks.map((d) => [d.mount, d.used_bytes, d.percent])).toEqual([
    ["/", 40 * GIB, 40],
    ["/data", 100 * GIB, 20],
  ]);
  // WEB-01 Saturday: CPU 5, 15 → avg 10, peak 15; available 4, 2 → 50, 75 % →
  // avg 62.5 %, used avg (4 + 6) / 2 = 5 GB; / at the last sample 41 of 100 GB.
  const webSat = web.days[5]!;
  expect(webSat.samples).toBe(2);
  expect(webSat.cpu).toEqual({ avg: 10, peak: 15 });
  expect(webSat.memory.percent_avg).toBe(62.5);
  expect(webSat.memory.used_avg_bytes).toBe(5 * GIB);
  expect(webSat.disks[0]).toMatchObject({ mount: "/", used_bytes: 41 * GIB, percent: 41 });

  // WIN-01 Friday: CPU 50, 70 → avg 60, peak 70; available 12, 4 of 16 GB →
  // 25, 75 % → avg 50 %. C: 50 used + 150 free → 25 %; D: 900 + 100 → 90 %.
  const winFri = win.days[4]!;
  expect(winFri.samples).toBe(2);
  expect(winFri.cpu).toEqual({ avg: 60, peak: 70 });
  expect(winFri.memory.percent_avg).toBe(50);
  expect(winFri.disks.map((d) => [d.mount, d.total_bytes, d.percent])).toEqual([
    ["C:", 200 * GIB, 25],
    ["D:", 1000 * GIB, 90],
  ]);
  expect(win.days.filter((d) => d.samples > 0)).toHaveLength(1);

  // DB-01: 23:50 on Friday and 00:10 on Saturday, Berlin time. Read as UTC
  // they would both fall on Saturday (00:50 and 01:10 in Berlin).
  expect(db.days[4]!.samples).toBe(1);
  expect(db.days[4]!.cpu).toEqual({ avg: 40, peak: 40 });
  expect(db.days[4]!.memory.percent_avg).toBe(25);
  expect(db.days[5]!.samples).toBe(1);
  expect(db.days[5]!.cpu).toEqual({ avg: 80, peak: 80 });
  expect(db.days[5]!.memory.percent_avg).toBe(75);
  expect(db.days[5]!.disks[0]).toMatchObject({ mount: "/", percent: 20 });
}

describe("importing zone-less times across both DST changes", () => {
  it("stores the skipped hour once, both passes of the repeated hour, and a lone second-pass file as repeated", async () => {
    const data = tempDir();
    const env = {
      ...process.env,
      SRVUTIL_DATA_DIR: data,
      SRVUTIL_REPORT_TZ: "UTC",
      SRVUTIL_RETENTION_HOURLY_MONTHS: "keep", // fixtures of March and October 2026, as above
    };
    const out = await runCli(
      ["central", "import", "--source-tz", "Europe/Berlin", path.join(FIXTURES, "dst")],
      env,
    );
    expect(out.code, out.stderr).toBe(0);
    // spring 3 rows; fall 9 rows, one the repeated line; the lone 02:20 file lands on 00:20Z, already stored.
    expect(out.stdout).toContain(
      "Imported 3 of 3 files (13 rows: 11 new, 2 repeated); 0 already stored, 0 failed; 0 lines skipped",
    );
    const db = new Database(path.join(data, "srvutil.db"), { readonly: true });
    try {
      const times = db
        .prepare("SELECT ts FROM samples WHERE ts >= ? ORDER BY ts")
        .pluck()
        .all(Date.UTC(2026, 9, 25, 0, 0)) as number[];
      expect(times.map((t) => new Date(t).toISOString().slice(11, 16))).toEqual([
        "00:00",
        "00:20",
        "00:40",
        "01:00",
        "01:20",
        "01:40",
        "02:00",
      ]);
    } finally {
      db.close();
    }
  });
});
