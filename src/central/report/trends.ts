import { DateTime } from "luxon";
import type { DayAggregate, HourAggregate } from "../aggregate/rows.js";
import type { ServerEvidence } from "./findings.js";
import type { Finding, ReportThresholds, Severity, UsageTrend } from "./types.js";

const DAY_MS = 86_400_000;

/** Where the stretch a trend is judged on starts, and why there. */
export interface TrendStretch {
  /** First sample that belongs to the stretch (epoch ms). */
  start: number;
  reason: "week" | "first_seen" | "restart" | "ram_change";
}

/** True when `b` differs from `a` by at least `minPercent` % of `a` (a resize, not drift). */
export function totalChanged(a: number, b: number, minPercent: number): boolean {
  if (a === b) return false;
  if (a <= 0) return b > 0;
  return (Math.abs(b - a) / a) * 100 >= minPercent;
}

/**
 * The stretch of the week since the last RAM change or restart. A restart is
 * not in the data (agents send no boot time); it shows as a sharp drop of the
 * hourly memory average, which is what matters for a leak: the climb starts
 * over. The hour holding the drop mixes both sides, so the stretch starts at
 * the hour after it.
 */
export function trendStretch(
  week: readonly DayAggregate[],
  hours: readonly HourAggregate[],
  firstSeen: number,
  weekStart: number,
  t: ReportThresholds,
): TrendStretch | null {
  const firstDay = week.find((d) => d.firstTs !== null);
  if (firstDay === undefined) return null;
  let stretch: TrendStretch = {
    start: firstDay.firstTs!,
    reason: firstSeen >= weekStart ? "first_seen" : "week",
  };
  for (let i = 0; i < hours.length; i++) {
    const h = hours[i]!;
    const prev = i > 0 ? hours[i - 1]! : null;
    if (prev !== null && totalChanged(prev.lastMemTotal, h.firstMemTotal, t.change_min_percent)) {
      stretch = { start: h.firstTs, reason: "ram_change" };
    }
    if (totalChanged(h.firstMemTotal, h.lastMemTotal, t.change_min_percent)) {
      const next = hours[i + 1];
      if (next !== undefined) stretch = { start: next.firstTs, reason: "ram_change" };
      else return null;
    }
    if (prev !== null && h.memPercentAvg <= prev.memPercentAvg - t.trend_reset_drop) {
      const next = hours[i + 1];
      if (next !== undefined) stretch = { start: next.firstTs, reason: "restart" };
      else return null;
    }
  }
  return stretch;
}

/** (max − min) / min ≥ minPercent: the range holds a step that totalChanged would see. */
function rangeChanged(min: number | null, max: number | null, minPercent: number): boolean {
  return min !== null && max !== null && totalChanged(min, max, minPercent);
}

/**
 * Whether the week's hour buckets could change this server's trends or
 * changes; when not, the report does not read them (they cost more than the
 * rest of the report). Judged from the day buckets, as a superset of what the
 * hourly rules look for: too few days for a daily fit, a RAM or mount total
 * that moved (within a day: its range; between days: last vs first), a mount
 * missing from some samples or not there at the previous day's end, or a
 * memory minimum far enough below a peak to hold a restart-sized hourly drop.
 * Both the raw path and the rollups use it, so their reports stay identical.
 */
export function hoursCouldMatter(days: readonly DayAggregate[], t: ReportThresholds): boolean {
  const n = days.length;
  const week = days.slice(n - 7);
  if (week.filter((d) => d.day.samples > 0).length < t.trend_min_points) return true;
  let prev: DayAggregate | null = null;
  for (let i = n - 8; i >= 0 && prev === null; i--) if (days[i]!.lastTs !== null) prev = days[i]!;
  const p = t.change_min_percent;
  for (const d of week) {
    if (d.lastTs === null) continue;
    if (rangeChanged(d.memTotalMin, d.memTotalMax, p)) return true;
    if (prev !== null && totalChanged(prev.day.memory.total_bytes!, d.firstMemTotal!, p)) return true;
    const peak = Math.max(
      d.day.memory.percent_peak!,
      prev?.day.memory.percent_peak ?? Number.NEGATIVE_INFINITY,
    );
    if (d.memPercentMin! <= peak - t.trend_reset_drop) return true;
    for (const [mount, m] of d.mountSpans) {
      if (m.samples < d.day.samples || rangeChanged(m.totalMin, m.totalMax, p)) return true;
      if (prev !== null) {
        const before = prev.mountSpans.get(mount);
        if (before === undefined || before.lastTs !== prev.lastTs) return true;
        const lastTotal = prev.day.disks.find((x) => x.mount === mount)!.total_bytes;
        if (totalChanged(lastTotal, m.firstTotal, p)) return true;
      }
    }
    if (prev !== null) {
      for (const [mount, m] of prev.mountSpans) {
        if (m.lastTs === prev.lastTs && !d.mountSpans.has(mount)) return true;
      }
    }
    prev = d;
  }
  return false;
}

interface Point {
  x: number;
  y: number;
}

