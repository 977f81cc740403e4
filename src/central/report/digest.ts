import { DateTime } from "luxon";
import { ALERTS_TITLE, alertsHtml } from "./alerts-section.js";
import { attachmentStateText } from "./attachments.js";
import { EMAIL_CHART, serverCharts, svgToPng } from "./charts.js";
import {
  CHANGE_MIN_POINTS,
  countStatuses,
  DIGEST_DEFAULTS,
  type DigestOptions,
  type HeatMetric,
  type Layout,
  links,
  METRIC,
  needsAction,
  RANK,
  ranked,
  weekChanges,
  weekVerdict,
} from "./digest-content.js";
import { renderText } from "./digest-text.js";
import { escapeHtml as e } from "./escape.js";
import { GROUPS_TITLE, groupsHtml } from "./groups-section.js";
import { heatColor, type InlineImage, reportSubject, STATUS_STYLE } from "./render.js";
import type { ServerStatus, WeeklyReport } from "./types.js";

export {
  CHANGE_MIN_POINTS,
  DIGEST_DEFAULTS,
  type DigestOptions,
  type WeekChange,
  weekChanges,
  weekVerdict,
} from "./digest-content.js";

/**
 * The weekly email's body as HTML: a digest that fits every mail client
 * whatever the fleet size (docs/report.md, "The email digest"). The full
 * report travels as attachments (attachments.ts).
 */
export interface RenderedDigest {
  subject: string;
  /** The week's verdict in one sentence: the preview line of mail clients, and the body's first line. */
  preheader: string;
  html: string;
  text: string;
  /** PNG charts referenced as cid: from the HTML. */
  images: InlineImage[];
}

const FONT = "font-family:Arial,Helvetica,sans-serif;";
const INK = "#111827";
const MUTED = "#4b5563";
const PAPER = "#ffffff";
const LINK = "#1d4ed8";
const LABEL: Record<ServerStatus, string> = {
  critical: "CRITICAL",
  silent: "SILENT",
  warning: "WARNING",
  ok: "OK",
};

const pct = (v: number | null | undefined): string =>
  v === null || v === undefined ? "no data" : `${v.toFixed(1)}&nbsp;%`;
/** The report's heat colours, with a darker grey for "no data" (the report's #9ca3af is below 4.5:1 contrast). */
const cellColor = (v: number | null): { bg: string; fg: string } =>
  v === null ? { bg: "#f3f4f6", fg: "#4b5563" } : heatColor(v);
const shortName = (name: string): string => (name.length > 22 ? `${name.slice(0, 21)}…` : name);

function section(title: string, body: string): string {
  return `<tr><td bgcolor="${PAPER}" style="background-color:${PAPER};color:${INK};padding:18px 18px 4px 18px;${FONT}font-size:17px;font-weight:bold;">${title}</td></tr>
<tr><td bgcolor="${PAPER}" style="background-color:${PAPER};color:${INK};padding:4px 18px 8px 18px;${FONT}font-size:13px;">${body}</td></tr>`;
}

function table(rows: string): string {
  return `<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="border-collapse:collapse;">${rows}</table>`;
}

function label(status: ServerStatus): string {
  const s = STATUS_STYLE[status];
  return `<td valign="top" bgcolor="${s.bg}" style="background-color:${s.bg};color:${s.fg};${FONT}font-size:11px;font-weight:bold;padding:4px 6px;">${LABEL[status]}</td>`;
}

function serverName(name: string, href: ((n: string) => string) | null, display = name): string {
  return href === null
    ? e(display)
    : `<a href="${e(href(name))}" style="color:${LINK};text-decoration:underline;">${e(display)}</a>`;
}

function heatmap(
  report: WeeklyReport,
  title: string,
  which: HeatMetric,
  topN: number,
  href: ((n: string) => string) | null,
): string {
  const metric = METRIC[which];
  const order = ranked(report, which);
  const shown = order.slice(0, topN);
  const rest = order.slice(topN);
  const days = report.servers[0]?.days ?? [];
  const th = `style="color:${MUTED};${FONT}font-size:11px;font-weight:normal;padding:2px 0;"`;
  const head = `<tr><th align="left" ${th}>server</th>${days
    .map((d) => `<th align="center" ${th}>${DateTime.fromISO(d.date).toFormat("ccc")}</th>`)
    .join("")}</tr>`;
  const rows = shown
    .map((s) => {
      const cells = s.days
        .map((d) => {
          const v = metric(d);
          const c = cellColor(v);
          return `<td align="center" bgcolor="${c.bg}" style="background-color:${c.bg};color:${c.fg};${FONT}font-size:12px;padding:4px 0;border:1px solid ${PAPER};">${v === null ? "–" : Math.round(v)}</td>`;
        })
        .join("");
      return `<tr><td style="color:${INK};${FONT}font-size:12px;padding:3px 4px 3px 0;">${serverName(s.server, href, shortName(s.server))}</td>${cells}</tr>`;
    })
    .join("\n");
  const restOk = rest.filter((s) => s.status === "ok").length;
  const restLine =
    rest.length === 0
      ? ""
      : restOk === rest.length
        ? `and ${rest.length} more server${rest.length === 1 ? "" : "s"}, all OK, with lower values.`
        : `and ${rest.length} more servers with lower values: ${restOk} OK, ${rest.length - restOk} needing action (see Needs action).`;
  return section(
    title,
    `${table(head + rows)}${restLine === "" ? "" : `<p style="color:${MUTED};${FONT}font-size:12px;margin:6px 0 0 0;">${restLine}</p>`}`,
  );
}

