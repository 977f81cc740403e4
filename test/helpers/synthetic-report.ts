import { isoInZone, resolveReportWeek } from "../../src/central/aggregate/week.js";
import type {
  DayReport,
  Finding,
  ServerReport,
  ServerStatus,
  WeekAlert,
  WeekFigures,
  WeeklyReport,
} from "../../src/central/report/index.js";
import { DEFAULT_THRESHOLDS, groupFigures } from "../../src/central/report/index.js";
import { rng } from "./fleet.js";

const GiB = 1024 ** 3;

/**
 * A Report JSON object for a fleet of any size, generated directly (no
 * store), for the size tests at 1,000 and 10,000 servers where seeding a
 * database would take minutes. It has what real reports have: 7 days, 1–3
 * mounts, findings of every severity, week-over-week figures and forecasts,
 * about 8 % of servers needing action. Deterministic for a seed.
 */
export function syntheticReport(
  servers: number,
  seed = 7,
  week = "2026-W47",
  tz = "Europe/Berlin",
): WeeklyReport {
  const r = rng(seed);
  const w = resolveReportWeek(week, tz);
  const width = Math.max(2, String(servers).length);
  const out: ServerReport[] = [];
  for (let i = 0; i < servers; i++) {
    const name = `${["web", "api", "db", "cache", "batch"][i % 5]}-${String(i + 1).padStart(width, "0")}`;
    const roll = r();
    const status: ServerStatus =
      roll < 0.02 ? "critical" : roll < 0.03 ? "silent" : roll < 0.08 ? "warning" : "ok";
    const mounts = ["/", "/data", "/var/log"].slice(0, 1 + Math.floor(r() * 3));
    const memTotal = [4, 8, 16, 32, 64][Math.floor(r() * 5)]! * GiB;
    const cpuBase = 5 + r() * 50;
    const memBase = 20 + r() * 50;
    const diskTotals = mounts.map(() => Math.round((20 + r() * 480) * GiB));
    const diskUsed = diskTotals.map((t) => Math.round(t * (0.1 + r() * 0.6)));
    const days: DayReport[] = w.dates.map((date, d) => {
      const silentDay = status === "silent" && d >= 3;
      if (silentDay) {
        return {
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
          expected_samples: 1440,
          coverage: 0,
        };
      }
      const cpu = Math.min(100, cpuBase + (status === "critical" ? 45 : 0) + r() * 10);
      const mem = Math.min(100, memBase + r() * 8);
      const samples = 1440 - Math.floor(r() < 0.1 ? r() * 400 : 0);
      return {
        date,
        samples,
        cpu: { avg: cpu, peak: Math.min(100, cpu + r() * 30) },
        memory: {
          total_bytes: memTotal,
          used_avg_bytes: (memTotal * mem) / 100,
          available_avg_bytes: (memTotal * (100 - mem)) / 100,
          percent_avg: mem,
          percent_peak: Math.min(100, mem + r() * 5),
        },
        disks: mounts.map((mount, m) => {
          const used = diskUsed[m]! + d * 1e8;
          const free = diskTotals[m]! - used;
          return {
            mount,
            total_bytes: diskTotals[m]!,
            used_bytes: used,
            free_bytes: free,
            percent: (used / (used + free)) * 100,
          };
        }),
        expected_samples: 1440,
        coverage: samples / 1440,
      };
    });
    const findings: Finding[] = [];
    if (status === "critical") {
      findings.push({
        severity: "critical",
        kind: "cpu_sustained_high",
        message: `CPU averaged ${(cpuBase + 45).toFixed(0)} % on ${days.length} days (critical ≥ 90 %)`,
      });
    }
    if (status === "silent") {
      findings.push({
        severity: "critical",
        kind: "stopped_reporting",
        message: `Stopped reporting: last sample Wed ${w.dates[2]} 23:58 (${Math.round((w.to - w.dayStarts[3]!) / 3.6e6)} h before the end of the week)`,
      });
    }
    if (status === "warning" || (status === "critical" && r() < 0.5)) {
      findings.push({
        severity: "warning",
        kind: "disk_full_forecast",
        mount: mounts[0]!,
        message: `Disk ${mounts[0]} will be full around ${w.dates[6]} (in ${Math.ceil(r() * 29)} days) at +${(r() * 5).toFixed(1)} GiB/day`,
      });
    }
    if (r() < 0.1) {
      findings.push({
        severity: "info",
        kind: "coverage_gap",
        message: "Coverage 93 % on Tue (1339 of 1440 samples)",
      });
    }
    const summary = figures(days);
    const previous: WeekFigures = {
      ...summary,
      cpu_avg: summary.cpu_avg === null ? null : Math.max(0, summary.cpu_avg - (r() < 0.05 ? 20 : r() * 3)),
      memory_percent_avg: summary.memory_percent_avg,
    };
    out.push({
      server: name,
      status,
      days,
      findings,
      summary,
      previous_week: previous,
      week_over_week: {
        cpu_avg:
          summary.cpu_avg === null || previous.cpu_avg === null ? null : summary.cpu_avg - previous.cpu_avg,
        cpu_peak: 0,
        memory_percent_avg: 0,
        memory_percent_peak: 0,
        disks: summary.disks.map((d) => ({ mount: d.mount, percent: 0.3, used_bytes: 7e8 })),
      },
      forecasts: [],
      last_seen: new Date(status === "silent" ? w.dayStarts[3]! : w.to - 60_000).toISOString(),
    });
  }
  out.sort((a, b) => (a.server < b.server ? -1 : a.server > b.server ? 1 : 0));
  const counts: Record<ServerStatus, number> = { ok: 0, warning: 0, critical: 0, silent: 0 };
  for (const s of out) counts[s.status]++;
  const rank: Record<ServerStatus, number> = { critical: 0, silent: 1, warning: 2, ok: 3 };
  return {
    week: w.week,
    timezone: tz,
    from: isoInZone(w.from, tz),
    to: isoInZone(w.to, tz),
    generated_at: new Date(w.to + 6 * 3.6e6).toISOString(),
    servers: out,
    fleet: {
      counts,
      needs_action: out
        .filter((s) => s.status !== "ok")
        .sort((a, b) => rank[a.status] - rank[b.status] || (a.server < b.server ? -1 : 1))
        .map((s) => ({
          server: s.server,
          status: s.status,
          reason: s.findings[0]?.message ?? "needs attention",
        })),
    },
    thresholds: { ...DEFAULT_THRESHOLDS },
    source: "rollups",
  };
}

