import { DateTime } from "luxon";
import { ALERTS_TITLE, alertsHtml, alertsTextLines } from "./alerts-section.js";
import { CHART_HEIGHT, CHART_WIDTH, type Chart, serverCharts, svgToPng } from "./charts.js";
import { groupReportUrl } from "./digest-content.js";
import { escapeHtml } from "./escape.js";
import { humanBytes } from "./findings.js";
import { GROUPS_TITLE, groupsHtml, groupsTextLines } from "./groups-section.js";
import type { DayReport, Finding, ServerReport, ServerStatus, WeeklyReport } from "./types.js";

export { escapeHtml };

export interface InlineImage {
  /** Content-ID referenced as cid:… in the email HTML. */
  cid: string;
  filename: string;
  contentType: string;
  content: Buffer;
}

export interface RenderedReport {
  subject: string;
  html: string;
  text: string;
  /** Images the email HTML references by cid:; empty for the standalone HTML. */
  images: InlineImage[];
}

export interface RenderOptions {
  /**
   * Servers shown with their full section (tables and charts), those needing
   * action first. The rest get one line each in "Other servers". Default:
   * 30 in email (a readable mail), 1,000 in standalone (beyond that a page
   * is too large to be read or opened comfortably).
   */
  maxDetailedServers?: number;
  /** Servers in each heatmap, those needing action first. Default 60. */
  maxHeatmapServers?: number;
  /** A line shown under the header, e.g. why this copy has fewer full sections. */
  notice?: string;
  /** Dashboard base URL (SRVUTIL_PUBLIC_URL): "By group" links each group's own report when set. */
  publicUrl?: string | null;
}

const e = escapeHtml;

const FONT = "font-family:'DejaVu Sans',Verdana,Arial,Helvetica,sans-serif;";
export const STATUS_STYLE: Record<ServerStatus, { bg: string; fg: string; label: string }> = {
  ok: { bg: "#dcfce7", fg: "#166534", label: "OK" },
  warning: { bg: "#fef3c7", fg: "#92400e", label: "Warning" },
  critical: { bg: "#fee2e2", fg: "#991b1b", label: "Critical" },
  silent: { bg: "#e5e7eb", fg: "#374151", label: "Silent" },
};
const SEVERITY_COLOR: Record<Finding["severity"], string> = {
  critical: "#b91c1c",
  warning: "#b45309",
  info: "#1d4ed8",
};
const STATUS_RANK: Record<ServerStatus, number> = { critical: 0, silent: 1, warning: 2, ok: 3 };

function fmtPct(v: number | null | undefined, digits = 1): string {
  // No-break spaces keep "12.5 %" and "3.4 GiB" together when narrow screens wrap cells.
  return v === null || v === undefined ? "–" : `${v.toFixed(digits)}\u00a0%`;
}
function fmtBytes(v: number | null | undefined): string {
  return v === null || v === undefined ? "–" : humanBytes(v).replace(" ", "\u00a0");
}
function dayLabel(date: string): string {
  return DateTime.fromISO(date).toFormat("ccc d LLL");
}
function dateRange(report: WeeklyReport): { first: string; last: string; text: string } {
  const first =
    report.servers[0]?.days[0]?.date ?? DateTime.fromISO(report.from, { setZone: true }).toISODate()!;
  const last = DateTime.fromISO(report.to, { setZone: true }).minus({ days: 1 }).toISODate()!;
  const f = DateTime.fromISO(first);
  const l = DateTime.fromISO(last);
  const text =
    f.year === l.year
      ? `${f.toFormat("ccc d LLL")} – ${l.toFormat("ccc d LLL yyyy")}`
      : `${f.toFormat("ccc d LLL yyyy")} – ${l.toFormat("ccc d LLL yyyy")}`;
  return { first: DateTime.fromISO(report.from, { setZone: true }).toISODate()!, last, text };
}

function sortedByAttention(servers: ServerReport[]): ServerReport[] {
  return [...servers].sort(
    (a, b) => STATUS_RANK[a.status] - STATUS_RANK[b.status] || (a.server < b.server ? -1 : 1),
  );
}

function needingAction(report: WeeklyReport): { server: string; status: ServerStatus; reason: string }[] {
  if (report.fleet !== undefined) return report.fleet.needs_action;
  return sortedByAttention(report.servers.filter((s) => s.status !== "ok")).map((s) => ({
    server: s.server,
    status: s.status,
    reason: s.findings[0]?.message ?? "needs attention",
  }));
}

