/**
 * The alert rules: which conditions hold now, per (server, rule, mount).
 * They use the report's models and thresholds (src/central/report/), so an
 * alert and the Monday report never disagree on what is high or what fills:
 * the same least-squares line (linearFit) with the same minimum points and
 * fit quality, the same disk percent, the same CPU and memory thresholds.
 * What differs is the time scale: the report judges whole days over weeks,
 * the alerts the last hours (docs/alerts.md has the table).
 */
import { diskPercent } from "../aggregate/rows.js";
import { humanBytes } from "../report/format.js";
import { linearFit } from "../report/trends.js";
import type { ReportThresholds } from "../report/types.js";
import type { AlertHour, AlertWindow } from "../storage/alert-store.js";
import type { AlertRuleSettings } from "./config.js";
import type { AlertCondition, AlertSeverity } from "./types.js";

/** What the rules read at one evaluation (AlertStore's reads). */
export interface AlertEvidence {
  now: number;
  /** Last sample of every server ever seen. */
  lastSeen: ReadonlyMap<string, number>;
  /** Per server: its last `cpu_pressure.sustainedMinutes` of samples. */
  cpuWindow: ReadonlyMap<string, AlertWindow>;
  /** Per server: its last `memory_pressure.sustainedMinutes` of samples. */
  memoryWindow: ReadonlyMap<string, AlertWindow>;
  /** Per server: hourly rollups over the longest history the rules need, chronological. */
  hours: ReadonlyMap<string, readonly AlertHour[]>;
}

export interface RuleContext {
  rules: AlertRuleSettings;
  thresholds: ReportThresholds;
  /** Percent rules already firing resolve only this many points below their threshold. */
  hysteresisPercent: number;
  /** Keys (alertKeyText) that are open now: their level rules use the lowered thresholds. */
  open: ReadonlySet<string>;
}

const HOUR_MS = 3_600_000;
/** A drop of used space by this share of the disk is a clean-up: the fill line starts over after it. */
const DISK_RESET_DROP_PERCENT = 5;

export function alertKeyText(k: { server: string; rule: string; mount: string }): string {
  return `${k.server}\u0000${k.rule}\u0000${k.mount}`;
}

const pct = (v: number): string => `${v.toFixed(v >= 10 ? 0 : 1)} %`;

/** "2 h 05 min", "3 days 4 h", "45 min". */
export function spanText(ms: number): string {
  const minutes = Math.max(0, Math.round(ms / 60_000));
  if (minutes < 60) return `${minutes} min`;
  const h = Math.floor(minutes / 60);
  if (h < 48) return `${h} h ${String(minutes % 60).padStart(2, "0")} min`;
  return `${Math.floor(h / 24)} days ${h % 24} h`;
}

/** "about 9 hours", "about 3 days". */
function aboutText(hours: number): string {
  if (hours < 1) return "less than an hour";
  if (hours < 48) return `about ${Math.round(hours)} hour${Math.round(hours) === 1 ? "" : "s"}`;
  return `about ${Math.round(hours / 24)} days`;
}

/** Every condition that holds at `ev.now`, in a stable order (server, rule, mount). */
export function evaluateRules(ev: AlertEvidence, ctx: RuleContext): AlertCondition[] {
  const out: AlertCondition[] = [];
  const servers = [...ev.lastSeen.keys()].sort();
  for (const server of servers) {
    const lastSeen = ev.lastSeen.get(server)!;
    const silent = silentCondition(server, lastSeen, ev.now, ctx);
    if (silent !== null) {
      // What a silent server's figures say is no longer known: only the silence is.
      out.push(silent);
      continue;
    }
    out.push(...pressureConditions(server, ev, ctx));
    const hours = ev.hours.get(server) ?? [];
    out.push(...diskConditions(server, hours, ev.now, ctx));
    const trend = memoryTrendCondition(server, hours, ev.now, ctx);
    if (trend !== null) out.push(trend);
  }
  return out;
}

function silentCondition(
  server: string,
  lastSeen: number,
  now: number,
  ctx: RuleContext,
): AlertCondition | null {
  const rule = ctx.rules.server_silent;
  if (!rule.enabled || now - lastSeen <= rule.afterMinutes * 60_000) return null;
  return {
    server,
    rule: "server_silent",
    mount: "",
    severity: "critical",
    summary: `no sample for ${spanText(now - lastSeen)} (last ${new Date(lastSeen).toISOString().slice(0, 16)} UTC); check the agent and its network path`,
  };
}

/** Threshold of a level rule for a key: lowered by the hysteresis while the key is open. */
function level(threshold: number, open: boolean, ctx: RuleContext): number {
  return open ? threshold - ctx.hysteresisPercent : threshold;
}