function figures(days: DayReport[]): WeekFigures {
  const withData = days.filter((d) => d.samples > 0);
  const samples = withData.reduce((a, d) => a + d.samples, 0);
  const mean = (f: (d: DayReport) => number): number | null =>
    samples === 0 ? null : withData.reduce((a, d) => a + f(d) * d.samples, 0) / samples;
  const last = withData[withData.length - 1];
  return {
    samples,
    expected_samples: 1440 * 7,
    coverage: samples / (1440 * 7),
    cpu_avg: mean((d) => d.cpu.avg!),
    cpu_peak: withData.length === 0 ? null : Math.max(...withData.map((d) => d.cpu.peak!)),
    memory_percent_avg: mean((d) => d.memory.percent_avg!),
    memory_percent_peak:
      withData.length === 0 ? null : Math.max(...withData.map((d) => d.memory.percent_peak!)),
    disks: (last?.disks ?? []).map((d) => ({ ...d })),
  };
}

/**
 * `report` with an "alerts" part: one critical alert still firing and one
 * warning that resolved, on its first two servers, dated in its week.
 */
export function withSyntheticAlerts(report: WeeklyReport): WeeklyReport {
  const from = Date.parse(report.from);
  const to = Date.parse(report.to);
  const [a, b] = report.servers;
  if (a === undefined || b === undefined) throw new Error("withSyntheticAlerts: needs two servers");
  const episodes: WeekAlert[] = [
    {
      server: a.server,
      rule: "disk_full_soon",
      mount: "/data",
      severity: "critical",
      summary: "/data full in about 9 hours (92 % now, +1.2 GB/h)",
      fired_at: new Date(to - 30 * 3.6e6).toISOString(),
      resolved_at: null,
      firing_ms: 30 * 3.6e6,
      still_firing: true,
    },
    {
      server: b.server,
      rule: "cpu_pressure",
      mount: "",
      severity: "warning",
      summary: "CPU above 75 % for 60 minutes (97.25 % now)",
      fired_at: new Date(from + 26 * 3.6e6).toISOString(),
      resolved_at: new Date(from + 29 * 3.6e6).toISOString(),
      firing_ms: 3 * 3.6e6,
      still_firing: false,
    },
  ];
  return { ...report, alerts: { fired: 2, still_firing: 1, episodes, more: 0 } };
}

/** The longest group name a groups file allows (64 characters, one word): the widest "By group" row. */
export const LONGEST_GROUP = `platform-${"x".repeat(55)}`;

/**
 * The report with "By group" as the whole fleet's report has it with groups
 * configured: every third server in "payments", every other one in the
 * longest-named group (so some are in both), the rest in no group.
 */
export function withSyntheticGroups(report: WeeklyReport): WeeklyReport {
  const index = new Map(report.servers.map((s, i) => [s.server, i]));
  const groups = [
    { name: "payments", includes: (s: string) => index.get(s)! % 3 === 0 },
    { name: LONGEST_GROUP, includes: (s: string) => index.get(s)! % 2 === 0 },
  ];
  return { ...report, groups: groupFigures(report.servers, report.fleet?.needs_action ?? [], groups) };
}