export function reportSubject(report: WeeklyReport): string {
  const { first, last } = dateRange(report);
  const n = report.servers.length;
  const action = report.servers.filter((s) => s.status !== "ok").length;
  const what =
    n === 0
      ? "no servers reported"
      : action === 0
        ? `all ${n} servers OK`
        : `${action} of ${n} server${n === 1 ? "" : "s"} need${action === 1 ? "s" : ""} action`;
  return `srvutil weekly report ${report.week} (${first} to ${last}): ${what}`;
}

function statusBadge(status: ServerStatus): string {
  const s = STATUS_STYLE[status];
  return `<span style="display:inline-block;padding:2px 8px;border-radius:10px;background:${s.bg};color:${s.fg};font-size:11px;font-weight:bold;white-space:nowrap;">${s.label}</span>`;
}

/** Background for a heatmap cell: calm below 50 %, amber from 75 %, red from 90 %. */
export function heatColor(v: number | null): { bg: string; fg: string } {
  if (v === null) return { bg: "#f3f4f6", fg: "#9ca3af" };
  if (v >= 90) return { bg: "#fca5a5", fg: "#7f1d1d" };
  if (v >= 75) return { bg: "#fdba74", fg: "#7c2d12" };
  if (v >= 50) return { bg: "#fde68a", fg: "#78350f" };
  if (v >= 25) return { bg: "#bbf7d0", fg: "#14532d" };
  return { bg: "#dcfce7", fg: "#166534" };
}

function section(title: string, body: string, subtitle = ""): string {
  return `<tr><td style="padding:18px 18px 6px 18px;${FONT}">
<div style="font-size:16px;font-weight:bold;color:#111827;">${title}</div>${
    subtitle === "" ? "" : `<div style="font-size:12px;color:#6b7280;padding-top:2px;">${subtitle}</div>`
  }</td></tr>
<tr><td style="padding:4px 18px 8px 18px;${FONT}">${body}</td></tr>`;
}

function heatmap(
  report: WeeklyReport,
  servers: ServerReport[],
  value: (d: DayReport) => number | null,
  total: number,
): string {
  const days = report.servers[0]?.days ?? [];
  const head = days
    .map(
      (d) =>
        `<th width="10%" style="width:10%;padding:4px 2px;font-size:11px;color:#6b7280;font-weight:normal;text-align:center;">${e(
          DateTime.fromISO(d.date).toFormat("ccc"),
        )}<br>${e(DateTime.fromISO(d.date).toFormat("d"))}</th>`,
    )
    .join("");
  const rows = servers
    .map((s) => {
      const cells = s.days
        .map((d) => {
          const v = value(d);
          const c = heatColor(v);
          return `<td align="center" bgcolor="${c.bg}" style="background:${c.bg};color:${c.fg};font-size:12px;padding:5px 2px;border:2px solid #ffffff;">${
            v === null ? "–" : Math.round(v)
          }</td>`;
        })
        .join("");
      return `<tr><td style="font-size:12px;padding:4px 6px 4px 0;white-space:nowrap;color:#111827;">${e(
        s.server,
      )}</td>${cells}</tr>`;
    })
    .join("\n");
  const more =
    total > servers.length
      ? `<div style="font-size:11px;color:#6b7280;padding-top:4px;">${total - servers.length} more servers not shown (all listed below).</div>`
      : "";
  return `<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="border-collapse:collapse;${FONT}">
<tr><th style="text-align:left;font-size:11px;color:#6b7280;font-weight:normal;">server</th>${head}</tr>
${rows}</table>${more}`;
}

function legend(): string {
  const steps: [string, number | null][] = [
    ["&lt;25", 10],
    ["25–50", 30],
    ["50–75", 60],
    ["75–90", 80],
    ["≥90", 95],
    ["no data", null],
  ];
  return `<table role="presentation" cellpadding="0" cellspacing="0" style="border-collapse:collapse;margin-top:6px;${FONT}"><tr>${steps
    .map(([label, v]) => {
      const c = heatColor(v);
      return `<td style="background:${c.bg};color:${c.fg};font-size:10px;padding:2px 6px;border:1px solid #ffffff;">${label}</td>`;
    })
    .join("")}</tr></table>`;
}

