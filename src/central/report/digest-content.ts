import type { AttachmentNote } from "./attachments.js";
import type { DayReport, ServerReport, ServerStatus, WeeklyReport } from "./types.js";

/**
 * What the weekly email digest says, independent of how it is drawn: the
 * verdict, the servers needing action, the changes that matter, the top
 * servers per heatmap, the links. digest.ts renders it as HTML,
 * digest-text.ts as plain text. Reports are treated as immutable: rankings
 * and changes are computed once per report object (the budget loop re-renders).
 */

/** How the digest is shaped (docs/report.md, "The email digest"). */
export interface DigestOptions {
  /** Dashboard base URL (SRVUTIL_PUBLIC_URL); links to the report and to each server when set. */
  publicUrl?: string | null;
  /** Servers in each heatmap (SRVUTIL_DIGEST_TOP_N). Default 15. */
  topN?: number;
  /** Servers needing action that get charts (SRVUTIL_DIGEST_MAX_CHARTS). Default 6. */
  maxChartServers?: number;
  /** Rows of the needs-action list before it is counted instead. Default 100 (fewer if the budget needs it). */
  maxActionRows?: number;
  /** Group the digest is for ("default": the whole fleet); used in links. */
  group?: string;
  /** What happened to the attachments, listed at the end of the digest. */
  attachments?: readonly AttachmentNote[];
  /** Largest HTML, in bytes. Default 88,000: Gmail clips above ~102 KB. */
  htmlBudgetBytes?: number;
}

export const DIGEST_DEFAULTS = { topN: 15, maxChartServers: 6, maxActionRows: 100, htmlBudgetBytes: 88_000 };
/** A change of at least this many percentage points is listed under "Changes since last week". */
export const CHANGE_MIN_POINTS = { cpu: 10, memory: 10, disk: 5 };

export const RANK: Record<ServerStatus, number> = { critical: 0, silent: 1, warning: 2, ok: 3 };

export interface Layout {
  topN: number;
  charts: number;
  actionRows: number;
  changeRows: number;
  /** Rows of "Alerts this week" before the rest are counted. */
  alertRows: number;
  /** Groups in "By group" before the rest are counted (the "in no group" row is always shown). */
  groupRows: number;
}

export interface WeekChange {
  server: string;
  status: ServerStatus;
  figure: string;
  before: number;
  now: number;
  delta: number;
}

const changesCache = new WeakMap<WeeklyReport, WeekChange[]>();

/** Week-over-week changes that matter: CPU or memory average ±10 points, a disk ±5, largest first. */
export function weekChanges(report: WeeklyReport): WeekChange[] {
  const cached = changesCache.get(report);
  if (cached !== undefined) return cached;
  const out: WeekChange[] = [];
  for (const s of report.servers) {
    const w = s.week_over_week;
    const cur = s.summary;
    if (w === null || w === undefined || cur === undefined) continue;
    const add = (figure: string, now: number | null, delta: number | null, min: number): void => {
      if (now !== null && delta !== null && Math.abs(delta) >= min) {
        out.push({ server: s.server, status: s.status, figure, before: now - delta, now, delta });
      }
    };
    add("CPU average", cur.cpu_avg, w.cpu_avg, CHANGE_MIN_POINTS.cpu);
    add("Memory average", cur.memory_percent_avg, w.memory_percent_avg, CHANGE_MIN_POINTS.memory);
    for (const d of w.disks) {
      const now = cur.disks.find((x) => x.mount === d.mount)?.percent ?? null;
      add(`Disk ${d.mount}`, now, d.percent, CHANGE_MIN_POINTS.disk);
    }
  }
  out.sort((a, b) => Math.abs(b.delta) - Math.abs(a.delta) || (a.server < b.server ? -1 : 1));
  changesCache.set(report, out);
  return out;
}

