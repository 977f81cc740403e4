import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveReportWeek } from "../../../src/central/aggregate/week.js";
import { linearFit } from "../../../src/central/report/findings.js";
import {
  buildWeeklyReport,
  type ServerReport,
  type WeeklyReport,
} from "../../../src/central/report/index.js";
import { profileRows, randomProfile, rng, type ServerProfile } from "../../helpers/fleet.js";
import { type TempStore, tempStore, upload } from "../../helpers/store-backends.js";

const TZ = "Europe/Berlin";
const WEEK = resolveReportWeek("2026-W47", TZ);
const DAY = 86_400_000;
const HISTORY_FROM = WEEK.from - 28 * DAY;
const NOW = WEEK.to + 6 * 3_600_000; // Monday morning after the week
const GiB = 1024 ** 3;

function calm(name: string, seed: number): ServerProfile {
  const p = randomProfile(rng(seed), name);
  p.intervalSeconds = 600;
  p.cpuBase = 20;
  p.cpuSwing = 5;
  p.memBase = 0.4;
  p.dropRate = 0;
  p.optionalColumns = true;
  p.mounts = ["/"];
  p.diskTotal = [100 * GiB];
  p.diskUsed0 = [40 * GiB];
  p.diskGrowthPerDay = [0];
  return p;
}

const profiles: ServerProfile[] = [];
{
  profiles.push(calm("ok-01", 1));
  const cpu = calm("cpu-hot", 2);
  // Busy all week: sustained, not a spike.
  cpu.incident = { from: WEEK.from, to: WEEK.to, cpu: 70 };
  profiles.push(cpu);
  const spike = calm("cpu-spike", 3);
  spike.incident = { from: WEEK.dayStarts[2]! + 3_600_000, to: WEEK.dayStarts[2]! + 4_200_000, cpu: 80 };
  profiles.push(spike);
  const mem = calm("mem-full", 4);
  mem.memBase = 0.9;
  profiles.push(mem);
  const disk = calm("disk-full", 5);
  disk.diskUsed0 = [93 * GiB];
  profiles.push(disk);
  const growing = calm("disk-growing", 6);
  growing.diskUsed0 = [30 * GiB];
  growing.diskGrowthPerDay = [1 * GiB];
  profiles.push(growing);
  const gone = calm("gone-01", 7);
  gone.stopAt = WEEK.from - 10 * DAY;
  profiles.push(gone);
  const stopped = calm("stopped-01", 8);
  stopped.stopAt = WEEK.dayStarts[4]! + 12 * 3_600_000;
  profiles.push(stopped);
  const gappy = calm("gappy-01", 9);
  gappy.dropRate = 0.3;
  profiles.push(gappy);
  const odd = calm("odd-01", 10);
  odd.incident = { from: WEEK.dayStarts[3]!, to: WEEK.dayStarts[4]!, cpu: 40 };
  profiles.push(odd);
}