function change(v: number | null | undefined, unit: "pts" | "bytes"): string {
  if (v === null || v === undefined) return `<span style="color:#9ca3af;">–</span>`;
  const up = v > 0;
  const flat = unit === "pts" ? Math.abs(v) < 0.05 : v === 0;
  if (flat) return `<span style="color:#6b7280;">±0</span>`;
  const color = up ? "#b45309" : "#047857";
  const text = unit === "pts" ? `${Math.abs(v).toFixed(1)} pts` : humanBytes(Math.abs(v));
  return `<span style="color:${color};white-space:nowrap;">${up ? "▲" : "▼"} ${text}</span>`;
}

const TH = "padding:5px 3px;font-size:11px;color:#6b7280;font-weight:normal;border-bottom:1px solid #e5e7eb;";
const TD = "padding:5px 3px;font-size:12px;color:#111827;border-bottom:1px solid #f3f4f6;";

function summaryTable(s: ServerReport): string {
  const cur = s.summary;
  if (cur === undefined) return "";
  const prev = s.previous_week ?? null;
  const wow = s.week_over_week ?? null;
  const row = (label: string, now: string, before: string, delta: string): string =>
    `<tr><td style="${TD}">${label}</td><td align="right" style="${TD}font-weight:bold;">${now}</td><td align="right" style="${TD}color:#6b7280;">${before}</td><td align="right" style="${TD}">${delta}</td></tr>`;
  const rows = [
    row("CPU average", fmtPct(cur.cpu_avg), fmtPct(prev?.cpu_avg), change(wow?.cpu_avg, "pts")),
    row("CPU peak", fmtPct(cur.cpu_peak), fmtPct(prev?.cpu_peak), change(wow?.cpu_peak, "pts")),
    row(
      "Memory used, average",
      fmtPct(cur.memory_percent_avg),
      fmtPct(prev?.memory_percent_avg),
      change(wow?.memory_percent_avg, "pts"),
    ),
    row(
      "Memory used, peak",
      fmtPct(cur.memory_percent_peak),
      fmtPct(prev?.memory_percent_peak),
      change(wow?.memory_percent_peak, "pts"),
    ),
    ...cur.disks.map((d) => {
      const p = prev?.disks.find((x) => x.mount === d.mount);
      const w = wow?.disks.find((x) => x.mount === d.mount);
      return row(
        `Disk ${e(d.mount)} used`,
        `${fmtPct(d.percent)} <span style="font-weight:normal;color:#6b7280;">(${fmtBytes(d.free_bytes)} free)</span>`,
        fmtPct(p?.percent),
        `${change(w?.percent, "pts")}`,
      );
    }),
    row(
      "Data coverage",
      cur.coverage === null ? "–" : `${(cur.coverage * 100).toFixed(1)} %`,
      prev?.coverage === null || prev === null ? "–" : `${(prev.coverage * 100).toFixed(1)} %`,
      "",
    ),
  ];
  return `<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="border-collapse:collapse;${FONT}">
<tr><th align="left" style="${TH}">this week vs last week</th><th align="right" style="${TH}">this week</th><th align="right" style="${TH}">last week</th><th align="right" style="${TH}">change</th></tr>
${rows.join("\n")}</table>`;
}

