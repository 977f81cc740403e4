import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveReportWeek } from "../../../src/central/aggregate/week.js";
import { serverReportFromRows } from "../../../src/central/report/build.js";
import {
  buildWeeklyReport,
  type Finding,
  renderReport,
  type ServerReport,
  type WeeklyReport,
} from "../../../src/central/report/index.js";
import { openStorage } from "../../../src/central/storage/open.js";
import { ROLLUP_MIGRATIONS } from "../../../src/central/storage/rollups/sqlite/schema.js";
import { runMigrations } from "../../../src/central/storage/sqlite/migrate.js";
import { type TempStore, tempStore, upload } from "../../helpers/store-backends.js";
import { DAY, diurnal, GiB, HOUR, type Shape, shapeRows } from "./shaped.js";

// Hand-built weeks around each threshold of the trend and change findings
// (issue 16). Week 2026-W47 in Europe/Berlin: Mon 16 Nov – Sun 22 Nov, no DST.
const TZ = "Europe/Berlin";
const WEEK = resolveReportWeek("2026-W47", TZ);
const HISTORY_FROM = WEEK.from - 28 * DAY;
const NOW = WEEK.to + 6 * HOUR;
/** Local time on day `d` of the week (0 = Monday), "HH:MM". */
const at = (d: number, hhmm: string): number => {
  const [h, m] = hhmm.split(":").map(Number) as [number, number];
  return WEEK.dayStarts[d]! + h * HOUR + m * 60_000;
};
/** Days since Monday 12:00 (local): the x of a linear week. */
const sinceMonNoon = (ts: number): number => (ts - at(0, "12:00")) / DAY;

function shape(server: string, over: Partial<Shape>): Shape {
  return {
    server,
    from: HISTORY_FROM,
    to: WEEK.to,
    memPercent: (ts) => 45 + diurnal(ts, 2),
    cpu: (ts) => 20 + diurnal(ts, 5),
    ...over,
  };
}

/** In the week, `inWeek`; before it, a calm history at `before`. */
const weekOnly =
  (before: number, inWeek: (ts: number) => number) =>
  (ts: number): number =>
    (ts < WEEK.from ? before : inWeek(ts)) + diurnal(ts, 2);