describe("findings and status", () => {
  let t: TempStore;
  let report: WeeklyReport;
  const server = (name: string): ServerReport => report.servers.find((s) => s.server === name)!;
  const kinds = (name: string): string[] => server(name).findings.map((f) => f.kind);

  beforeAll(async () => {
    t = await tempStore();
    for (let i = 0; i < profiles.length; i++) {
      const rows = [...profileRows(profiles[i]!, HISTORY_FROM, WEEK.to, i + 100)];
      for (let k = 0; k < rows.length; k += 2000) await upload(t.store, rows.slice(k, k + 2000));
    }
    report = await buildWeeklyReport(t.store, { week: "2026-W47", timeZone: TZ, now: NOW });
  });
  afterAll(async () => {
    await t.cleanup();
  });

  it("a calm server is ok with no findings", () => {
    expect(server("ok-01").status).toBe("ok");
    expect(server("ok-01").findings).toEqual([]);
  });

  it("sustained high CPU is critical; a short spike is not a finding", () => {
    expect(server("cpu-hot").status).toBe("critical");
    const f = server("cpu-hot").findings.find((x) => x.kind === "cpu_sustained_high")!;
    expect(f.severity).toBe("critical");
    expect(f.message).toMatch(
      /^Sustained high CPU: whole-day average above 75 % on 7 days \(Mon 16 Nov – Sun 22 Nov\), up to \d+ % on \w{3} \d+ Nov \(threshold 75 % for a whole-day mean, not a short spike\)\.$/,
    );
    expect(server("cpu-spike").days[2]!.cpu.peak).toBeGreaterThan(90);
    expect(kinds("cpu-spike")).not.toContain("cpu_sustained_high");
    expect(server("cpu-spike").status).toBe("ok");
  });

  it("memory pressure and a disk above its threshold are warnings with plain reasons", () => {
    expect(kinds("mem-full")).toContain("memory_pressure");
    expect(server("mem-full").findings.find((x) => x.kind === "memory_pressure")!.message).toMatch(
      /^Memory pressure: average use above 85 % on 7 days \(Mon 16 Nov – Sun 22 Nov\), up to 9\d % on \w{3} \d+ Nov \(threshold 85 %\)\.$/,
    );
    expect(server("mem-full").status).toBe("warning");
    const disk = server("disk-full").findings.find((x) => x.kind === "disk_full")!;
    expect(disk.mount).toBe("/");
    expect(disk.message).toMatch(
      /^Disk \/ is 9\d % full: [\d.]+ GiB free of [\d.]+ GiB \(threshold 85 %\)\.$/,
    );
  });

  it("forecasts when a growing disk fills up, from the stored history", () => {
    const s = server("disk-growing");
    expect(s.forecasts).toHaveLength(1);
    const f = s.forecasts![0]!;
    expect(f.growth_bytes_per_day).toBeGreaterThan(0.99 * GiB);
    expect(f.growth_bytes_per_day).toBeLessThan(1.01 * GiB);
    expect(f.r2).toBeGreaterThan(0.99);
    expect(f.points).toBe(35);
    // free at the end of the week = 95 GiB usable − (30 + 35) GiB used ≈ 30 GiB → about 30 days.
    expect(f.days_to_full).toBeGreaterThanOrEqual(28);
    expect(f.days_to_full).toBeLessThanOrEqual(31);
    const finding = s.findings.find((x) => x.kind === "disk_full_forecast")!;
    expect(finding.message).toMatch(
      new RegExp(
        `Disk / will be full around ${f.full_date} \\(in ${f.days_to_full} days\\) at its growth of 1\\.0 GiB/day`,
      ),
    );
    // Flat disks get no forecast.
    expect(server("ok-01").forecasts).toEqual([]);
  });

  it("a server without data this week is silent; one that stopped mid-week too, with when", () => {
    expect(server("gone-01").status).toBe("silent");
    expect(server("gone-01").findings[0]!.kind).toBe("silent");
    expect(server("gone-01").days.every((d) => d.samples === 0)).toBe(true);
    const stopped = server("stopped-01");
    expect(stopped.status).toBe("silent");
    expect(stopped.findings[0]).toMatchObject({ kind: "stopped_reporting", severity: "critical" });
    expect(stopped.findings[0]!.message).toMatch(
      /last sample Fri 20 Nov 11:50, 2 days before the end of the week/,
    );
  });

  it("reports gaps in coverage against the interval the agent states", () => {
    const s = server("gappy-01");
    expect(kinds("gappy-01")).toContain("coverage_gap");
    expect(s.days[0]!.expected_samples).toBe(144);
    expect(s.days[0]!.coverage).toBeLessThan(0.85);
    expect(server("ok-01").days[0]!.coverage).toBe(1);
  });

  it("flags usage abnormal for this server against the same weekday of previous weeks", () => {
    const f = server("odd-01").findings.find((x) => x.kind === "cpu_abnormal")!;
    expect(f.date).toBe("2026-11-19");
    expect(f.message).toMatch(
      /CPU unusual for this server: \d+ % on average on Thu 19 Nov, while Thursdays of the previous 4 weeks averaged \d+ %/,
    );
    expect(kinds("ok-01")).not.toContain("cpu_abnormal");
  });

  it("fills the fleet summary and week-over-week changes", () => {
    const fleet = report.fleet!;
    expect(fleet.counts.ok + fleet.counts.warning + fleet.counts.critical + fleet.counts.silent).toBe(
      report.servers.length,
    );
    expect(fleet.needs_action.map((n) => n.server)).not.toContain("ok-01");
    expect(fleet.needs_action[0]!.status).toBe("critical");
    const hot = server("cpu-hot");
    expect(hot.week_over_week!.cpu_avg).toBeGreaterThan(50);
    expect(hot.week_over_week!.cpu_avg).toBeCloseTo(hot.summary!.cpu_avg! - hot.previous_week!.cpu_avg!, 9);
    const grow = server("disk-growing").week_over_week!.disks[0]!;
    expect(grow.used_bytes).toBeGreaterThan(6.9 * GiB);
    expect(grow.used_bytes).toBeLessThan(7.1 * GiB);
  });

  it("takes thresholds from the options", async () => {
    const strict = await buildWeeklyReport(t.store, {
      week: "2026-W47",
      timeZone: TZ,
      now: NOW,
      thresholds: { disk_percent_warning: 30, disk_percent_critical: 99 },
    });
    expect(strict.servers.find((s) => s.server === "ok-01")!.findings.map((f) => f.kind)).toEqual([
      "disk_full",
    ]);
    expect(strict.thresholds!.disk_percent_warning).toBe(30);
  });
});

describe("linearFit", () => {
  it("fits a line and reports R²", () => {
    const fit = linearFit([
      { x: 0, y: 1 },
      { x: 1, y: 3 },
      { x: 2, y: 5 },
    ])!;
    expect(fit.slope).toBeCloseTo(2, 12);
    expect(fit.intercept).toBeCloseTo(1, 12);
    expect(fit.r2).toBeCloseTo(1, 12);
    expect(linearFit([{ x: 1, y: 1 }])).toBeNull();
    expect(
      linearFit([
        { x: 0, y: 5 },
        { x: 1, y: 5 },
      ])!.r2,
    ).toBe(0);
  });
});

describe("rebuilding a past week", () => {
  it("judges silence by what had arrived by the end of that week, not by later data", async () => {
    const t = await tempStore();
    try {
      const w46 = resolveReportWeek("2026-W46", TZ);
      const p = calm("flap-01", 11);
      const rows = [...profileRows(p, w46.from - 7 * DAY, WEEK.to, 11)].filter(
        (r) => r.timestamp < w46.from || r.timestamp >= w46.to,
      );
      await upload(t.store, rows);
      const past = await buildWeeklyReport(t.store, { week: "2026-W46", timeZone: TZ, now: NOW });
      const s = past.servers[0]!;
      expect(s.status).toBe("silent");
      expect(s.findings[0]!.kind).toBe("silent");
      expect(new Date(s.last_seen!).getTime()).toBeLessThan(w46.from);
      const current = await buildWeeklyReport(t.store, { week: "2026-W47", timeZone: TZ, now: NOW });
      expect(current.servers[0]!.status).toBe("ok");
    } finally {
      await t.cleanup();
    }
  });
});