function pressureConditions(server: string, ev: AlertEvidence, ctx: RuleContext): AlertCondition[] {
  const out: AlertCondition[] = [];
  const t = ctx.thresholds;
  const specs = [
    {
      rule: "cpu_pressure" as const,
      enabled: ctx.rules.cpu_pressure.enabled,
      minutes: ctx.rules.cpu_pressure.sustainedMinutes,
      window: ev.cpuWindow.get(server),
      value: (w: AlertWindow) => w.cpuMin,
      warning: t.cpu_day_avg_warning,
      critical: t.cpu_day_avg_critical,
      label: "CPU",
    },
    {
      rule: "memory_pressure" as const,
      enabled: ctx.rules.memory_pressure.enabled,
      minutes: ctx.rules.memory_pressure.sustainedMinutes,
      window: ev.memoryWindow.get(server),
      value: (w: AlertWindow) => w.memMin,
      warning: t.memory_day_avg_warning,
      critical: t.memory_day_avg_critical,
      label: "memory",
    },
  ];
  for (const s of specs) {
    if (!s.enabled || s.window === undefined) continue;
    const w = s.window;
    const spanMs = s.minutes * 60_000;
    // Sustained means the samples cover the span (give or take two sample intervals), not one burst.
    const slack = Math.max(2 * t.default_interval_seconds * 1000, spanMs / 10);
    if (w.samples < 2 || w.lastTs - w.firstTs < spanMs - slack) continue;
    const open = ctx.open.has(alertKeyText({ server, rule: s.rule, mount: "" }));
    const lowest = s.value(w);
    if (lowest < level(s.warning, open, ctx)) continue;
    const severity: AlertSeverity = lowest >= s.critical ? "critical" : "warning";
    out.push({
      server,
      rule: s.rule,
      mount: "",
      severity,
      summary: `${s.label} above ${pct(severity === "critical" ? s.critical : s.warning)} for the last ${spanText(
        w.lastTs - w.firstTs,
      )} (lowest ${pct(lowest)})`,
    });
  }
  return out;
}

interface DiskPoint {
  at: number;
  used: number;
  free: number;
}

type Fit = ReturnType<typeof linearFit>;

/*
 * What the rules derive from a server's hours alone, kept with the hours
 * array it came from. The alerts' hour cache (./hour-cache.ts) hands the
 * same array again while a server's hours have not changed, so at an
 * evaluation only the servers that moved are fitted again (plus a fit whose
 * window start passed a point); the rest is the judgement against `now`.
 * Weak maps: what goes with an array goes when the cache drops it.
 */
const seriesOfHours = new WeakMap<readonly AlertHour[], Map<string, DiskPoint[]>>();
const fitsOfSeries = new WeakMap<readonly DiskPoint[], Map<number, Fit>>();
const trendsOfHours = new WeakMap<readonly AlertHour[], Map<string, MemoryTrendFit>>();

/** `compute(key)` once per (owner, key). */
function memo<O extends object, K, V>(store: WeakMap<O, Map<K, V>>, owner: O, key: K, compute: () => V): V {
  let byKey = store.get(owner);
  if (byKey === undefined) {
    byKey = new Map();
    store.set(owner, byKey);
  }
  if (byKey.has(key)) return byKey.get(key) as V;
  const value = compute();
  byKey.set(key, value);
  return value;
}

