import { DateTime } from "luxon";
import type { MetricRow } from "../../protocol/index.js";
import {
  type DayAggregate,
  type DaySpan,
  type HourAggregate,
  hourlyRollupsFit,
  ServerRowAggregator,
} from "../aggregate/rows.js";
import { isoInZone, localDays, type ReportWeek, resolveReportWeek } from "../aggregate/week.js";
import type { ServerSummary, Storage } from "../storage/store.js";
import { forecastDisks, serverFindings } from "./findings.js";
import { type GroupMembership, groupFigures } from "./groups-section.js";
import { resolveThresholds } from "./thresholds.js";
import { hoursCouldMatter, usageTrends } from "./trends.js";
import type {
  FleetSummary,
  ReportThresholds,
  ServerReport,
  ServerStatus,
  WeekFigures,
  WeeklyReport,
  WeekOverWeek,
} from "./types.js";
import { weekAlerts } from "./week-alerts.js";

/** Servers whose history is held in memory at once. */
const SERVER_CHUNK = 500;

export interface BuildReportOptions {
  /** "2026-W47" or "last". */
  week: string;
  timeZone: string;
  /** Only servers for which this returns true (report groups). Default: all. */
  includeServer?: (server: string) => boolean;
  /**
   * The configured groups, for the whole-fleet report's "By group" (each
   * `includes` judging a server by its tags of the week). Absent or empty: no
   * `groups` in the report (a group's own report, or no groups file).
   */
  groups?: readonly GroupMembership[];
  /** Clock for "last" and generated_at (tests inject it). */
  now?: number;
  /** Finding thresholds; missing ones take the defaults (see thresholds.ts). */
  thresholds?: Partial<ReportThresholds>;
  /**
   * Where figures come from. "auto" (default): the rollups when the zone
   * allows, raw rows otherwise. "raw": always the raw rows (the reference).
   */
  source?: "auto" | "raw" | "rollups";
}

/** Aggregates one ISO week per server and per local day (Report JSON v1 plus additions). */
export async function buildWeeklyReport(store: Storage, options: BuildReportOptions): Promise<WeeklyReport> {
  const now = options.now ?? Date.now();
  const t = resolveThresholds(options.thresholds);
  const week = resolveReportWeek(options.week, options.timeZone, now);
  const tz = week.timeZone;
  const span = reportSpan(week, t);
  const spanFrom = span.dayStarts[0]!;

  const include = options.includeServer ?? (() => true);
  const known = (await store.listServers()).filter(
    (s) => include(s.server) && s.firstSeen < week.to && s.lastSeen >= spanFrom,
  );
  known.sort((a, b) => (a.server < b.server ? -1 : a.server > b.server ? 1 : 0));
  const names = known.map((s) => s.server);

  const useRollups = options.source !== "raw" && hourlyRollupsFit(span) && names.length > 0;
  if (options.source === "rollups" && !useRollups && names.length > 0) {
    throw new Error(`rollups cannot serve ${tz}: its midnights are not whole UTC hours`);
  }
  const judgedAt = Math.min(now, week.to);
  // Servers are processed in chunks so that memory holds the history of one
  // chunk at a time (two, with the one read ahead), not of the whole fleet.
  const servers: ServerReport[] = [];
  if (useRollups) {
    await store.rollups.refresh();
    const chunks: ServerSummary[][] = [];
    for (let i = 0; i < known.length; i += SERVER_CHUNK) chunks.push(known.slice(i, i + SERVER_CHUNK));
    // The next chunk is read while this one is judged: on PostgreSQL the queries run in the
    // database's process meanwhile, instead of the two taking turns.
    let next = chunks.length > 0 ? readRollupChunk(store, chunks[0]!, span, week, t) : null;
    for (let c = 0; c < chunks.length; c++) {
      const { daysByServer, hoursByServer } = await next!;
      next = c + 1 < chunks.length ? readRollupChunk(store, chunks[c + 1]!, span, week, t) : null;
      // Should judging this chunk throw, the read in flight must not become an unhandled rejection.
      next?.catch(() => {});
      for (const summary of chunks[c]!) {
        const days = daysByServer.get(summary.server)!;
        const hours = hoursByServer.get(summary.server) ?? [];
        servers.push(serverReport(summary, days, hours, span, t, tz, now, judgedAt));
      }
    }
  } else {
    for (const summary of known) {
      const { days, hours } = await aggregateFromStore(store, summary.server, span, week.from);
      servers.push(
        serverReport(summary, days, hoursCouldMatter(days, t) ? hours : [], span, t, tz, now, judgedAt),
      );
    }
  }

  const alerts = await weekAlerts(store, week, judgedAt, include);
  const fleet = fleetSummary(servers);
  const groups = options.groups ?? [];
  return {
    week: week.week,
    timezone: tz,
    from: isoInZone(week.from, tz),
    to: isoInZone(week.to, tz),
    generated_at: new Date(now).toISOString(),
    servers,
    fleet,
    thresholds: t,
    source: useRollups ? "rollups" : "raw",
    // Absent when no alert fired, so such a report is what it was before alerts existed.
    ...(alerts === null ? {} : { alerts }),
    ...(groups.length === 0 ? {} : { groups: groupFigures(servers, fleet.needs_action, groups) }),
  };
}