function legend(): string {
  const steps: [string, number | null][] = [
    ["under 25", 10],
    ["25–50", 30],
    ["50–75", 60],
    ["75–90", 80],
    ["90 and over", 95],
    ["– no data", null],
  ];
  return `<tr><td bgcolor="${PAPER}" style="background-color:${PAPER};color:${INK};padding:0 18px 6px 18px;">${table(
    `<tr>${steps
      .map(([text, v]) => {
        const c = cellColor(v);
        return `<td align="center" bgcolor="${c.bg}" style="background-color:${c.bg};color:${c.fg};${FONT}font-size:10px;padding:2px 3px;border:1px solid ${PAPER};">${text}</td>`;
      })
      .join("")}</tr>`,
  )}</td></tr>`;
}

function renderHtml(
  report: WeeklyReport,
  o: DigestOptions,
  layout: Layout,
  pngs: Map<string, Buffer>,
): { html: string; images: InlineImage[] } {
  const subject = reportSubject(report);
  const verdict = weekVerdict(report);
  const link = links(report, o);
  const href = link === null ? null : link.server;
  const counts = countStatuses(report);
  const needs = needsAction(report);
  const images: InlineImage[] = [];
  const first = DateTime.fromISO(report.from, { setZone: true });
  const last = DateTime.fromISO(report.to, { setZone: true }).minus({ days: 1 });
  const parts: string[] = [];

  parts.push(`<tr><td bgcolor="${INK}" style="background-color:${INK};color:#ffffff;padding:18px 18px;${FONT}">
<p style="color:#d1d5db;font-size:12px;margin:0;">srvutil weekly report${o.group !== undefined && o.group !== "default" ? ` &middot; group ${e(o.group)}` : ""}</p>
<p style="color:#ffffff;font-size:22px;font-weight:bold;margin:4px 0 0 0;">Week ${Number(report.week.slice(-2))}: ${e(first.toFormat("ccc d LLL"))} &ndash; ${e(last.toFormat("ccc d LLL yyyy"))}</p>
<p style="color:#d1d5db;font-size:12px;margin:6px 0 0 0;">${report.servers.length} servers &middot; days in ${e(report.timezone)} &middot; ISO week ${e(report.week)}</p></td></tr>`);
  parts.push(
    `<tr><td bgcolor="${PAPER}" style="background-color:${PAPER};color:${INK};padding:14px 18px 0 18px;${FONT}font-size:15px;font-weight:bold;">${e(verdict)}</td></tr>`,
  );

  const tiles = (["critical", "silent", "warning", "ok"] as const)
    .map((st) => {
      const s = STATUS_STYLE[st];
      return `<td width="25%" align="center" bgcolor="${s.bg}" style="background-color:${s.bg};color:${s.fg};${FONT}padding:10px 2px;border:3px solid ${PAPER};"><span style="color:${s.fg};font-size:24px;font-weight:bold;">${counts[st]}</span><br><span style="color:${s.fg};font-size:12px;">${s.label}</span></td>`;
    })
    .join("");
  parts.push(
    `<tr><td bgcolor="${PAPER}" style="background-color:${PAPER};color:${INK};padding:12px 15px 0 15px;">${table(`<tr>${tiles}</tr>`)}</td></tr>`,
  );

  const shownNeeds = needs.slice(0, layout.actionRows);
  const needsBody =
    needs.length === 0
      ? `<p style="color:#166534;${FONT}font-size:14px;margin:0;">Nothing needs action this week.</p>`
      : table(
          shownNeeds
            .map(
              (n) =>
                `<tr>${label(n.status)}<td valign="top" style="color:${INK};${FONT}font-size:13px;font-weight:bold;padding:4px 8px;">${serverName(n.server, href)}</td><td valign="top" style="color:${INK};${FONT}font-size:13px;padding:4px 0;">${e(n.reason)}</td></tr>`,
            )
            .join("\n"),
        ) +
        (needs.length > shownNeeds.length
          ? `<p style="color:${MUTED};${FONT}font-size:12px;margin:6px 0 0 0;">and ${needs.length - shownNeeds.length} more servers needing action, listed in the full report (attachments below).</p>`
          : "");
  parts.push(section(`Needs action (${needs.length})`, needsBody));

  const groups = groupsHtml(report, {
    font: FONT,
    href: link === null ? null : link.group,
    max: layout.groupRows,
  });
  if (groups !== null) parts.push(section(GROUPS_TITLE, groups));

  const alerts = alertsHtml(report, {
    max: layout.alertRows,
    font: FONT,
    serverHtml: (name) => serverName(name, href),
  });
  if (alerts !== null) parts.push(section(ALERTS_TITLE, alerts));

  const changes = weekChanges(report);
  if (changes.length > 0) {
    const shown = changes.slice(0, layout.changeRows);
    const th = `style="color:${MUTED};${FONT}font-size:11px;font-weight:normal;padding:2px 4px 2px 0;"`;
    const rows = shown
      .map((c) => {
        const up = c.delta > 0;
        return `<tr><td style="color:${INK};${FONT}font-size:12px;padding:3px 4px 3px 0;">${serverName(c.server, href, shortName(c.server))}</td><td style="color:${INK};${FONT}font-size:12px;padding:3px 4px 3px 0;">${e(c.figure)}</td><td align="right" style="color:${INK};${FONT}font-size:12px;padding:3px 4px 3px 0;">${pct(c.before)} &rarr; ${pct(c.now)}</td><td align="right" style="color:${up ? "#92400e" : "#065f46"};${FONT}font-size:12px;font-weight:bold;padding:3px 0;">${up ? "up" : "down"} ${Math.abs(c.delta).toFixed(1)}</td></tr>`;
      })
      .join("\n");
    const more =
      changes.length > shown.length
        ? `<p style="color:${MUTED};${FONT}font-size:12px;margin:6px 0 0 0;">and ${changes.length - shown.length} more changes of that size in the full report.</p>`
        : "";
    parts.push(
      section(
        "Changes since last week",
        `<p style="color:${MUTED};${FONT}font-size:12px;margin:0 0 4px 0;">CPU or memory average moved by ${CHANGE_MIN_POINTS.cpu} points or more, a disk by ${CHANGE_MIN_POINTS.disk} or more (percentage points).</p>${table(
          `<tr><th align="left" ${th}>server</th><th align="left" ${th}>figure</th><th align="right" ${th}>last week &rarr; this week</th><th align="right" ${th}>points</th></tr>${rows}`,
        )}${more}`,
      ),
    );
  }

  if (report.servers.length > 0) {
    parts.push(heatmap(report, "Peak CPU per day, %", "cpu", layout.topN, href));
    parts.push(heatmap(report, "Memory used per day, % (average)", "memory", layout.topN, href));
    parts.push(legend());
  }

  const chartServers = report.servers
    .filter((s) => s.status !== "ok")
    .sort((a, b) => RANK[a.status] - RANK[b.status] || (a.server < b.server ? -1 : 1))
    .slice(0, layout.charts);
  if (chartServers.length > 0) {
    const body = chartServers
      .map((s, i) => {
        const blocks = serverCharts(s, i, EMAIL_CHART).map((c) => {
          const cid = `${c.id}@srvutil`;
          let png = pngs.get(c.id);
          if (png === undefined) {
            png = svgToPng(c.svg, EMAIL_CHART);
            pngs.set(c.id, png);
          }
          images.push({ cid, filename: `${c.id}.png`, contentType: "image/png", content: png });
          return `<p style="color:${MUTED};${FONT}font-size:12px;margin:8px 0 2px 0;">${e(c.title)}</p><img src="cid:${cid}" width="564" alt="${e(c.alt)}" style="display:block;width:100%;height:auto;border:0;">`;
        });
        return `<p style="color:${INK};${FONT}font-size:14px;font-weight:bold;margin:14px 0 0 0;">${serverName(s.server, href)} &middot; ${LABEL[s.status]}</p>${blocks.join("")}`;
      })
      .join("\n");
    const total = report.servers.length - counts.ok;
    const note =
      total > chartServers.length
        ? `<p style="color:${MUTED};${FONT}font-size:12px;margin:8px 0 0 0;">Charts for ${chartServers.length} of the ${total} servers needing action; every server's charts are in the full report.</p>`
        : "";
    parts.push(section("Charts for servers needing action", body + note));
  }

  const notes = o.attachments ?? [];
  if (notes.length > 0 || link !== null) {
    const items = notes
      .map(
        (n) =>
          `<tr><td valign="top" width="38%" style="color:${INK};${FONT}font-size:12px;padding:3px 8px 3px 0;"><b>${e(n.label)}</b><br>${e(n.filename)}</td><td valign="top" style="color:${n.state === "attached" ? INK : "#92400e"};${FONT}font-size:12px;padding:3px 0;">${attachmentStateText(n)}${n.detail === undefined ? "" : `<br>${e(n.detail)}`}</td></tr>`,
      )
      .join("\n");
    const open =
      link === null
        ? ""
        : `<p style="color:${INK};${FONT}font-size:13px;margin:0 0 6px 0;"><a href="${e(link.report)}" style="color:${LINK};text-decoration:underline;">Open this report in the dashboard</a></p>`;
    parts.push(section("The full report", open + (items === "" ? "" : table(items))));
  }

  const t = report.thresholds;
  const th =
    t === undefined
      ? ""
      : `Levels: CPU day average ${t.cpu_day_avg_warning} / ${t.cpu_day_avg_critical} %, memory ${t.memory_day_avg_warning} / ${t.memory_day_avg_critical} %, disk ${t.disk_percent_warning} / ${t.disk_percent_critical} % (warning / critical); silent after ${t.silent_after_hours} h. `;
  parts.push(
    `<tr><td bgcolor="${PAPER}" style="background-color:${PAPER};color:${MUTED};padding:16px 18px 18px 18px;${FONT}font-size:11px;border-top:1px solid #d1d5db;">${e(th)}Days run midnight to midnight in ${e(report.timezone)}. Generated ${e(report.generated_at)} by srvutil.</td></tr>`,
  );

  const html = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light"><meta name="supported-color-schemes" content="light"><title>${e(subject)}</title></head>
<body style="margin:0;padding:0;background-color:#e5e7eb;">
<div style="display:none;max-height:0;overflow:hidden;color:#e5e7eb;font-size:1px;">${e(verdict)}</div>
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" bgcolor="#e5e7eb" style="background-color:#e5e7eb;"><tr><td align="center" style="padding:10px 0;">
<table role="presentation" width="600" cellpadding="0" cellspacing="0" border="0" bgcolor="${PAPER}" style="width:100%;max-width:600px;background-color:${PAPER};">
${parts.join("\n")}
</table></td></tr></table></body></html>
`;
  return { html, images };
}

/**
 * Renders the digest. The configured caps shape it; if the HTML still
 * exceeds the budget (a huge fleet with many servers needing action, long
 * names), the needs-action list, the changes, the alerts and the heatmaps are shortened
 * step by step (each says how many more there are) until it fits.
 */
export function renderDigest(report: WeeklyReport, options: DigestOptions = {}): RenderedDigest {
  const budget = options.htmlBudgetBytes ?? DIGEST_DEFAULTS.htmlBudgetBytes;
  const layout: Layout = {
    topN: options.topN ?? DIGEST_DEFAULTS.topN,
    charts: options.maxChartServers ?? DIGEST_DEFAULTS.maxChartServers,
    actionRows: options.maxActionRows ?? DIGEST_DEFAULTS.maxActionRows,
    changeRows: 15,
    alertRows: 10,
    groupRows: 100,
  };
  const groupCount = report.groups?.length ?? 0;
  const alertCount = report.alerts?.episodes.length ?? 0;
  const pngs = new Map<string, Buffer>();
  let out = renderHtml(report, options, layout, pngs);
  for (let i = 0; i < 40 && Buffer.byteLength(out.html) > budget; i++) {
    if (layout.actionRows > 10) layout.actionRows = Math.floor(layout.actionRows * 0.7);
    else if (layout.changeRows > 5) layout.changeRows = Math.floor(layout.changeRows * 0.7);
    else if (layout.alertRows > 3 && alertCount > 3) layout.alertRows = 3;
    else if (layout.groupRows > 10 && groupCount > 11) layout.groupRows = 10;
    else if (layout.topN > 5) layout.topN = Math.floor(layout.topN * 0.7);
    else if (layout.charts > 0) layout.charts--;
    else if (layout.actionRows > 0) layout.actionRows = Math.floor(layout.actionRows / 2);
    else break;
    out = renderHtml(report, options, layout, pngs);
  }
  return {
    subject: reportSubject(report),
    preheader: weekVerdict(report),
    html: out.html,
    text: renderText(report, options, layout),
    images: out.images,
  };
}
