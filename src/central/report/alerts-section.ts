import { DateTime } from "luxon";
import { escapeHtml as e } from "./escape.js";
import type { WeekAlert, WeekAlerts, WeeklyReport } from "./types.js";

/**
 * "Alerts this week" (issue 28, docs/report.md): what fired, for how long,
 * what is still firing. Drawn in the email digest (HTML and text) and in the
 * full report; absent when nothing fired (the report then has no `alerts`).
 * Every server name, mount and summary comes from agents or from figures
 * they sent, so each goes through escapeHtml in HTML, and through oneLine in
 * text (a line break in a name must not start a line of its own).
 */

export const ALERTS_TITLE = "Alerts this week";

/** The alerts of a report, or null when none fired (no section at all). */
export function reportAlerts(report: WeeklyReport): WeekAlerts | null {
  const a = report.alerts;
  return a === undefined || a.fired === 0 ? null : a;
}

/** "3 alerts fired, 1 still firing". */
export function alertsHeadline(a: WeekAlerts): string {
  return `${a.fired} alert${a.fired === 1 ? "" : "s"} fired, ${a.still_firing} still firing`;
}

/** "45 min", "3 h 20 min", "2 d 4 h". */
export function alertDuration(ms: number): string {
  const min = Math.floor(ms / 60_000);
  if (min < 1) return "under 1 min";
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 24) return min % 60 === 0 ? `${h} h` : `${h} h ${min % 60} min`;
  return h % 24 === 0 ? `${Math.floor(h / 24)} d` : `${Math.floor(h / 24)} d ${h % 24} h`;
}

/** When it fired, in the report's zone: "Tue 17 Nov 14:05". */
export function firedAtText(a: WeekAlert, timeZone: string): string {
  return DateTime.fromISO(a.fired_at, { zone: "utc" }).setZone(timeZone).toFormat("ccc d LLL HH:mm");
}

/** "disk_full_soon /var", "cpu_pressure". */
export function alertWhat(a: WeekAlert): string {
  return a.mount === "" ? a.rule : `${a.rule} ${a.mount}`;
}

/** How long: "3 h 20 min", or "still firing (2 d 4 h so far)". */
function durationText(a: WeekAlert): string {
  return a.still_firing ? `still firing (${alertDuration(a.firing_ms)} so far)` : alertDuration(a.firing_ms);
}

/** Longest word the HTML rows show whole: 28 characters fit beside the severity at 375 px in any font. */
const MAX_WORD = 28;

/**
 * Words longer than MAX_WORD (a deep mount path is one word) shortened in
 * the middle with an ellipsis, so a phone does not scroll sideways for them:
 * mail clients ignore CSS word breaking too often (caniemail), and the text
 * part and the JSON keep the whole text.
 */
export function shortWords(text: string): string {
  return text.replace(/\S{29,}/g, (w) => {
    const chars = [...w];
    return chars.length <= MAX_WORD ? w : `${chars.slice(0, 13).join("")}…${chars.slice(-14).join("")}`;
  });
}

const oneLine = (s: string): string => s.replace(/[\r\n\t\u2028\u2029]+/g, " ");

/** Text lines: the headline, then up to `max` alerts, then how many more. Empty when none fired. */
export function alertsTextLines(report: WeeklyReport, max: number): string[] {
  const a = reportAlerts(report);
  if (a === null) return [];
  const lines = [`ALERTS THIS WEEK: ${alertsHeadline(a)}`];
  const shown = a.episodes.slice(0, max);
  for (const x of shown) {
    lines.push(
      `- [${x.severity}] ${oneLine(x.server)} ${oneLine(alertWhat(x))}: fired ${firedAtText(x, report.timezone)}, ${durationText(x)}. ${oneLine(x.summary)}`,
    );
  }
  const rest = a.fired - shown.length;
  if (rest > 0) lines.push(`  and ${rest} more ${moreWhere(a, shown.length)}`);
  return lines;
}

/** Where the alerts not shown are: the full report lists up to WEEK_ALERTS_MAX (50), the CLI every one. */
function moreWhere(a: WeekAlerts, shown: number): string {
  return shown < a.episodes.length && a.more === 0
    ? "in the full report"
    : "(srvutil alerts list --all --since 14d lists the history)";
}

/** Colours on white, each at least 4.5:1 (the digest is checked for it in Chromium). */
const SEVERITY = {
  critical: { bg: "#fee2e2", fg: "#991b1b", label: "CRITICAL" },
  warning: { bg: "#fef3c7", fg: "#92400e", label: "WARNING" },
} as const;
const INK = "#111827";
const MUTED = "#4b5563";

/**
 * The section's body as HTML: two columns (severity, then the server, what
 * and when over two lines and the summary below), so it reads at 375 px as
 * well as at 600. `serverHtml` draws a server's name (escaped, perhaps a
 * link); `font` is the caller's font-family declaration. Null when none fired.
 */
export function alertsHtml(
  report: WeeklyReport,
  o: { max: number; font: string; serverHtml?: (name: string) => string; moreHint?: string },
): string | null {
  const a = reportAlerts(report);
  if (a === null) return null;
  const server = o.serverHtml ?? e;
  const shown = a.episodes.slice(0, o.max);
  const rows = shown
    .map((x) => {
      const s = SEVERITY[x.severity];
      const how = x.still_firing
        ? `<b style="color:${SEVERITY.critical.fg};">${e(durationText(x))}</b>`
        : e(durationText(x));
      return `<tr><td valign="top" bgcolor="${s.bg}" style="background-color:${s.bg};color:${s.fg};${o.font}font-size:11px;font-weight:bold;padding:4px 6px;">${s.label}</td><td valign="top" style="color:${INK};${o.font}font-size:13px;padding:4px 0 8px 8px;"><b>${server(x.server)}</b> &middot; ${e(shortWords(alertWhat(x)))}<br><span style="color:${MUTED};font-size:12px;">fired ${e(firedAtText(x, report.timezone))} &middot; ${how}</span><br>${e(shortWords(x.summary))}</td></tr>`;
    })
    .join("\n");
  const rest = a.fired - shown.length;
  const more =
    rest > 0
      ? `<p style="color:${MUTED};${o.font}font-size:12px;margin:6px 0 0 0;">and ${rest} more ${e(moreWhere(a, shown.length))}.</p>`
      : "";
  const head = `<p style="color:${INK};${o.font}font-size:14px;font-weight:bold;margin:0 0 6px 0;">${e(alertsHeadline(a))}</p>`;
  const table =
    shown.length === 0
      ? ""
      : `<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="border-collapse:collapse;">${rows}</table>`;
  return head + table + more;
}