/** "3 of 120 servers need action in week 47: 1 critical, 2 warning. Worst: db-01, …" */
export function weekVerdict(report: WeeklyReport): string {
  const n = report.servers.length;
  const c = countStatuses(report);
  const wk = `week ${Number(report.week.slice(-2))}`;
  if (n === 0) return `No servers reported in ${wk}.`;
  const action = n - c.ok;
  if (action === 0) return `All ${n} servers OK in ${wk}: nothing needs action.`;
  const parts = (["critical", "silent", "warning"] as const)
    .filter((st) => c[st] > 0)
    .map((st) => `${c[st]} ${st}`);
  const worst = needsAction(report)[0]!;
  const reason = clipAtWord(worst.reason, 120);
  return `${action} of ${n} server${n === 1 ? "" : "s"} need${action === 1 ? "s" : ""} action in ${wk} (${parts.join(", ")}); worst: ${worst.server}, ${reason}.`;
}

export function countStatuses(report: WeeklyReport): Record<ServerStatus, number> {
  if (report.fleet !== undefined) return report.fleet.counts;
  const c: Record<ServerStatus, number> = { ok: 0, warning: 0, critical: 0, silent: 0 };
  for (const s of report.servers) c[s.status]++;
  return c;
}

export function needsAction(
  report: WeeklyReport,
): { server: string; status: ServerStatus; reason: string }[] {
  if (report.fleet !== undefined) return report.fleet.needs_action;
  return report.servers
    .filter((s) => s.status !== "ok")
    .sort((a, b) => RANK[a.status] - RANK[b.status] || (a.server < b.server ? -1 : 1))
    .map((s) => ({
      server: s.server,
      status: s.status,
      reason: s.findings[0]?.message ?? "needs attention",
    }));
}

export function links(
  report: WeeklyReport,
  o: DigestOptions,
): { report: string; server(name: string): string; group(name: string): string } | null {
  const base = (o.publicUrl ?? "").replace(/\/+$/, "");
  if (base === "") return null;
  const group = o.group !== undefined && o.group !== "default" ? `?group=${encodeURIComponent(o.group)}` : "";
  const week = encodeURIComponent(report.week);
  return {
    report: `${base}/reports/${week}${group}`,
    server: (name) => `${base}/servers/${encodeURIComponent(name)}?week=${week}`,
    group: (name) => groupReportUrl(base, report.week, name),
  };
}

/** A group's own report of the week on the dashboard (`base`: SRVUTIL_PUBLIC_URL without its trailing slash). */
export function groupReportUrl(base: string, week: string, group: string): string {
  return `${base}/reports/${encodeURIComponent(week)}?group=${encodeURIComponent(group)}`;
}

export type HeatMetric = "cpu" | "memory";
export const METRIC: Record<HeatMetric, (d: DayReport) => number | null> = {
  cpu: (d) => d.cpu.peak,
  memory: (d) => d.memory.percent_avg,
};
const rankings = new WeakMap<WeeklyReport, Map<HeatMetric, ServerReport[]>>();

/** Servers by their highest daily value of the week, highest first (computed once per report: the budget loop re-renders). */
export function ranked(report: WeeklyReport, metric: HeatMetric): ServerReport[] {
  let byMetric = rankings.get(report);
  if (byMetric === undefined) {
    byMetric = new Map();
    rankings.set(report, byMetric);
  }
  let out = byMetric.get(metric);
  if (out === undefined) {
    const f = METRIC[metric];
    const value = new Map<ServerReport, number>();
    for (const s of report.servers) {
      let v = -1;
      for (const d of s.days) v = Math.max(v, f(d) ?? -1);
      value.set(s, v);
    }
    out = [...report.servers].sort((a, b) => value.get(b)! - value.get(a)! || (a.server < b.server ? -1 : 1));
    byMetric.set(metric, out);
  }
  return out;
}

/** At most `max` characters, cut after a whole word (never mid-word), with "…" when cut. */
export function clipAtWord(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max);
  const space = cut.lastIndexOf(" ");
  return `${(space > max / 2 ? cut.slice(0, space) : cut).replace(/[\s,;:.(–-]+$/, "")}…`;
}
