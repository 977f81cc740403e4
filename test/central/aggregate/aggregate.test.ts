import { readFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { aggregateRows } from "../../../src/central/aggregate/rows.js";
import { resolveReportWeek } from "../../../src/central/aggregate/week.js";
import { buildWeeklyReport } from "../../../src/central/report/index.js";
import type { DayReport } from "../../../src/central/report/types.js";
import { type MetricRow, parseMetricsCsv } from "../../../src/protocol/index.js";
import { REPO_ROOT } from "../../helpers/cli.js";
import { type TempStore, tempStore, upload } from "../../helpers/store-backends.js";

const NOW = Date.UTC(2026, 10, 25);
function fixture(name: string): MetricRow[] {
  const bytes = readFileSync(path.join(REPO_ROOT, "test/fixtures/report", name));
  return parseMetricsCsv(bytes, { now: NOW }).rows;
}

function expectEmpty(day: DayReport, date: string): void {
  expect(day).toMatchObject({
    date,
    samples: 0,
    cpu: { avg: null, peak: null },
    memory: {
      total_bytes: null,
      used_avg_bytes: null,
      available_avg_bytes: null,
      percent_avg: null,
      percent_peak: null,
    },
    disks: [],
  });
}

/** Hand-computed from test/fixtures/report/w43-part*.csv (see the comments there and in docs/report.md). */
function checkW43(days: DayReport[]): void {
  expect(days.map((d) => d.date)).toEqual([
    "2026-10-19",
    "2026-10-20",
    "2026-10-21",
    "2026-10-22",
    "2026-10-23",
    "2026-10-24",
    "2026-10-25",
  ]);
  for (let i = 0; i < 5; i++) expectEmpty(days[i]!, days[i]!.date);
  // Saturday: one sample at 23:59 CEST (given with +02:00), no cpu_peak_percent.
  const sat = days[5]!;
  expect(sat.samples).toBe(1);
  expect(sat.cpu).toEqual({ avg: 10, peak: 10 });
  expect(sat.memory).toEqual({
    total_bytes: 1000,
    used_avg_bytes: 500,
    available_avg_bytes: 500,
    percent_avg: 50,
    percent_peak: 50,
  });
  expect(sat.disks).toEqual([{ mount: "/", total_bytes: 100, used_bytes: 9, free_bytes: 91, percent: 9 }]);
  // Sunday, 25 hours: 00:00 CEST, the first 02:30 (+02:00), the second 02:30 (+01:00), 23:59 CET.
  // Rows repeated across the two files and the same instant written as Z and +01:00 count once;
  // Monday 00:00 CET (23:00Z) belongs to the next week.
  const sun = days[6]!;
  expect(sun.samples).toBe(4);
  expect(sun.cpu.avg).toBe(50); // (20 + 40 + 60 + 80) / 4
  expect(sun.cpu.peak).toBe(95); // cpu_peak_percent of the first 02:30
  expect(sun.memory.total_bytes).toBe(2000); // the day's last sample
  expect(sun.memory.used_avg_bytes).toBe(250); // (100 + 200 + 300 + 400) / 4
  expect(sun.memory.available_avg_bytes).toBe(1000); // (900 + 800 + 700 + 1600) / 4
  expect(sun.memory.percent_avg).toBeCloseTo(20, 12); // (10 + 20 + 30 + 20) / 4
  expect(sun.memory.percent_peak).toBeCloseTo(30, 12);
  // "/" from its last sample (23:59 CET); "/data" from its last one (the first 02:30).
  expect(sun.disks).toHaveLength(2);
  expect(sun.disks[0]).toMatchObject({ mount: "/", total_bytes: 100, used_bytes: 40, free_bytes: 50 });
  expect(sun.disks[0]!.percent).toBeCloseTo((40 / 90) * 100, 12); // used / (used + free)
  expect(sun.disks[1]).toEqual({
    mount: "/data",
    total_bytes: 20,
    used_bytes: 5,
    free_bytes: 15,
    percent: 25,
  });
}

/** Hand-computed from test/fixtures/report/w13.csv (mount C:, columns in another order, an extra column). */
function checkW13(days: DayReport[]): void {
  for (let i = 0; i < 5; i++) expectEmpty(days[i]!, days[i]!.date);
  expect(days[5]).toMatchObject({ date: "2026-03-28", samples: 1, cpu: { avg: 5, peak: 5 } });
  const sun = days[6]!;
  expect(sun.date).toBe("2026-03-29");
  // 00:00 CET, 01:59 CET, 03:00 CEST (one minute later), 23:59 CEST; Monday 00:00 CEST excluded.
  expect(sun.samples).toBe(4);
  expect(sun.cpu).toEqual({ avg: 25, peak: 40 });
  expect(sun.memory).toEqual({
    total_bytes: 800,
    used_avg_bytes: 500,
    available_avg_bytes: 300,
    percent_avg: 62.5,
    percent_peak: 100,
  });
  expect(sun.disks).toEqual([
    { mount: "C:", total_bytes: 1000, used_bytes: 500, free_bytes: 400, percent: (500 / 900) * 100 },
  ]);
}

describe("aggregateRows (reference over raw rows)", () => {
  it("2026-W43 Europe/Berlin: 25-hour Sunday, duplicates across two files, offsets, empty days", () => {
    const week = resolveReportWeek("2026-W43", "Europe/Berlin");
    const rows = [...fixture("w43-part1.csv"), ...fixture("w43-part2.csv")];
    const result = aggregateRows(rows, week);
    expect([...result.keys()]).toEqual(["db-01"]);
    checkW43(result.get("db-01")!);
  });

  it("does not depend on row order or on a file being counted twice", () => {
    const week = resolveReportWeek("2026-W43", "Europe/Berlin");
    const rows = [
      ...fixture("w43-part2.csv"),
      ...fixture("w43-part1.csv"),
      ...fixture("w43-part2.csv"),
    ].reverse();
    checkW43(aggregateRows(rows, week).get("db-01")!);
  });

  it("2026-W13 Europe/Berlin: 23-hour Sunday", () => {
    const week = resolveReportWeek("2026-W13", "Europe/Berlin");
    checkW13(aggregateRows(fixture("w13.csv"), week).get("app-01")!);
  });

  it("cuts days in the report zone: the same rows in UTC fall on other days", () => {
    const week = resolveReportWeek("2026-W43", "UTC");
    const days = aggregateRows([...fixture("w43-part1.csv"), ...fixture("w43-part2.csv")], week).get(
      "db-01",
    )!;
    // In UTC, 2026-10-24T22:00Z is still Saturday and 23:00Z on the 25th is Sunday.
    expect(days[5]!.samples).toBe(2);
    expect(days[6]!.samples).toBe(4);
  });
});

describe("buildWeeklyReport over a real SQLite store", () => {
  let t: TempStore | undefined;
  afterEach(async () => {
    await t?.cleanup();
    t = undefined;
  });

  it.each(["rollups", "raw"] as const)("gives the hand-computed figures (%s)", async (source) => {
    t = await tempStore();
    await upload(t.store, fixture("w43-part1.csv"));
    await upload(t.store, fixture("w43-part2.csv"));
    await upload(t.store, fixture("w43-part2.csv")); // the same file again changes nothing
    await upload(t.store, fixture("w13.csv"));
    const w43 = await buildWeeklyReport(t.store, {
      week: "2026-W43",
      timeZone: "Europe/Berlin",
      now: NOW,
      source,
    });
    expect(w43.source).toBe(source);
    expect(w43.week).toBe("2026-W43");
    expect(w43.timezone).toBe("Europe/Berlin");
    expect(w43.from).toBe("2026-10-19T00:00:00.000+02:00");
    expect(w43.to).toBe("2026-10-26T00:00:00.000+01:00");
    expect(w43.generated_at).toBe(new Date(NOW).toISOString());
    const db01 = w43.servers.find((s) => s.server === "db-01")!;
    checkW43(db01.days);
    const w13 = await buildWeeklyReport(t.store, {
      week: "2026-W13",
      timeZone: "Europe/Berlin",
      now: NOW,
      source,
    });
    const app01 = w13.servers.find((s) => s.server === "app-01")!;
    checkW13(app01.days);
    // interval_seconds 60 → the 23-hour Sunday expects 1380 samples.
    expect(app01.days[6]!.expected_samples).toBe(23 * 60);
    // Servers sorted, seven days each.
    expect(w13.servers.map((s) => s.server)).toEqual([...w13.servers.map((s) => s.server)].sort());
    for (const s of [...w13.servers, ...w43.servers]) expect(s.days).toHaveLength(7);
  });
});