/**
 * One chunk's days from the daily rollups, and its hour buckets where the
 * days say they could matter (see hoursCouldMatter), read for the whole chunk
 * at once.
 */
async function readRollupChunk(
  store: Storage,
  chunk: readonly ServerSummary[],
  span: DaySpan,
  week: ReportWeek,
  t: ReportThresholds,
): Promise<{ daysByServer: Map<string, DayAggregate[]>; hoursByServer: Map<string, HourAggregate[]> }> {
  const daysByServer = await store.rollups.readDaily(
    week.timeZone,
    span,
    chunk.map((s) => s.server),
  );
  const needHours = chunk
    .map((c) => c.server)
    .filter((server) => {
      const days = daysByServer.get(server)!;
      return days.slice(-7).some((d) => d.day.samples > 0) && hoursCouldMatter(days, t);
    });
  const hoursByServer = await store.rollups.readHourlyMany(needHours, week.from, week.to);
  return { daysByServer, hoursByServer };
}

/** History for week-over-week, forecasts and baselines, then the week itself. */
function reportSpan(week: ReportWeek, t: ReportThresholds): DaySpan {
  const historyStart = DateTime.fromISO(week.dates[0]!, { zone: week.timeZone })
    .minus({ days: t.history_days })
    .toISODate()!;
  return localDays(historyStart, t.history_days + 7, week.timeZone);
}

/**
 * One server's report from its rows alone, without a store: the raw path of
 * buildWeeklyReport (the server's first sample is taken from the rows). For
 * tests that judge findings on many generated fleets quickly.
 */
export function serverReportFromRows(
  server: string,
  rows: Iterable<MetricRow>,
  options: {
    week: ReportWeek;
    now: number;
    thresholds?: Partial<ReportThresholds>;
    /** Judge with the week's hour buckets even where hoursCouldMatter says they cannot matter (tests check it). */
    alwaysHours?: boolean;
  },
): ServerReport {
  const t = resolveThresholds(options.thresholds);
  const span = reportSpan(options.week, t);
  const agg = new ServerRowAggregator(server, span);
  let firstSeen = Number.POSITIVE_INFINITY;
  let lastSeen = Number.NEGATIVE_INFINITY;
  let count = 0;
  for (const row of rows) {
    if (row.timestamp < firstSeen) firstSeen = row.timestamp;
    if (row.timestamp > lastSeen) lastSeen = row.timestamp;
    count++;
    agg.add(row);
  }
  const { days, hours: allHours } = agg.finishWithHours(options.week.from);
  const hours = options.alwaysHours === true || hoursCouldMatter(days, t) ? allHours : [];
  const judgedAt = Math.min(options.now, options.week.to);
  const summary: ServerSummary = { server, firstSeen, lastSeen, rows: count };
  return serverReport(summary, days, hours, span, t, options.week.timeZone, options.now, judgedAt);
}

/** The raw path: one server at a time, so memory stays bounded by one server's rows. */
async function aggregateFromStore(
  store: Storage,
  server: string,
  span: DaySpan,
  hoursFrom: number,
): Promise<{ days: DayAggregate[]; hours: HourAggregate[] }> {
  const from = span.dayStarts[0]!;
  const to = span.dayStarts[span.dayStarts.length - 1]!;
  const agg = new ServerRowAggregator(server, span);
  for await (const row of store.samples({ from, to, servers: [server] })) agg.add(row);
  return agg.finishWithHours(hoursFrom);
}

