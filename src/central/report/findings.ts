import { DateTime } from "luxon";
import type { DayAggregate, HourAggregate } from "../aggregate/rows.js";
import { changeFindings } from "./changes.js";
import { humanBytes } from "./format.js";
import { linearFit, trendFinding } from "./trends.js";
import type { DiskForecast, Finding, ReportThresholds, ServerStatus, UsageTrend } from "./types.js";

export { humanBytes } from "./format.js";
export { linearFit } from "./trends.js";

/** Everything the findings of one server are derived from. */
export interface ServerEvidence {
  server: string;
  timeZone: string;
  /** History then the report week: the last 7 entries are the week (Monday first). */
  days: DayAggregate[];
  /** Per day of `days`: samples expected. */
  expected: number[];
  /** Epoch ms of the start of each entry of `days`, plus the end. */
  dayStarts: number[];
  /** Last sample up to the end of the week (within `days`), or null. */
  lastSeen: number | null;
  /** min(now, end of the week): the moment "silent" is judged at. */
  judgedAt: number;
  /** First sample ever stored for this server (epoch ms). */
  firstSeen: number;
  /** The week's hour buckets with samples, chronological (trends on hourly points, change times). */
  hours: HourAggregate[];
}

const pct = (v: number): string => `${v.toFixed(v >= 10 ? 0 : 1)} %`;

export function weekdayLabel(date: string): string {
  return DateTime.fromISO(date).toFormat("ccc d LLL");
}

/**
 * "82 % on Tue 17 Nov, 91 % on Wed 18 Nov" for one or two days; for more,
 * "above 75 % on 5 days (Tue 17 Nov – Sat 21 Nov), up to 91 % on Wed 18 Nov"
 * so the line stays readable.
 */
function dayList(days: DayAggregate[], value: (d: DayAggregate) => number, threshold: number): string {
  if (days.length <= 2) return days.map((d) => `${pct(value(d))} on ${weekdayLabel(d.day.date)}`).join(", ");
  const worst = days.reduce((a, b) => (value(b) > value(a) ? b : a));
  return `above ${threshold} % on ${days.length} days (${weekdayLabel(days[0]!.day.date)} – ${weekdayLabel(
    days[days.length - 1]!.day.date,
  )}), up to ${pct(value(worst))} on ${weekdayLabel(worst.day.date)}`;
}

function localTime(ms: number, timeZone: string): string {
  return DateTime.fromMillis(ms, { zone: timeZone }).toFormat("ccc d LLL HH:mm");
}

function duration(ms: number): string {
  const h = Math.floor(ms / 3_600_000);
  if (h < 48) return `${h} hours`;
  return `${Math.floor(h / 24)} days`;
}

/**
 * Forecasts when each disk of the server fills up: a least-squares line
 * through the last sample of every day (used bytes against time) over the
 * stored history. Only growing disks with a good fit and enough points qualify.
 */