const shapes: Shape[] = [
  shape("calm", {}),
  // The database server: 47 → 84 % over the week, +6.2 points a day.
  shape("db-leak", { memPercent: weekOnly(45, (ts) => 47 + (37 / 6) * sinceMonNoon(ts)) }),
  // Around trend_min_rise (10 points over the stretch): 12 → a finding, 8 → none.
  shape("rise-12", { memPercent: weekOnly(40, (ts) => 40 + 2 * sinceMonNoon(ts)) }),
  shape("rise-8", { memPercent: weekOnly(40, (ts) => 40 + (8 / 6) * sinceMonNoon(ts)) }),
  // Rises 12 points but zigzags day to day: R² ≈ 0.12, below trend_min_r2.
  shape("zigzag", {
    memPercent: weekOnly(40, (ts) => [40, 64, 44, 68, 48, 72, 52][Math.floor((ts - WEEK.from) / DAY)]!),
  }),
  // Leaks, restarts on Wednesday at 12:00 (70 → 30 %), leaks again at +8 points a day.
  shape("restart-leak", {
    memPercent: weekOnly(40, (ts) =>
      ts < at(2, "12:00") ? 40 + 12 * ((ts - WEEK.from) / DAY) : 30 + 8 * ((ts - at(2, "12:00")) / DAY),
    ),
  }),
  // The same restart, then flat: nothing to forecast.
  shape("restart-flat", {
    memPercent: weekOnly(40, (ts) => (ts < at(2, "12:00") ? 40 + 12 * ((ts - WEEK.from) / DAY) : 30)),
  }),
  // New on Thursday and leaking +10 points a day: four days, so hourly points.
  shape("new-leak", {
    from: at(3, "00:00"),
    memPercent: (ts) => 30 + 10 * ((ts - at(3, "00:00")) / DAY) + diurnal(ts, 2),
  }),
  // New on Tuesday, calm.
  shape("new-calm", { from: at(1, "09:10") }),
  // CPU 20 → 50 % (+5 a day, 100 % in 10 days: warning); 20 → 28 % is no trend.
  shape("cpu-grow", { cpu: (ts) => (ts < WEEK.from ? 20 : 20 + 5 * sinceMonNoon(ts)) + diurnal(ts, 3) }),
  shape("cpu-rise-8", {
    cpu: (ts) => (ts < WEEK.from ? 20 : 20 + (8 / 6) * sinceMonNoon(ts)) + diurnal(ts, 3),
  }),
  // RAM doubled on Wednesday at 14:00 (the 14:00 sample is the first with 32 GiB); used stays 6 GiB.
  shape("web-ram", {
    memTotal: (ts) => (ts < at(2, "14:00") ? 16 : 32) * GiB,
    memPercent: (ts) => (ts < at(2, "14:00") ? 37.5 : 18.75),
  }),
  // Dynamic memory: 8 ↔ 12 GiB every 12 hours of the week (4 GiB used): one summarized finding.
  shape("dyn-mem", {
    memTotal: (ts) =>
      (ts >= WEEK.from && Math.floor((ts - WEEK.from) / (12 * HOUR)) % 2 === 1 ? 12 : 8) * GiB,
    memPercent: (ts) =>
      ts >= WEEK.from && Math.floor((ts - WEEK.from) / (12 * HOUR)) % 2 === 1 ? 100 / 3 : 50,
  }),
  // A kernel update takes 200 MiB off MemTotal (1.2 %): not a RAM change.
  shape("ram-jitter", { memTotal: (ts) => (ts < at(2, "14:00") ? 16 * GiB : 16 * GiB - 200 * 1024 ** 2) }),
  // Windows: D: extended to six times its size at 10:20 on Wednesday (inside an hour).
  shape("win-drive", {
    mounts: (ts) => [
      { mount: "C:", total: 100 * GiB, used: 50 * GiB },
      { mount: "D:", total: (ts < at(2, "10:20") ? 200 : 1200) * GiB, used: 150 * GiB },
    ],
  }),
  // A filesystem whose size follows a shared pool: ±0.5 % every hour, never a step of 5 %.
  shape("pool-drift", {
    mounts: (ts) => [
      { mount: "/tank", total: Math.round(500 * GiB * (1 + 0.005 * Math.sin(ts / HOUR))), used: 200 * GiB },
    ],
  }),
  // A backup volume mounted at 09:00 on Tuesday and gone after the 18:00 sample on Friday.
  shape("backup", {
    mounts: (ts) => [
      { mount: "/", total: 100 * GiB, used: 40 * GiB },
      ...(ts >= at(1, "09:00") && ts <= at(4, "18:00")
        ? [{ mount: "/backup", total: 4096 * GiB, used: 1000 * GiB }]
        : []),
    ],
  }),
  // An NFS mount missing from two samples inside one hour: not a removal.
  shape("nfs-blip", {
    mounts: (ts) => [
      { mount: "/", total: 100 * GiB, used: 40 * GiB },
      ...(ts === at(2, "10:10") || ts === at(2, "10:20")
        ? []
        : [{ mount: "/mnt/nfs", total: 1000 * GiB, used: 100 * GiB }]),
    ],
  }),
  // Retired on Thursday: the last sample is at 14:50.
  shape("retired", { to: at(3, "15:00") }),
  // Filled up on Wednesday and stays at 100 %: a critical disk_full, no "full in 0 days".
  shape("disk-100", {
    mounts: (ts) => [
      {
        mount: "/",
        total: 100 * GiB,
        used: Math.min(100 * GiB, Math.round(70 * GiB + (30 * GiB * (ts - HISTORY_FROM)) / (30 * DAY))),
      },
    ],
  }),
  // 60 % and growing 1 GiB a day: still forecast.
  shape("disk-growing", {
    mounts: (ts) => [
      { mount: "/", total: 100 * GiB, used: Math.round(25 * GiB + (GiB * (ts - HISTORY_FROM)) / DAY) },
    ],
  }),
];