function dailyTable(s: ServerReport): string {
  // Two narrow tables rather than one wide one, so that a phone shows them without sideways scrolling.
  const percentRows = s.days
    .map((d) => {
      const cov =
        d.expected_samples === undefined || d.expected_samples === 0
          ? ""
          : `<br><span style="color:${(d.coverage ?? 0) < 0.9 ? "#b45309" : "#6b7280"};font-size:10px;">${(
              (d.coverage ?? 0) * 100
            ).toFixed(0)}\u00a0% of ${d.expected_samples}</span>`;
      return `<tr><td style="${TD}">${e(dayLabel(d.date))}</td><td align="right" style="${TD}">${d.samples}${cov}</td><td align="right" style="${TD}">${fmtPct(
        d.cpu.avg,
      )}</td><td align="right" style="${TD}">${fmtPct(d.cpu.peak)}</td><td align="right" style="${TD}">${fmtPct(
        d.memory.percent_avg,
      )}</td><td align="right" style="${TD}">${fmtPct(d.memory.percent_peak)}</td></tr>`;
    })
    .join("\n");
  const byteRows = s.days
    .map(
      (d) =>
        `<tr><td style="${TD}">${e(dayLabel(d.date))}</td><td align="right" style="${TD}">${fmtBytes(
          d.memory.used_avg_bytes,
        )}</td><td align="right" style="${TD}">${fmtBytes(d.memory.available_avg_bytes)}</td><td align="right" style="${TD}">${fmtBytes(
          d.memory.total_bytes,
        )}</td></tr>`,
    )
    .join("\n");
  return `<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="border-collapse:collapse;${FONT}">
<tr><th align="left" style="${TH}">day</th><th align="right" style="${TH}">samples</th><th align="right" style="${TH}">CPU avg</th><th align="right" style="${TH}">CPU peak</th><th align="right" style="${TH}">memory avg</th><th align="right" style="${TH}">memory peak</th></tr>
${percentRows}</table>
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="border-collapse:collapse;margin-top:10px;${FONT}">
<tr><th align="left" style="${TH}">day</th><th align="right" style="${TH}">memory used (avg)</th><th align="right" style="${TH}">available (avg)</th><th align="right" style="${TH}">total</th></tr>
${byteRows}</table>`;
}

function diskTable(s: ServerReport): string {
  const mounts = [...new Set(s.days.flatMap((d) => d.disks.map((x) => x.mount)))].sort();
  if (mounts.length === 0) return "";
  const blocks = mounts
    .map((mount) => {
      const rows = s.days
        .map((d) => {
          const x = d.disks.find((k) => k.mount === mount);
          if (x === undefined) {
            return `<tr><td style="${TD}">${e(dayLabel(d.date))}</td><td colspan="4" align="right" style="${TD}color:#9ca3af;">no data</td></tr>`;
          }
          return `<tr><td style="${TD}">${e(dayLabel(d.date))}</td><td align="right" style="${TD}">${fmtBytes(
            x.total_bytes,
          )}</td><td align="right" style="${TD}">${fmtBytes(x.used_bytes)}</td><td align="right" style="${TD}">${fmtBytes(
            x.free_bytes,
          )}</td><td align="right" style="${TD}font-weight:bold;">${fmtPct(x.percent)}</td></tr>`;
        })
        .join("\n");
      return `<tr><td colspan="5" style="padding:8px 4px 2px 4px;font-size:12px;font-weight:bold;color:#111827;">Disk ${e(
        mount,
      )}</td></tr>
<tr><th align="left" style="${TH}">day</th><th align="right" style="${TH}">total</th><th align="right" style="${TH}">used</th><th align="right" style="${TH}">free</th><th align="right" style="${TH}">used %</th></tr>
${rows}`;
    })
    .join("\n");
  return `<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="border-collapse:collapse;${FONT}">${blocks}</table>`;
}

function findingsList(findings: Finding[]): string {
  if (findings.length === 0) {
    return `<div style="font-size:13px;color:#166534;padding:4px 0;">No findings: everything within thresholds.</div>`;
  }
  return `<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="border-collapse:collapse;${FONT}">${findings
    .map(
      (f) =>
        `<tr><td valign="top" style="padding:4px 8px 4px 0;width:64px;"><span style="font-size:10px;font-weight:bold;color:${
          SEVERITY_COLOR[f.severity]
        };text-transform:uppercase;">${f.severity}</span></td><td style="padding:4px 0;font-size:13px;color:#111827;line-height:1.4;">${e(
          f.message,
        )}</td></tr>`,
    )
    .join("\n")}</table>`;
}

/**
 * A chart as inline SVG for the standalone file: a third smaller than a
 * base64 data: URI and, unlike one, compressible when the file travels
 * zipped. Safe to inline because the markup is our own (charts.ts) and every
 * agent-supplied string in it is escaped there; the alt text, which names the
 * server and its mounts, is escaped here. role="img" with a <title> gives it
 * the accessible name an <img> gets from alt.
 */
function inlineSvg(chart: Chart): string {
  if (!chart.svg.startsWith("<svg ")) throw new Error(`chart ${chart.id}: not an <svg> element`);
  return `<svg role="img" aria-label="${e(chart.alt)}" style="display:block;width:100%;max-width:${CHART_WIDTH}px;height:auto;" ${chart.svg.slice(5).replace(">", `><title>${e(chart.alt)}</title>`)}`;
}