export function forecastDisks(ev: ServerEvidence, t: ReportThresholds): DiskForecast[] {
  const byMount = new Map<string, { x: number; y: number; free: number; at: number }[]>();
  for (const d of ev.days) {
    if (d.lastTs === null) continue;
    for (const disk of d.day.disks) {
      let pts = byMount.get(disk.mount);
      if (pts === undefined) {
        pts = [];
        byMount.set(disk.mount, pts);
      }
      pts.push({ x: d.lastTs / 86_400_000, y: disk.used_bytes, free: disk.free_bytes, at: d.lastTs });
    }
  }
  const out: DiskForecast[] = [];
  for (const [mount, pts] of [...byMount.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (pts.length < t.forecast_min_points) continue;
    const fit = linearFit(pts);
    if (fit === null || fit.slope <= 0 || fit.r2 < t.forecast_min_r2) continue;
    const last = pts[pts.length - 1]!;
    // Already (critically) full: disk_full says so, and "full in 0 days" would add nothing.
    const capacity = last.y + last.free;
    if (capacity <= 0 || (last.y / capacity) * 100 >= t.disk_percent_critical) continue;
    const days = last.free / fit.slope;
    if (!Number.isFinite(days) || days > t.disk_full_days_horizon) continue;
    const fullAt = last.at + days * 86_400_000;
    out.push({
      mount,
      full_date: DateTime.fromMillis(fullAt, { zone: ev.timeZone }).toISODate()!,
      days_to_full: Math.floor(days),
      growth_bytes_per_day: fit.slope,
      r2: fit.r2,
      points: pts.length,
    });
  }
  return out;
}

function meanSd(values: number[]): { mean: number; sd: number } {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length;
  return { mean, sd: Math.sqrt(variance) };
}

/** The findings of one server, most severe first, and its status. */
export function serverFindings(
  ev: ServerEvidence,
  t: ReportThresholds,
  forecasts: DiskForecast[],
  trends: UsageTrend[] = [],
): { findings: Finding[]; status: ServerStatus } {
  const findings: Finding[] = [];
  const n = ev.days.length;
  const weekStart = n - 7;
  const week = ev.days.slice(weekStart);
  const weekSamples = week.reduce((a, d) => a + d.day.samples, 0);
  const silentMs = t.silent_after_hours * 3_600_000;

  // Silent / stopped reporting.
  let silent = false;
  if (ev.lastSeen === null || ev.lastSeen < ev.judgedAt - silentMs) {
    silent = true;
    const since =
      ev.lastSeen === null
        ? `nor in the ${n - 7} days before`
        : `last sample ${localTime(ev.lastSeen, ev.timeZone)}, ${duration(ev.judgedAt - ev.lastSeen)} before ${
            ev.judgedAt < ev.dayStarts[n]! ? "this report" : "the end of the week"
          }`;
    findings.push({
      severity: "critical",
      kind: weekSamples === 0 ? "silent" : "stopped_reporting",
      message:
        weekSamples === 0
          ? `Silent: no data received this week (${since}). Check the agent and its network path.`
          : `Stopped reporting: ${since}. Check the agent and its network path.`,
    });
  }

  // Sustained high CPU: a whole-day average, which a single spike cannot raise.
  const cpuDays = week.filter((d) => d.day.cpu.avg !== null && d.day.cpu.avg >= t.cpu_day_avg_warning);
  if (cpuDays.length > 0) {
    const worst = Math.max(...cpuDays.map((d) => d.day.cpu.avg!));
    findings.push({
      severity: worst >= t.cpu_day_avg_critical ? "critical" : "warning",
      kind: "cpu_sustained_high",
      message: `Sustained high CPU: whole-day average ${dayList(
        cpuDays,
        (d) => d.day.cpu.avg!,
        t.cpu_day_avg_warning,
      )} (threshold ${t.cpu_day_avg_warning} % for a whole-day mean, not a short spike).`,
    });
  }

  // Memory pressure.
  const memDays = week.filter(
    (d) => d.day.memory.percent_avg !== null && d.day.memory.percent_avg >= t.memory_day_avg_warning,
  );
  if (memDays.length > 0) {
    const worst = Math.max(...memDays.map((d) => d.day.memory.percent_avg!));
    findings.push({
      severity: worst >= t.memory_day_avg_critical ? "critical" : "warning",
      kind: "memory_pressure",
      message: `Memory pressure: average use ${dayList(
        memDays,
        (d) => d.day.memory.percent_avg!,
        t.memory_day_avg_warning,
      )} (threshold ${t.memory_day_avg_warning} %).`,
    });
  }

  // Disks above threshold, on the last day with data.
  const lastDay = [...week].reverse().find((d) => d.day.samples > 0);
  for (const disk of lastDay?.day.disks ?? []) {
    if (disk.percent < t.disk_percent_warning) continue;
    findings.push({
      severity: disk.percent >= t.disk_percent_critical ? "critical" : "warning",
      kind: "disk_full",
      mount: disk.mount,
      message: `Disk ${disk.mount} is ${pct(disk.percent)} full: ${humanBytes(disk.free_bytes)} free of ${humanBytes(
        disk.used_bytes + disk.free_bytes,
      )} (threshold ${t.disk_percent_warning} %).`,
    });
  }

  for (const f of forecasts) {
    findings.push({
      severity:
        f.days_to_full <= t.disk_full_days_critical
          ? "critical"
          : f.days_to_full <= t.disk_full_days_warning
            ? "warning"
            : "info",
      kind: "disk_full_forecast",
      mount: f.mount,
      date: f.full_date,
      message: `Disk ${f.mount} will be full around ${f.full_date} (in ${f.days_to_full} days) at its growth of ${humanBytes(
        f.growth_bytes_per_day,
      )}/day over the last ${f.points} days (fit R² ${f.r2.toFixed(2)}).`,
    });
  }

  // Coverage gaps on past days (not when the whole week is silent: that finding says it already).
  if (weekSamples > 0) {
    const gapDays: DayAggregate[] = [];
    const ratio = new Map<DayAggregate, number>();
    for (let i = weekStart; i < n; i++) {
      const exp = ev.expected[i]!;
      if (exp <= 0) continue;
      const r = ev.days[i]!.day.samples / exp;
      if (r < t.coverage_min) {
        gapDays.push(ev.days[i]!);
        ratio.set(ev.days[i]!, r);
      }
    }
    if (gapDays.length > 0) {
      const lowest = gapDays.reduce((a, b) => (ratio.get(b)! < ratio.get(a)! ? b : a));
      const list =
        gapDays.length <= 2
          ? gapDays
              .map((d) => `${(ratio.get(d)! * 100).toFixed(0)} % on ${weekdayLabel(d.day.date)}`)
              .join(", ")
          : `below ${(t.coverage_min * 100).toFixed(0)} % on ${gapDays.length} days, lowest ${(
              ratio.get(lowest)! * 100
            ).toFixed(0)} % on ${weekdayLabel(lowest.day.date)}`;
      findings.push({
        severity: "warning",
        kind: "coverage_gap",
        message: `Gaps in data: received ${list} of the expected samples. Figures for those days rest on partial data.`,
      });
    }
  }

  // Abnormal for this server: above mean + kσ of the same weekday in previous weeks.
  const metrics: { kind: string; label: string; get: (d: DayAggregate) => number | null }[] = [
    { kind: "cpu", label: "CPU", get: (d) => d.day.cpu.avg },
    { kind: "memory", label: "Memory", get: (d) => d.day.memory.percent_avg },
  ];
  for (const m of metrics) {
    let worst: { i: number; value: number; mean: number; sd: number; weeks: number } | null = null;
    for (let i = weekStart; i < n; i++) {
      const value = m.get(ev.days[i]!);
      if (value === null) continue;
      const previous: number[] = [];
      for (let j = i - 7; j >= 0; j -= 7) {
        const v = m.get(ev.days[j]!);
        if (v !== null) previous.push(v);
      }
      if (previous.length < t.anomaly_min_weeks) continue;
      const { mean, sd } = meanSd(previous);
      if (value > mean + t.anomaly_sigma * sd && value - mean >= t.anomaly_min_delta) {
        if (worst === null || value - mean > worst.value - worst.mean) {
          worst = { i, value, mean, sd, weeks: previous.length };
        }
      }
    }
    if (worst !== null) {
      const date = ev.days[worst.i]!.day.date;
      const weekday = DateTime.fromISO(date).toFormat("cccc");
      findings.push({
        severity: "warning",
        kind: `${m.kind}_abnormal`,
        date,
        message: `${m.label} unusual for this server: ${pct(worst.value)} on average on ${weekdayLabel(
          date,
        )}, while ${weekday}s of the previous ${worst.weeks} weeks averaged ${pct(worst.mean)} (± ${worst.sd.toFixed(
          1,
        )}).`,
      });
    }
  }

  for (const tr of trends) findings.push(trendFinding(tr, t, ev.timeZone));
  findings.push(...changeFindings(ev, t));

  const rank = { critical: 0, warning: 1, info: 2 } as const;
  findings.sort((a, b) => rank[a.severity] - rank[b.severity]);
  const status: ServerStatus = silent
    ? "silent"
    : findings.some((f) => f.severity === "critical")
      ? "critical"
      : findings.some((f) => f.severity === "warning")
        ? "warning"
        : "ok";
  return { findings, status };
}