describe("trends and changes on hand-built weeks", () => {
  let t: TempStore;
  let report: WeeklyReport;
  let raw: WeeklyReport;
  const server = (name: string): ServerReport => {
    const s = report.servers.find((x) => x.server === name);
    if (s === undefined) throw new Error(`no server ${name}`);
    return s;
  };
  const of = (name: string, kind: string): Finding[] => server(name).findings.filter((f) => f.kind === kind);
  const kinds = (name: string): string[] => server(name).findings.map((f) => f.kind);

  beforeAll(async () => {
    t = await tempStore();
    let seed = 1;
    for (const s of shapes) {
      const rows = [...shapeRows(s, seed++)];
      for (let k = 0; k < rows.length; k += 5000) await upload(t.store, rows.slice(k, k + 5000));
    }
    report = await buildWeeklyReport(t.store, { week: "2026-W47", timeZone: TZ, now: NOW });
    raw = await buildWeeklyReport(t.store, { week: "2026-W47", timeZone: TZ, now: NOW, source: "raw" });
  });
  afterAll(async () => {
    await t.cleanup();
  });

  it("the rollups give the same findings as the raw rows", () => {
    expect(report.source).toBe("rollups");
    expect({ ...report, source: undefined }).toEqual({ ...raw, source: undefined });
  });

  it("reading the hours only where they could matter changes nothing", () => {
    let seed = 1;
    for (const s of shapes) {
      const rows = [...shapeRows(s, seed++)];
      const lazy = serverReportFromRows(s.server, rows, { week: WEEK, now: NOW });
      const always = serverReportFromRows(s.server, rows, { week: WEEK, now: NOW, alwaysHours: true });
      expect(lazy, s.server).toEqual(always);
      expect(lazy, s.server).toEqual(server(s.server));
    }
  });

  it("the plain text and the HTML show the new findings (needs action, per server)", async () => {
    const { text, html } = await renderReport(report, "standalone");
    expect(text).toContain(
      "- db-leak [critical]: Memory use grew from 47 % to 84 % this week (+6.2 points a day); at this rate it reaches 100 % around Wed 25 Nov (in 2 days).",
    );
    expect(text).toContain(
      "   INFO: RAM changed from 16.0 GiB to 32.0 GiB on Wed 18 Nov between 13:50 and 14:00.",
    );
    expect(text).toContain("   INFO: Mount /backup appeared on Tue 17 Nov between 08:50 and 09:00.");
    // Information does not make a server need action.
    expect(text).not.toMatch(/^- web-ram /m);
    expect(html).toContain("Memory use grew from 47 % to 84 % this week");
    expect(html).toContain("Disk D: was resized from 200 GiB to 1.2 TiB");
  });

  it("a calm server has no findings and no trends", () => {
    expect(server("calm").findings).toEqual([]);
    expect(server("calm").trends).toEqual([]);
  });

  it("a memory leak: the issue's database server, 47 → 84 % this week", () => {
    const [f] = of("db-leak", "memory_trend");
    expect(f).toBeDefined();
    expect(f!.severity).toBe("critical");
    // The fitted line (47 % at Monday noon, +6.17 a day) reaches 100 % early on Wed 25 Nov.
    expect(f!.date).toBe("2026-11-25");
    expect(f!.message).toBe(
      "Memory use grew from 47 % to 84 % this week (+6.2 points a day); at this rate it reaches 100 % around Wed 25 Nov (in 2 days).",
    );
    const tr = server("db-leak").trends!.find((x) => x.metric === "memory")!;
    expect(tr).toMatchObject({ resolution: "daily", since_reason: "week", points: 7, days_to_full: 2 });
    expect(tr.r2).toBeGreaterThan(0.99);
    expect(server("db-leak").status).toBe("critical");
    expect(report.fleet!.needs_action.find((n) => n.server === "db-leak")!.reason).toMatch(
      /^Memory use grew/,
    );
    // 84 % stays under memory_pressure's 85 %: without the trend the server would look fine.
    expect(kinds("db-leak")).not.toContain("memory_pressure");
  });

  it("around trend_min_rise: 12 points in the week is a warning, 8 is nothing", () => {
    const [f] = of("rise-12", "memory_trend");
    expect(f?.severity).toBe("warning");
    expect(f!.message).toMatch(
      /^Memory use grew from 40 % to 52 % this week \(\+2\.0 points a day\); at this rate it reaches 100 % around \w{3} \d+ Dec \(in 2\d days\)\.$/,
    );
    expect(kinds("rise-8")).not.toContain("memory_trend");
    expect(server("rise-8").trends).toEqual([]);
  });

  it("a rise that zigzags (poor fit) is not a trend", () => {
    expect(kinds("zigzag")).not.toContain("memory_trend");
  });

  it("after a restart the climb since the restart is judged, on hourly points", () => {
    const [f] = of("restart-leak", "memory_trend");
    expect(f?.severity).toBe("critical");
    expect(f!.message).toMatch(
      /^Memory use grew from 3\d % to 6\d % since Wed 18 Nov 13:00, after a sharp drop in memory use \(a restart\?\) \(\+8\.0 points a day, from hourly figures\); at this rate it reaches 100 % around Fri 27 Nov \(in 4 days\)\.$/,
    );
    const tr = server("restart-leak").trends!.find((x) => x.metric === "memory")!;
    expect(tr.resolution).toBe("hourly");
    expect(tr.points).toBeGreaterThanOrEqual(80);
    // Flat after the restart: the climb before it is history.
    expect(kinds("restart-flat")).not.toContain("memory_trend");
  });

  it("a new server is judged since it was first seen, on hourly points, and is reported as new", () => {
    const [f] = of("new-leak", "memory_trend");
    expect(f?.severity).toBe("critical");
    expect(f!.message).toMatch(
      /^Memory use grew from 3\d % to 7\d % since it was first seen \(Thu 19 Nov 00:00\) \(\+10 points a day, from hourly figures\); at this rate it reaches 100 % around/,
    );
    expect(of("new-leak", "new_server")[0]!.message).toBe(
      "New server: first seen Thu 19 Nov 00:00 with 16.0 GiB RAM and mount /.",
    );
    expect(of("new-calm", "new_server")).toEqual([
      {
        severity: "info",
        kind: "new_server",
        date: "2026-11-17",
        message: "New server: first seen Tue 17 Nov 09:10 with 16.0 GiB RAM and mount /.",
      },
    ]);
    expect(server("new-calm").status).toBe("ok");
    expect(kinds("calm")).not.toContain("new_server");
  });

  it("CPU growth: 20 → 50 % is a warning (100 % in about 10 days), 20 → 28 % is nothing", () => {
    const [f] = of("cpu-grow", "cpu_trend");
    expect(f?.severity).toBe("warning");
    expect(f!.message).toMatch(
      /^CPU use grew from 20 % to 50 % this week \(\+5\.0 points a day\); at this rate it reaches 100 % around \w{3} \d+ Dec \((in 9 days|in 10 days)\)\.$/,
    );
    expect(kinds("cpu-rise-8")).not.toContain("cpu_trend");
  });

  it("RAM changed: with the day and the two samples around it; a 1 % wobble is not a change", () => {
    expect(of("web-ram", "ram_changed")).toEqual([
      {
        severity: "info",
        kind: "ram_changed",
        date: "2026-11-18",
        message: "RAM changed from 16.0 GiB to 32.0 GiB on Wed 18 Nov between 13:50 and 14:00.",
      },
    ]);
    // Memory % halved with the RAM: neither a restart nor a finding of its own.
    expect(server("web-ram").status).toBe("ok");
    expect(kinds("ram-jitter")).toEqual([]);
  });

  it("more than three changes of one kind in a week are summarized in one finding", () => {
    expect(of("dyn-mem", "ram_changed")).toEqual([
      {
        severity: "info",
        kind: "ram_changed",
        date: "2026-11-16",
        message:
          "RAM changed 13 times this week, first Mon 16 Nov 12:00, last Sun 22 Nov 12:00, between 8.0 GiB and 12.0 GiB; now 12.0 GiB (dynamic memory?).",
      },
    ]);
    expect(server("dyn-mem").status).toBe("ok");
  });

  it("a drive resized: inside an hour, located to that hour; pool drift is not a resize", () => {
    expect(of("win-drive", "disk_resized")).toEqual([
      {
        severity: "info",
        kind: "disk_resized",
        mount: "D:",
        date: "2026-11-18",
        message: "Disk D: was resized from 200 GiB to 1.2 TiB on Wed 18 Nov between 10:00 and 10:50.",
      },
    ]);
    expect(kinds("pool-drift")).toEqual([]);
  });

  it("a mount added on Tuesday and removed on Friday; a two-sample blip is neither", () => {
    expect(of("backup", "mount_added")).toEqual([
      {
        severity: "info",
        kind: "mount_added",
        mount: "/backup",
        date: "2026-11-17",
        message: "Mount /backup appeared on Tue 17 Nov between 08:50 and 09:00.",
      },
    ]);
    expect(of("backup", "mount_removed")).toEqual([
      {
        severity: "info",
        kind: "mount_removed",
        mount: "/backup",
        date: "2026-11-20",
        message:
          "Mount /backup disappeared on Fri 20 Nov between 18:00 and 18:50; the server kept reporting.",
      },
    ]);
    expect(server("backup").status).toBe("ok");
    expect(kinds("nfs-blip")).toEqual([]);
  });

  it("a retired server is 'stopped reporting' with its last sample, and no change findings", () => {
    expect(server("retired").status).toBe("silent");
    expect(server("retired").findings[0]!.kind).toBe("stopped_reporting");
    // (its last day also has a coverage gap, as before issue 16)
    expect(kinds("retired").filter((k) => k !== "stopped_reporting" && k !== "coverage_gap")).toEqual([]);
    expect(server("retired").findings[0]!.message).toMatch(/last sample Thu 19 Nov 14:50, 3 days before/);
  });

  it("no forecast for a disk that is already full; the full-disk finding says it", () => {
    expect(of("disk-100", "disk_full")[0]).toMatchObject({ severity: "critical", mount: "/" });
    expect(of("disk-100", "disk_full")[0]!.message).toMatch(/^Disk \/ is 100 % full: 0 B free/);
    expect(server("disk-100").forecasts).toEqual([]);
    expect(kinds("disk-100")).not.toContain("disk_full_forecast");
    expect(server("disk-growing").forecasts).toHaveLength(1);
    expect(kinds("disk-growing")).toContain("disk_full_forecast");
  });
});