/** Least-squares line through (x, y); null when x does not vary. */
export function linearFit(points: readonly Point[]): { slope: number; intercept: number; r2: number } | null {
  const n = points.length;
  if (n < 2) return null;
  let sx = 0;
  let sy = 0;
  for (const p of points) {
    sx += p.x;
    sy += p.y;
  }
  const mx = sx / n;
  const my = sy / n;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (const p of points) {
    sxx += (p.x - mx) ** 2;
    sxy += (p.x - mx) * (p.y - my);
    syy += (p.y - my) ** 2;
  }
  if (sxx === 0) return null;
  const slope = sxy / sxx;
  // A flat series fits perfectly but predicts nothing; R² = 0 keeps it out of forecasts.
  const r2 = syy === 0 ? 0 : (sxy * sxy) / (sxx * syy);
  return { slope, intercept: my - slope * mx, r2 };
}

/**
 * Memory and CPU trends of one server over the week: daily averages since the
 * stretch start when there are enough of them, hourly averages otherwise.
 * Only a rise that is large, steady (R²) and heading for 100 % within the
 * horizon is a trend.
 */
export function usageTrends(ev: ServerEvidence, t: ReportThresholds): UsageTrend[] {
  const n = ev.days.length;
  const weekStart = ev.dayStarts[n - 7]!;
  const week = ev.days.slice(n - 7);
  const stretch = trendStretch(week, ev.hours, ev.firstSeen, weekStart, t);
  if (stretch === null) return [];
  const out: UsageTrend[] = [];
  const metrics = [
    {
      metric: "memory" as const,
      day: (d: (typeof week)[number]) => d.day.memory.percent_avg,
      hour: (h: HourAggregate) => h.memPercentAvg,
    },
    {
      metric: "cpu" as const,
      day: (d: (typeof week)[number]) => d.day.cpu.avg,
      hour: (h: HourAggregate) => h.cpuAvg,
    },
  ];
  for (const m of metrics) {
    let resolution: "daily" | "hourly" = "daily";
    let points: Point[] = [];
    for (const d of week) {
      const y = m.day(d);
      if (y === null || d.firstTs === null || d.lastTs === null || d.firstTs < stretch.start) continue;
      points.push({ x: (d.firstTs + d.lastTs) / 2 / DAY_MS, y });
    }
    if (points.length < t.trend_min_points) {
      resolution = "hourly";
      points = ev.hours
        .filter((h) => h.firstTs >= stretch.start)
        .map((h) => ({ x: (h.firstTs + h.lastTs) / 2 / DAY_MS, y: m.hour(h) }));
      if (points.length < t.trend_min_hours) continue;
    }
    const fit = linearFit(points);
    if (fit === null || fit.slope <= 0 || fit.r2 < t.trend_min_r2) continue;
    const firstX = points[0]!.x;
    const lastX = points[points.length - 1]!.x;
    const from = fit.intercept + fit.slope * firstX;
    const to = fit.intercept + fit.slope * lastX;
    // Already at the ceiling: memory_pressure / cpu_sustained_high say it, a date would not add anything.
    if (to - from < t.trend_min_rise || to >= 100) continue;
    const days = (100 - to) / fit.slope;
    if (days > t.trend_full_days_horizon) continue;
    out.push({
      metric: m.metric,
      resolution,
      since: new Date(stretch.start).toISOString(),
      since_reason: stretch.reason,
      from_percent: from,
      to_percent: to,
      points_per_day: fit.slope,
      r2: fit.r2,
      points: points.length,
      full_date: DateTime.fromMillis((lastX + days) * DAY_MS, { zone: ev.timeZone }).toISODate()!,
      days_to_full: Math.floor(days),
    });
  }
  return out;
}

const pct = (v: number): string => `${v.toFixed(v >= 10 ? 0 : 1)} %`;

function sincePhrase(tr: UsageTrend, timeZone: string): string {
  const at = DateTime.fromISO(tr.since, { zone: timeZone }).toFormat("ccc d LLL HH:mm");
  switch (tr.since_reason) {
    case "week":
      return "this week";
    case "first_seen":
      return `since it was first seen (${at})`;
    case "restart":
      return `since ${at}, after a sharp drop in memory use (a restart?)`;
    case "ram_change":
      return `since ${at}, when its RAM changed`;
  }
}

export function trendFinding(tr: UsageTrend, t: ReportThresholds, timeZone: string): Finding {
  const severity: Severity =
    tr.days_to_full <= t.trend_full_days_critical
      ? "critical"
      : tr.days_to_full <= t.trend_full_days_warning
        ? "warning"
        : "info";
  const label = tr.metric === "memory" ? "Memory" : "CPU";
  const rate = tr.points_per_day.toFixed(tr.points_per_day >= 10 ? 0 : 1);
  const when = `${DateTime.fromISO(tr.full_date).toFormat("ccc d LLL")} (${
    tr.days_to_full === 0 ? "within a day" : `in ${tr.days_to_full} day${tr.days_to_full === 1 ? "" : "s"}`
  })`;
  return {
    severity,
    kind: `${tr.metric}_trend`,
    date: tr.full_date,
    message: `${label} use grew from ${pct(tr.from_percent)} to ${pct(tr.to_percent)} ${sincePhrase(
      tr,
      timeZone,
    )} (+${rate} points a day${tr.resolution === "hourly" ? ", from hourly figures" : ""}); at this rate it reaches 100 % around ${when}.`,
  };
}