function imageTag(chart: Chart, src: string): string {
  return `<img src="${src}" width="${CHART_WIDTH}" height="${CHART_HEIGHT}" alt="${e(chart.alt)}" style="display:block;width:100%;max-width:${CHART_WIDTH}px;height:auto;border:0;">`;
}

/**
 * Renders the report. "standalone": one self-contained HTML file (charts as
 * inline SVG). "email": HTML referencing cid: images plus the images.
 */
export async function renderReport(
  report: WeeklyReport,
  mode: "standalone" | "email",
  options: RenderOptions = {},
): Promise<RenderedReport> {
  const range = dateRange(report);
  const subject = reportSubject(report);
  const counts: Record<ServerStatus, number> = report.fleet?.counts ?? {
    ok: 0,
    warning: 0,
    critical: 0,
    silent: 0,
  };
  if (report.fleet === undefined) for (const s of report.servers) counts[s.status]++;
  const needs = needingAction(report);
  const ordered = sortedByAttention(report.servers);
  const maxDetailed = options.maxDetailedServers ?? (mode === "email" ? 30 : 1000);
  const maxHeat = options.maxHeatmapServers ?? 60;
  const detailed = ordered.slice(0, maxDetailed);
  const others = ordered.slice(maxDetailed);
  const images: InlineImage[] = [];
  const parts: string[] = [];

  // Header.
  parts.push(`<tr><td bgcolor="#111827" style="background:#111827;padding:20px 24px;${FONT}">
<div style="font-size:12px;color:#9ca3af;letter-spacing:1px;text-transform:uppercase;">srvutil · weekly utilization report</div>
<div style="font-size:24px;color:#ffffff;font-weight:bold;padding-top:4px;">Week ${e(report.week.replace(/^\d{4}-W/, ""))}, ${e(
    range.text,
  )}</div>
<div style="font-size:12px;color:#d1d5db;padding-top:6px;">${report.servers.length} servers · all times and days in <b>${e(
    report.timezone,
  )}</b> · ISO week ${e(report.week)}</div></td></tr>`);

  if (options.notice !== undefined) {
    parts.push(
      `<tr><td bgcolor="#fef3c7" style="background:#fef3c7;color:#78350f;padding:10px 24px;font-size:13px;${FONT}">${e(options.notice)}</td></tr>`,
    );
  }

  // Status tiles.
  const tiles = (["critical", "silent", "warning", "ok"] as ServerStatus[])
    .map((st) => {
      const s = STATUS_STYLE[st];
      return `<td width="25%" align="center" bgcolor="${s.bg}" style="background:${s.bg};padding:12px 4px;border:4px solid #ffffff;${FONT}">
<div style="font-size:26px;font-weight:bold;color:${s.fg};">${counts[st]}</div><div style="font-size:12px;color:${s.fg};">${s.label}</div></td>`;
    })
    .join("");
  parts.push(
    `<tr><td style="padding:16px 14px 0 14px;"><table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="border-collapse:collapse;"><tr>${tiles}</tr></table></td></tr>`,
  );

  // Servers needing action.
  const needsBody =
    needs.length === 0
      ? `<div style="font-size:14px;color:#166534;">Nothing needs action this week.</div>`
      : `<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="border-collapse:collapse;${FONT}">${needs
          .map(
            (n) =>
              `<tr><td valign="top" style="padding:6px 8px 6px 0;width:70px;border-bottom:1px solid #f3f4f6;">${statusBadge(
                n.status,
              )}</td><td valign="top" style="padding:6px 8px 6px 0;font-size:13px;font-weight:bold;color:#111827;white-space:nowrap;border-bottom:1px solid #f3f4f6;">${e(
                n.server,
              )}</td><td style="padding:6px 0;font-size:13px;color:#374151;line-height:1.4;border-bottom:1px solid #f3f4f6;">${e(
                n.reason,
              )}</td></tr>`,
          )
          .join("\n")}</table>`;
  parts.push(section(`Needs action (${needs.length})`, needsBody));

  // The whole fleet by group: no section without groups (and in a group's own report).
  const base = (options.publicUrl ?? "").replace(/\/+$/, "");
  const groupHref = base === "" ? null : (g: string) => groupReportUrl(base, report.week, g);
  const groups = groupsHtml(report, { font: FONT, href: groupHref });
  if (groups !== null) parts.push(section(GROUPS_TITLE, groups));

  // Alerts that fired this week: no section when none did.
  const alerts = alertsHtml(report, { max: Number.POSITIVE_INFINITY, font: FONT });
  if (alerts !== null) parts.push(section(ALERTS_TITLE, alerts));

  // Heatmaps.
  if (report.servers.length > 0) {
    const heatServers = ordered.slice(0, maxHeat);
    parts.push(
      section(
        "Peak CPU per day, %",
        heatmap(report, heatServers, (d) => d.cpu.peak, report.servers.length) + legend(),
        "Highest CPU reading each day (spikes included)",
      ),
    );
    parts.push(
      section(
        "Memory used per day, % (average)",
        heatmap(report, heatServers, (d) => d.memory.percent_avg, report.servers.length) + legend(),
      ),
    );
  }

  // Per server.
  detailed.forEach((s, index) => {
    const charts = serverCharts(s, index);
    const chartHtml = charts
      .map((c) => {
        let chart: string;
        if (mode === "email") {
          const cid = `${c.id}@srvutil`;
          images.push({ cid, filename: `${c.id}.png`, contentType: "image/png", content: svgToPng(c.svg) });
          chart = imageTag(c, `cid:${cid}`);
        } else {
          chart = inlineSvg(c);
        }
        return `<div style="font-size:12px;color:#6b7280;padding:10px 0 2px 0;">${e(c.title)}</div>${chart}`;
      })
      .join("");
    const lastSeen =
      s.last_seen === null || s.last_seen === undefined
        ? "never"
        : DateTime.fromISO(s.last_seen).setZone(report.timezone).toFormat("ccc d LLL yyyy HH:mm");
    parts.push(
      `<tr><td style="padding:26px 18px 0 18px;${FONT}"><table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="border-collapse:collapse;border-top:3px solid ${
        STATUS_STYLE[s.status].fg
      };"><tr><td style="padding:10px 0 0 0;font-size:18px;font-weight:bold;color:#111827;">${e(s.server)} ${statusBadge(
        s.status,
      )}</td></tr><tr><td style="font-size:11px;color:#6b7280;padding-top:2px;">last sample ${e(lastSeen)}</td></tr></table></td></tr>`,
    );
    parts.push(`<tr><td style="padding:6px 18px 0 18px;${FONT}">${findingsList(s.findings)}</td></tr>`);
    parts.push(`<tr><td style="padding:10px 18px 0 18px;${FONT}">${summaryTable(s)}</td></tr>`);
    parts.push(`<tr><td style="padding:6px 18px 0 18px;${FONT}">${chartHtml}</td></tr>`);
    parts.push(`<tr><td style="padding:10px 18px 0 18px;${FONT}">${dailyTable(s)}</td></tr>`);
    parts.push(`<tr><td style="padding:6px 18px 0 18px;${FONT}">${diskTable(s)}</td></tr>`);
  });

  if (others.length > 0) {
    const rows = others
      .map(
        (s) =>
          `<tr><td style="${TD}">${e(s.server)}</td><td style="${TD}">${statusBadge(s.status)}</td><td align="right" style="${TD}">${fmtPct(
            s.summary?.cpu_avg,
          )}</td><td align="right" style="${TD}">${fmtPct(s.summary?.cpu_peak)}</td><td align="right" style="${TD}">${fmtPct(
            s.summary?.memory_percent_avg,
          )}</td><td align="right" style="${TD}">${fmtPct(
            Math.max(...(s.summary?.disks.map((d) => d.percent) ?? [Number.NaN])),
          ).replace("NaN\u00a0%", "–")}</td></tr>`,
      )
      .join("\n");
    parts.push(
      section(
        `Other servers (${others.length})`,
        `<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="border-collapse:collapse;${FONT}">
<tr><th align="left" style="${TH}">server</th><th align="left" style="${TH}">status</th><th align="right" style="${TH}">CPU avg</th><th align="right" style="${TH}">CPU peak</th><th align="right" style="${TH}">mem avg</th><th align="right" style="${TH}">fullest disk</th></tr>
${rows}</table>`,
        mode === "email"
          ? "Week figures; the full daily tables are in the standalone report."
          : "Week figures.",
      ),
    );
  }

  const t = report.thresholds;
  const thresholdsLine =
    t === undefined
      ? ""
      : `Thresholds: CPU day average ≥ ${t.cpu_day_avg_warning} % / ${t.cpu_day_avg_critical} %, memory ≥ ${t.memory_day_avg_warning} % / ${t.memory_day_avg_critical} %, disk ≥ ${t.disk_percent_warning} % / ${t.disk_percent_critical} % (warning / critical); silent after ${t.silent_after_hours} h. `;
  parts.push(`<tr><td style="padding:24px 18px 20px 18px;${FONT}font-size:11px;color:#6b7280;line-height:1.5;border-top:1px solid #e5e7eb;">
${e(thresholdsLine)}Days run from local midnight to midnight in ${e(report.timezone)} (a DST day has 23 or 25 hours). Percentages of disks count used / (used + free), as df does. Generated ${e(
    report.generated_at,
  )} by srvutil.</td></tr>`);

  const html = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light"><title>${e(subject)}</title></head>
<body style="margin:0;padding:0;background:#f3f4f6;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" bgcolor="#f3f4f6" style="background:#f3f4f6;border-collapse:collapse;"><tr><td align="center" style="padding:12px 4px;">
<table role="presentation" width="680" cellpadding="0" cellspacing="0" bgcolor="#ffffff" style="width:100%;max-width:680px;background:#ffffff;border-collapse:collapse;">
${parts.join("\n")}
</table></td></tr></table></body></html>
`;
  return { subject, html, text: renderText(report, subject, range.text, counts, needs, groupHref), images };
}

/** The plain-text alternative: the same key facts as the first screen, then one block per server. */
function renderText(
  report: WeeklyReport,
  subject: string,
  range: string,
  counts: Record<ServerStatus, number>,
  needs: { server: string; status: ServerStatus; reason: string }[],
  groupHref: ((group: string) => string) | null,
): string {
  const lines: string[] = [
    subject,
    "",
    `Week ${report.week}, ${range}. Days in time zone ${report.timezone}.`,
    `Servers: ${report.servers.length} — critical ${counts.critical}, warning ${counts.warning}, silent ${counts.silent}, ok ${counts.ok}.`,
    "",
  ];
  if (needs.length === 0) lines.push("Nothing needs action this week.");
  else {
    lines.push(`NEEDS ACTION (${needs.length})`);
    for (const n of needs) lines.push(`- ${n.server} [${n.status}]: ${n.reason}`);
  }
  const groups = groupsTextLines(report, groupHref);
  if (groups.length > 0) lines.push("", ...groups);
  const alerts = alertsTextLines(report, Number.POSITIVE_INFINITY);
  if (alerts.length > 0) lines.push("", ...alerts);
  lines.push("");
  for (const s of sortedByAttention(report.servers)) {
    const sum = s.summary;
    lines.push(`== ${s.server} [${s.status}]`);
    if (sum !== undefined) {
      const w = s.week_over_week;
      const d = (v: number | null | undefined): string =>
        v === null || v === undefined
          ? ""
          : ` (${v >= 0 ? "+" : "−"}${Math.abs(v).toFixed(1)} pts vs last week)`;
      lines.push(
        `   CPU avg ${fmtPct(sum.cpu_avg)}${d(w?.cpu_avg)}, peak ${fmtPct(sum.cpu_peak)}; memory avg ${fmtPct(
          sum.memory_percent_avg,
        )}${d(w?.memory_percent_avg)}, peak ${fmtPct(sum.memory_percent_peak)}; coverage ${
          sum.coverage === null ? "–" : `${(sum.coverage * 100).toFixed(0)} %`
        }`,
      );
      for (const disk of sum.disks) {
        lines.push(
          `   disk ${disk.mount}: ${fmtPct(disk.percent)} used, ${humanBytes(disk.free_bytes)} free of ${humanBytes(
            disk.used_bytes + disk.free_bytes,
          )}`,
        );
      }
    }
    for (const f of s.findings) lines.push(`   ${f.severity.toUpperCase()}: ${f.message}`);
    lines.push("");
  }
  lines.push(`Generated ${report.generated_at} by srvutil.`);
  return `${lines.join("\n")}\n`;
}