describe("rollups made before issue 16 (schema v1)", () => {
  it("are emptied by migration 2 and refilled by the next refresh, giving the raw figures", async () => {
    let t = await tempStore();
    try {
      let seed = 1;
      for (const s of shapes.slice(0, 6)) await upload(t.store, [...shapeRows(s, seed++)]);
      await t.store.close();
      // Put the file back to rollups schema v1, with a watermark claiming every upload folded in.
      const file = path.join(t.dir, "srvutil.db");
      const db = new Database(file);
      db.exec(`DROP TABLE rollup_hourly; DROP TABLE rollup_hourly_disk; DROP TABLE rollup_daily;
        DROP TABLE rollup_daily_disk; DROP TABLE rollup_zones; DROP TABLE rollup_state;
        DROP TABLE rollup_hour_seen;
        DELETE FROM schema_migrations WHERE component = 'rollups';`);
      runMigrations(db, "rollups", ROLLUP_MIGRATIONS.slice(0, 1));
      const maxSeq = db.prepare("SELECT MAX(seq) FROM uploads").pluck().get() as number;
      db.prepare("INSERT INTO rollup_state (key, value) VALUES ('upload_seq', ?), ('upload_count', 6)").run(
        maxSeq,
      );
      db.close();
      t = { ...t, store: await openStorage(`sqlite:${file}`) };
      const opts = { week: "2026-W47", timeZone: TZ, now: NOW };
      const rollups = await buildWeeklyReport(t.store, opts);
      const raw = await buildWeeklyReport(t.store, { ...opts, source: "raw" });
      expect(rollups.source).toBe("rollups");
      expect(rollups.servers).toHaveLength(6);
      expect({ ...rollups, source: undefined }).toEqual({ ...raw, source: undefined });
      expect(rollups.servers.find((s) => s.server === "db-leak")!.findings[0]!.kind).toBe("memory_trend");
    } finally {
      await t.store.close();
      await t.cleanup();
    }
  });
});
