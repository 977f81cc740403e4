import type { ServerStatus } from "../model/report.js";
import type { ActiveSession } from "../storage/user-store.js";
import { type Html, html } from "./html.js";

export interface PageOptions {
  title: string;
  session: ActiveSession | null;
  /** Which nav entry is current. */
  nav?: "fleet" | "reports" | "alerts" | "add-server" | "agent-updates" | "tokens" | "users" | "groups";
  body: Html;
  /** Load the chart script (server page). */
  script?: boolean;
}

/** The page shell: skip link, navigation (admin entries only for admins), sign-out form. */
export function page(o: PageOptions): Html {
  const s = o.session;
  const link = (key: NonNullable<PageOptions["nav"]>, href: string, label: string) =>
    html`<li><a href="${href}"${o.nav === key ? html` aria-current="page"` : ""}>${label}</a></li>`;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${o.title} · srvutil</title>
<link rel="icon" href="/favicon.ico" type="image/svg+xml">
<link rel="stylesheet" href="/assets/app.css">
${o.script === true ? html`<script src="/assets/app.js" defer></script>` : ""}
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
  <a class="brand" href="/">srvutil</a>
  ${
    s === null
      ? ""
      : html`<nav aria-label="Main"><ul>
    ${link("fleet", "/", "Fleet")}
    ${link("reports", "/reports", "Reports")}
    ${link("alerts", "/alerts", "Alerts")}
    ${
      s.role === "admin"
        ? [
            link("add-server", "/admin/add-server", "Add server"),
            link("agent-updates", "/admin/agent-updates", "Agent updates"),
            link("tokens", "/admin/tokens", "Tokens"),
            link("users", "/admin/users", "Users"),
            link("groups", "/admin/groups", "Groups"),
          ]
        : ""
    }
  </ul></nav>
  <form class="signout" method="post" action="/logout">
    <input type="hidden" name="_csrf" value="${s.csrfToken}">
    <span class="who">${s.user} <span class="role">(${s.role})</span></span>
    <button type="submit">Sign out</button>
  </form>`
  }
</header>
<main id="main" tabindex="-1">
${o.body}
</main>
</body>
</html>`;
}

export const STATUS_LABEL: Record<ServerStatus, string> = {
  ok: "OK",
  warning: "Warning",
  critical: "Critical",
  silent: "Silent",
};
/** A shape as well as a colour, so the status reads without telling colours apart. */
const STATUS_ICON: Record<ServerStatus, string> = { ok: "●", warning: "▲", critical: "■", silent: "○" };

export function statusBadge(status: ServerStatus): Html {
  return html`<span class="badge st-${status}"><span aria-hidden="true">${STATUS_ICON[status]}</span> ${STATUS_LABEL[status]}</span>`;
}

export function csrfField(session: ActiveSession): Html {
  return html`<input type="hidden" name="_csrf" value="${session.csrfToken}">`;
}

export const pct = (v: number | null | undefined, digits = 1): string =>
  v === null || v === undefined || !Number.isFinite(v) ? "–" : `${v.toFixed(digits)}\u00a0%`;

/** "3 min ago", "2 h ago", "5 d ago". */
export function ago(ms: number, now: number): string {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 90) return `${s}\u00a0s ago`;
  if (s < 90 * 60) return `${Math.round(s / 60)}\u00a0min ago`;
  if (s < 36 * 3600) return `${Math.round(s / 3600)}\u00a0h ago`;
  return `${Math.round(s / 86400)}\u00a0d ago`;
}

export function isoMinute(ms: number, timeZone: string): string {
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  }).formatToParts(ms);
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? "";
  return `${get("year")}-${get("month")}-${get("day")} ${get("hour")}:${get("minute")}`;
}

/** Labels of the finding kinds (docs/report-json.md), issue 16's included. */
export const FINDING_LABEL: Record<string, string> = {
  silent: "Silent",
  stopped_reporting: "Stopped reporting",
  cpu_sustained_high: "CPU high",
  memory_pressure: "Memory pressure",
  disk_full: "Disk full",
  disk_full_forecast: "Disk filling up",
  coverage_gap: "Coverage gap",
  cpu_abnormal: "CPU abnormal",
  memory_abnormal: "Memory abnormal",
  memory_trend: "Memory climbing",
  cpu_trend: "CPU climbing",
  ram_changed: "RAM changed",
  disk_resized: "Disk resized",
  mount_added: "Mount added",
  mount_removed: "Mount removed",
  new_server: "New server",
};
export const findingLabel = (kind: string): string => FINDING_LABEL[kind] ?? kind;

/**
 * A finding's message for a line that already shows its label: the report
 * writes each message as a sentence that starts with its own title ("Memory
 * pressure: average use …", "Sustained high CPU: …"), which after the label
 * would read twice. Drops that leading title (letters and spaces only, so
 * "Disk / is 91 % full: …" stays whole).
 */
export function findingMessage(kind: string, message: string): string {
  const label = findingLabel(kind).toLowerCase();
  if (message.toLowerCase().startsWith(`${label}:`)) return message.slice(label.length + 1).trimStart();
  const title = /^[A-Z][A-Za-z]*(?: [A-Za-z]+){0,4}: /.exec(message);
  return title === null ? message : message.slice(title[0].length);
}

/**
 * Forecasts ("will be full around 22 Dec (in 22 days)") count their days from
 * the end of the report's week; a page read later counts them from today.
 */
export function daysFromNow(isoDate: string, now: number): number {
  const today = Math.floor(now / 86_400_000) * 86_400_000;
  return Math.round((Date.parse(`${isoDate}T00:00:00Z`) - today) / 86_400_000);
}

export function forecastMessageFromNow(message: string, fullDate: string | undefined, now: number): string {
  if (fullDate === undefined) return message;
  const days = daysFromNow(fullDate, now);
  const when =
    days > 1 ? `in ${days} days from today` : days === 1 ? "tomorrow" : days === 0 ? "today" : "already past";
  return message.replace(/\((?:in \d+ days?|within a day)\)/, `(${when})`);
}

/** A finding's message as the dashboard shows it after its label: no repeated title, forecasts counted from today. */
export function findingShown(f: { kind: string; message: string; date?: string }, now: number): string {
  const message = findingMessage(f.kind, f.message);
  return FORECAST_KINDS.has(f.kind) ? forecastMessageFromNow(message, f.date, now) : message;
}

const FORECAST_KINDS = new Set(["disk_full_forecast", "memory_trend", "cpu_trend"]);