/** Index of the first element whose `at(x)` is at least `from` (the arrays are chronological). */
function firstFrom<T>(xs: readonly T[], at: (x: T) => number, from: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (at(xs[mid]!) < from) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function mountSeriesOf(hours: readonly AlertHour[]): Map<string, DiskPoint[]> {
  let series = seriesOfHours.get(hours);
  if (series === undefined) {
    series = mountSeries(hours);
    seriesOfHours.set(hours, series);
  }
  return series;
}

/** Each mount of the server's newest hour, with its hourly points since its last clean-up. */
function mountSeries(hours: readonly AlertHour[]): Map<string, DiskPoint[]> {
  const series = new Map<string, DiskPoint[]>();
  const newest = hours[hours.length - 1];
  if (newest === undefined) return series;
  for (const d of newest.disks) series.set(d.mount, []);
  for (const h of hours) {
    for (const d of h.disks) {
      const pts = series.get(d.mount);
      if (pts === undefined) continue;
      const prev = pts[pts.length - 1];
      const capacity = d.usedBytes + d.freeBytes;
      if (prev !== undefined && prev.used - d.usedBytes >= (capacity * DISK_RESET_DROP_PERCENT) / 100)
        pts.length = 0;
      pts.push({ at: h.lastTs, used: d.usedBytes, free: d.freeBytes });
    }
  }
  return series;
}

function diskConditions(
  server: string,
  hours: readonly AlertHour[],
  now: number,
  ctx: RuleContext,
): AlertCondition[] {
  const out: AlertCondition[] = [];
  const t = ctx.thresholds;
  const soon = ctx.rules.disk_full_soon;
  const historyFrom = now - soon.historyHours * HOUR_MS;
  for (const [mount, all] of [...mountSeriesOf(hours)].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const last = all[all.length - 1]!;
    const percent = diskPercent(last.used, last.free);
    const capacity = last.used + last.free;
    if (ctx.rules.disk_nearly_full.enabled) {
      const open = ctx.open.has(alertKeyText({ server, rule: "disk_nearly_full", mount }));
      if (percent >= level(t.disk_percent_warning, open, ctx)) {
        const severity: AlertSeverity = percent >= t.disk_percent_critical ? "critical" : "warning";
        out.push({
          server,
          rule: "disk_nearly_full",
          mount,
          severity,
          summary: `${mount} is ${pct(percent)} full: ${humanBytes(last.free)} free of ${humanBytes(capacity)} (threshold ${pct(
            severity === "critical" ? t.disk_percent_critical : t.disk_percent_warning,
          )})`,
        });
      }
    }
    if (!soon.enabled || percent >= t.disk_percent_critical) continue;
    // The report's model on hourly points: a line through used bytes, enough points, a good fit, growing.
    const first = firstFrom(all, (p) => p.at, historyFrom);
    const points = all.length - first;
    if (points < t.forecast_min_points) continue;
    const fit = memo(fitsOfSeries, all, first, () =>
      linearFit(all.slice(first).map((p) => ({ x: p.at / HOUR_MS, y: p.used }))),
    );
    if (fit === null || fit.slope <= 0 || fit.r2 < t.forecast_min_r2) continue;
    const hoursToFull = last.free / fit.slope - (now - last.at) / HOUR_MS;
    if (!Number.isFinite(hoursToFull) || hoursToFull > soon.warningHours) continue;
    const severity: AlertSeverity = hoursToFull <= soon.criticalHours ? "critical" : "warning";
    out.push({
      server,
      rule: "disk_full_soon",
      mount,
      severity,
      summary: `${mount} full in ${aboutText(Math.max(0, hoursToFull))} (${pct(percent)} now, +${humanBytes(
        fit.slope,
      )}/h over ${points} hours, fit R² ${fit.r2.toFixed(2)})`,
    });
  }
  return out;
}

function memoryTrendCondition(
  server: string,
  hours: readonly AlertHour[],
  now: number,
  ctx: RuleContext,
): AlertCondition | null {
  const rule = ctx.rules.memory_trend;
  const t = ctx.thresholds;
  if (!rule.enabled) return null;
  const from = now - rule.historyHours * HOUR_MS;
  const first = firstFrom(hours, (h) => h.lastTs, from);
  const { points, firstX, lastX, fit } = memo(trendsOfHours, hours, `${first} ${t.trend_reset_drop}`, () =>
    memoryTrendFit(hours.slice(first), t.trend_reset_drop),
  );
  if (points < t.trend_min_hours) return null;
  if (fit === null || fit.slope <= 0 || fit.r2 < t.trend_min_r2) return null;
  const fromLevel = fit.intercept + fit.slope * firstX;
  const toLevel = fit.intercept + fit.slope * lastX;
  if (toLevel - fromLevel < t.trend_min_rise || toLevel >= 100) return null;
  const hoursTo100 = (100 - toLevel) / fit.slope - (now / HOUR_MS - lastX);
  if (hoursTo100 > rule.withinHours) return null;
  return {
    server,
    rule: "memory_trend",
    mount: "",
    severity: "critical",
    summary: `memory use grew from ${pct(fromLevel)} to ${pct(toLevel)} over ${points} hours (+${fit.slope.toFixed(
      1,
    )} points/h); at this rate it reaches 100 % in ${aboutText(Math.max(0, hoursTo100))}`,
  };
}

interface MemoryTrendFit {
  points: number;
  firstX: number;
  lastX: number;
  fit: Fit;
}

/** The report's stretch over `hours`: a sharp drop of the hourly average (a restart) starts the climb over. */
function memoryTrendFit(hours: readonly AlertHour[], resetDrop: number): MemoryTrendFit {
  let pts: { x: number; y: number }[] = [];
  let prev: number | null = null;
  for (const h of hours) {
    if (prev !== null && h.memAvg <= prev - resetDrop) pts = [];
    pts.push({ x: h.lastTs / HOUR_MS, y: h.memAvg });
    prev = h.memAvg;
  }
  return {
    points: pts.length,
    firstX: pts[0]?.x ?? 0,
    lastX: pts[pts.length - 1]?.x ?? 0,
    fit: pts.length >= 2 ? linearFit(pts) : null,
  };
}