function serverReport(
  summary: ServerSummary,
  days: DayAggregate[],
  hours: HourAggregate[],
  span: DaySpan,
  t: ReportThresholds,
  tz: string,
  now: number,
  judgedAt: number,
): ServerReport {
  const n = days.length;
  // The interval this server samples at: what its agent says (interval_seconds),
  // else the spacing of its densest complete day, else the configured default.
  const intervals = days.map((d) => d.intervalAvg).filter((v): v is number => v !== null && v > 0);
  let typical = intervals.length > 0 ? median(intervals) : Number.NaN;
  if (Number.isNaN(typical)) {
    let densest = Number.POSITIVE_INFINITY;
    days.forEach((d, i) => {
      const complete = span.dayStarts[i]! >= summary.firstSeen && span.dayStarts[i + 1]! <= now;
      if (complete && d.day.samples > 0) {
        densest = Math.min(densest, (span.dayStarts[i + 1]! - span.dayStarts[i]!) / 1000 / d.day.samples);
      }
    });
    typical = Number.isFinite(densest) ? Math.max(1, Math.round(densest)) : t.default_interval_seconds;
  }
  const expected = days.map((d, i) => {
    const start = Math.max(span.dayStarts[i]!, summary.firstSeen);
    const end = Math.min(span.dayStarts[i + 1]!, now);
    if (end <= start) return 0;
    return Math.floor((end - start) / 1000 / (d.intervalAvg ?? typical));
  });
  const evidence = {
    server: summary.server,
    timeZone: tz,
    days,
    expected,
    dayStarts: [...span.dayStarts],
    // Judged from the samples up to the end of the week, so rebuilding a past
    // week says what was true then, whatever arrived later.
    lastSeen: days.reduce<number | null>(
      (m, d) => (d.lastTs !== null && (m === null || d.lastTs > m) ? d.lastTs : m),
      null,
    ),
    judgedAt,
    firstSeen: summary.firstSeen,
    hours,
  };
  const forecasts = forecastDisks(evidence, t);
  const trends = usageTrends(evidence, t);
  const { findings, status } = serverFindings(evidence, t, forecasts, trends);
  const weekDays = days.slice(n - 7).map((d, i) => ({
    ...d.day,
    expected_samples: expected[n - 7 + i]!,
    coverage: expected[n - 7 + i]! > 0 ? d.day.samples / expected[n - 7 + i]! : null,
  }));
  const current = weekFigures(days.slice(n - 7), expected.slice(n - 7));
  const previousRaw = weekFigures(days.slice(n - 14, n - 7), expected.slice(n - 14, n - 7));
  const previous = previousRaw.samples > 0 ? previousRaw : null;
  return {
    server: summary.server,
    status,
    days: weekDays,
    findings,
    summary: current,
    previous_week: previous,
    week_over_week: previous === null || current.samples === 0 ? null : weekOverWeek(current, previous),
    forecasts,
    trends,
    last_seen: evidence.lastSeen === null ? null : new Date(evidence.lastSeen).toISOString(),
  };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function weekFigures(days: DayAggregate[], expected: number[]): WeekFigures {
  let samples = 0;
  let cpu = 0;
  let mem = 0;
  let cpuPeak: number | null = null;
  let memPeak: number | null = null;
  for (const { day } of days) {
    if (day.samples === 0) continue;
    samples += day.samples;
    cpu += day.cpu.avg! * day.samples;
    mem += day.memory.percent_avg! * day.samples;
    cpuPeak = Math.max(cpuPeak ?? Number.NEGATIVE_INFINITY, day.cpu.peak!);
    memPeak = Math.max(memPeak ?? Number.NEGATIVE_INFINITY, day.memory.percent_peak!);
  }
  const exp = expected.reduce((a, b) => a + b, 0);
  const last = [...days].reverse().find((d) => d.day.samples > 0);
  return {
    samples,
    expected_samples: exp,
    coverage: exp > 0 ? samples / exp : null,
    cpu_avg: samples > 0 ? cpu / samples : null,
    cpu_peak: cpuPeak,
    memory_percent_avg: samples > 0 ? mem / samples : null,
    memory_percent_peak: memPeak,
    disks: (last?.day.disks ?? []).map((d) => ({
      mount: d.mount,
      total_bytes: d.total_bytes,
      used_bytes: d.used_bytes,
      free_bytes: d.free_bytes,
      percent: d.percent,
    })),
  };
}

function diff(a: number | null, b: number | null): number | null {
  return a === null || b === null ? null : a - b;
}

function weekOverWeek(cur: WeekFigures, prev: WeekFigures): WeekOverWeek {
  return {
    cpu_avg: diff(cur.cpu_avg, prev.cpu_avg),
    cpu_peak: diff(cur.cpu_peak, prev.cpu_peak),
    memory_percent_avg: diff(cur.memory_percent_avg, prev.memory_percent_avg),
    memory_percent_peak: diff(cur.memory_percent_peak, prev.memory_percent_peak),
    disks: cur.disks.map((d) => {
      const p = prev.disks.find((x) => x.mount === d.mount);
      return {
        mount: d.mount,
        percent: p === undefined ? null : d.percent - p.percent,
        used_bytes: p === undefined ? null : d.used_bytes - p.used_bytes,
      };
    }),
  };
}

const STATUS_ORDER: Record<ServerStatus, number> = { critical: 0, silent: 1, warning: 2, ok: 3 };

function fleetSummary(servers: ServerReport[]): FleetSummary {
  const counts: Record<ServerStatus, number> = { ok: 0, warning: 0, critical: 0, silent: 0 };
  for (const s of servers) counts[s.status]++;
  const needs = servers
    .filter((s) => s.status !== "ok")
    .sort((a, b) => STATUS_ORDER[a.status] - STATUS_ORDER[b.status] || (a.server < b.server ? -1 : 1))
    .map((s) => {
      const top = s.findings.find((f) => f.severity !== "info") ?? s.findings[0];
      const more = s.findings.filter((f) => f.severity !== "info").length - 1;
      return {
        server: s.server,
        status: s.status,
        reason: `${top?.message ?? "needs attention"}${more > 0 ? ` (+${more} more)` : ""}`,
      };
    });
  return { counts, needs_action: needs };
}
