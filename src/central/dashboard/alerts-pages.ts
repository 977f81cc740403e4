import { humanDuration } from "../alerts/channels/format.js";
import { ALERT_RULES, type AlertEpisode } from "../alerts/types.js";
import type { AlertSilence } from "../storage/alert-store.js";
import type { ActiveSession } from "../storage/user-store.js";
import { type Html, html } from "./html.js";
import { csrfField, isoMinute, page } from "./layout.js";

/*
 * The alerts page, /alerts, from what its route
 * (src/central/http/dashboard/alerts.ts) read and did: what fires now, the
 * silences in force, the history; admins get the acknowledge and silence
 * forms. The channels page is ./channels-page.ts.
 */

/** What the page says above its sections: the action just done, or why it was refused. */
export type AlertsFlash =
  | { kind: "acknowledged"; id: number; done: boolean }
  | { kind: "silenced"; silence: AlertSilence }
  | { kind: "ended"; id: number; done: boolean }
  | { kind: "refused"; message: string };

/** The silence form's fields as typed, so a refused form comes back filled in. */
export interface SilenceDraft {
  server: string;
  rule: string;
  group: string;
  duration: string;
  reason: string;
}

export const EMPTY_SILENCE_DRAFT: SilenceDraft = {
  server: "",
  rule: "",
  group: "",
  duration: "2h",
  reason: "",
};

export interface AlertsPageData {
  session: ActiveSession;
  now: number;
  timeZone: string;
  /** Firing and pending episodes, firing first. */
  open: readonly AlertEpisode[];
  /** The silence in force that covers an open episode, or null. */
  coveredBy: (e: AlertEpisode) => AlertSilence | null;
  /** Silences in force now. */
  silences: readonly AlertSilence[];
  /** Episodes open at some point in the last `days` days, newest first. */
  history: readonly AlertEpisode[];
  /** The history hit its row limit: older episodes of the span are not shown. */
  historyLimit: number | null;
  days: number;
  daysError: string | null;
  /** The report groups a silence may name. */
  groups: readonly string[];
  flash: AlertsFlash | null;
  draft: SilenceDraft;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: replacing them is the point
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]/g;

/**
 * Text of an alert as shown: a mount name or a summary can hold control
 * characters (agents name their mounts), which HTML cannot carry; each
 * becomes U+FFFD, so it is visible that something was there. Escaping is
 * the `html` tag's.
 */
export const plain = (text: string): string => text.replace(CONTROL, "\uFFFD");

const minute = (ms: number, tz: string): Html =>
  html`<time datetime="${new Date(ms).toISOString()}">${isoMinute(ms, tz)}</time>`;

export const serverLink = (server: string): Html =>
  html`<a href="/servers/${encodeURIComponent(server)}">${plain(server)}</a>`;

/** "warning"/"critical" with its colour class (the findings' classes). */
export const severityLabel = (severity: string): Html =>
  html`<span class="sev sev-${severity}">${severity}</span>`;

/** What a silence matches: "server db-*, rule cpu_pressure, group web", or "everything". */
export function silenceMatches(s: AlertSilence): string {
  const parts = [
    s.server === null ? null : `server ${plain(s.server)}`,
    s.rule === null ? null : `rule ${s.rule}`,
    s.group === null ? null : `group ${plain(s.group)}`,
  ].filter((p) => p !== null);
  return parts.length === 0 ? "every alert" : parts.join(", ");
}

/** /alerts. */
export function alertsPage(o: AlertsPageData): { value: string } {
  const admin = o.session.role === "admin";
  const body = html`<h1>Alerts</h1>
${o.flash === null ? "" : alertsFlash(o.flash, o.timeZone)}
<p class="hint">Evaluated by <code>srvutil central serve</code> (docs/alerts.md). Times in ${o.timeZone}.${admin ? html` <a href="/alerts/channels">Channels and test notifications</a>.` : ""}</p>
<section aria-labelledby="now-h"><h2 id="now-h">Firing now <span class="sub">${countLine(o.open)}</span></h2>
${o.open.length === 0 ? html`<p>Nothing is firing or pending.</p>` : openTable(o, admin)}
</section>
<section aria-labelledby="sil-h"><h2 id="sil-h">Silences in force</h2>
${o.silences.length === 0 ? html`<p>No silence is in force.</p>` : silencesTable(o, admin)}
${admin ? silenceForm(o) : ""}
</section>
<section aria-labelledby="hist-h"><h2 id="hist-h">History <span class="sub">the last ${o.days} day${o.days === 1 ? "" : "s"}</span></h2>
<form method="get" action="/alerts" class="inline-form">
  <div><label for="h-days">Days (1 to 90)</label><input id="h-days" name="days" type="number" min="1" max="90" value="${o.days}" size="4"></div>
  <div><button type="submit">Show</button></div>
</form>
${o.daysError === null ? "" : html`<p class="notice" role="alert">${o.daysError}; showing 7 days.</p>`}
${historyTable(o)}
</section>`;
  return page({ title: "Alerts", session: o.session, nav: "alerts", body });
}

function countLine(open: readonly AlertEpisode[]): string {
  const firing = open.filter((e) => e.state === "firing").length;
  return `${firing} firing, ${open.length - firing} pending`;
}

function openTable(o: AlertsPageData, admin: boolean) {
  const tz = o.timeZone;
  return html`<div class="table-wrap"><table class="alerts-open">
<thead><tr><th scope="col">Id</th><th scope="col">State</th><th scope="col">Severity</th><th scope="col">Server</th><th scope="col">Rule</th><th scope="col">Mount</th><th scope="col">Since</th><th scope="col">Summary</th><th scope="col">Acknowledged</th><th scope="col">Silenced</th>${admin ? html`<th scope="col">Action</th>` : ""}</tr></thead>
<tbody>${o.open.map((e) => {
    const silence = o.coveredBy(e);
    return html`<tr><td class="num">${e.id}</td><td>${e.state}</td><td>${severityLabel(e.severity)}</td><th scope="row">${serverLink(e.server)}</th><td>${e.rule}</td><td>${e.mount === "" ? "–" : html`<span class="mount">${plain(e.mount)}</span>`}</td>
<td>${minute(e.firingAt ?? e.startedAt, tz)}</td><td>${plain(e.summary)}</td>
<td>${e.acknowledgedBy === null ? "–" : html`by ${plain(e.acknowledgedBy)}${e.acknowledgedAt === null ? "" : html` at ${minute(e.acknowledgedAt, tz)}`}${e.acknowledgeNote === null || e.acknowledgeNote === "" ? "" : html`: ${plain(e.acknowledgeNote)}`}`}</td>
<td>${silence === null ? "no" : html`yes, until ${minute(silence.endsAt, tz)}: ${plain(silence.reason)}`}</td>
${
  admin
    ? html`<td><form method="post" action="/alerts/ack" class="inline-form">${csrfField(o.session)}<input type="hidden" name="id" value="${e.id}"><input name="note" maxlength="500" aria-label="Note for alert ${e.id}" placeholder="note"><button type="submit">Acknowledge alert ${e.id}</button></form></td>`
    : ""
}</tr>`;
  })}</tbody></table></div>`;
}

function silencesTable(o: AlertsPageData, admin: boolean) {
  const tz = o.timeZone;
  return html`<div class="table-wrap"><table class="silences">
<thead><tr><th scope="col">Id</th><th scope="col">Matches</th><th scope="col">By</th><th scope="col">From</th><th scope="col">Until</th><th scope="col">Reason</th>${admin ? html`<th scope="col">Action</th>` : ""}</tr></thead>
<tbody>${o.silences.map(
    (s) =>
      html`<tr><td class="num">${s.id}</td><th scope="row">${silenceMatches(s)}</th><td>${plain(s.createdBy)}</td><td>${minute(s.startsAt, tz)}</td><td>${minute(s.endsAt, tz)}</td><td>${plain(s.reason)}</td>${
        admin
          ? html`<td><form method="post" action="/alerts/silences/end">${csrfField(o.session)}<input type="hidden" name="id" value="${s.id}"><button type="submit" class="danger">End silence ${s.id}</button></form></td>`
          : ""
      }</tr>`,
  )}</tbody></table></div>`;
}

function silenceForm(o: AlertsPageData) {
  const d = o.draft;
  const option = (value: string, label: string, current: string) =>
    html`<option value="${value}"${value === current ? html` selected` : ""}>${label}</option>`;
  return html`<h3 id="ns-h">Add a silence</h3>
<form method="post" action="/alerts/silences" class="inline-form" aria-labelledby="ns-h">${csrfField(o.session)}
  <div><label for="s-server">Server glob (db-*)</label><input id="s-server" name="server" maxlength="128" value="${d.server}" pattern="[A-Za-z0-9._*?\\-]{1,128}"></div>
  <div><label for="s-rule">Rule</label><select id="s-rule" name="rule">${option("", "any rule", d.rule)}${ALERT_RULES.map((r) => option(r, r, d.rule))}</select></div>
  <div><label for="s-group">Group</label><select id="s-group" name="group">${option("", "any group", d.group)}${o.groups.map((g) => option(g, g, d.group))}</select></div>
  <div><label for="s-duration">For (30m, 2h, 3d)</label><input id="s-duration" name="duration" required maxlength="20" size="6" value="${d.duration}"></div>
  <div><label for="s-reason">Reason</label><input id="s-reason" name="reason" required maxlength="500" size="40" value="${d.reason}"></div>
  <div><button type="submit">Add silence</button></div>
</form>
<p class="hint">A silence names a server glob, a rule, a group, or a mix; alerts it matches keep changing state and send nothing while it lasts. From the command line: <code>srvutil alerts silence add|list|end</code>.</p>`;
}

function historyTable(o: AlertsPageData) {
  const tz = o.timeZone;
  if (o.history.length === 0) return html`<p>No alert in this span.</p>`;
  return html`${o.historyLimit === null ? "" : html`<p class="hint">The newest ${o.historyLimit} alerts of the span are shown.</p>`}
<div class="table-wrap"><table class="alerts-history">
<thead><tr><th scope="col">Id</th><th scope="col">Server</th><th scope="col">Rule</th><th scope="col">Mount</th><th scope="col">Severity</th><th scope="col">State</th><th scope="col">Fired</th><th scope="col">Resolved</th><th scope="col">Duration</th><th scope="col">Summary</th><th scope="col">Acknowledged by</th></tr></thead>
<tbody>${o.history.map((e) => {
    const from = e.firingAt ?? e.startedAt;
    return html`<tr><td class="num">${e.id}</td><th scope="row">${serverLink(e.server)}</th><td>${e.rule}</td><td>${e.mount === "" ? "–" : html`<span class="mount">${plain(e.mount)}</span>`}</td><td>${severityLabel(e.severity)}</td><td>${e.state}</td>
<td>${e.firingAt === null ? "not yet" : minute(e.firingAt, tz)}</td><td>${e.resolvedAt === null ? "–" : minute(e.resolvedAt, tz)}</td>
<td>${humanDuration((e.resolvedAt ?? o.now) - from)}${e.resolvedAt === null ? " so far" : ""}</td><td>${plain(e.summary)}</td><td>${e.acknowledgedBy === null ? "–" : plain(e.acknowledgedBy)}</td></tr>`;
  })}</tbody></table></div>`;
}

function alertsFlash(flash: AlertsFlash, tz: string) {
  switch (flash.kind) {
    case "acknowledged":
      return html`<p class="notice" role="status">${flash.done ? `Acknowledged alert ${flash.id}.` : `Alert ${flash.id} is not open (resolved, or no such alert).`}</p>`;
    case "silenced":
      return html`<p class="notice" role="status">Silence ${flash.silence.id} (${silenceMatches(flash.silence)}) until ${minute(flash.silence.endsAt, tz)}.</p>`;
    case "ended":
      return html`<p class="notice" role="status">${flash.done ? `Silence ${flash.id} ended.` : `Silence ${flash.id} is not in force (over, or no such silence).`}</p>`;
    case "refused":
      return html`<p class="notice" role="alert">${flash.message}</p>`;
  }
}

/** The server page's "Alerts" section: that server's open alerts, and the silence covering each. */
export function serverAlertsSection(o: {
  open: readonly AlertEpisode[];
  coveredBy: (e: AlertEpisode) => AlertSilence | null;
  timeZone: string;
}): Html {
  const tz = o.timeZone;
  return html`<section aria-labelledby="alerts-h"><h2 id="alerts-h">Alerts <span class="sub"><a href="/alerts">all alerts</a></span></h2>
${
  o.open.length === 0
    ? html`<p>No alert is firing or pending for this server.</p>`
    : html`<ul class="findings server-alerts">${o.open.map((e) => {
        const silence = o.coveredBy(e);
        return html`<li>${severityLabel(e.severity)} <span class="kind">${e.rule}</span>${e.mount === "" ? "" : html` <span class="mount">${plain(e.mount)}</span>`} (${e.state} since ${minute(e.firingAt ?? e.startedAt, tz)}): ${plain(e.summary)}${e.acknowledgedBy === null ? "" : html` · acknowledged by ${plain(e.acknowledgedBy)}${e.acknowledgeNote === null || e.acknowledgeNote === "" ? "" : html`: ${plain(e.acknowledgeNote)}`}`}${silence === null ? "" : html` · silenced until ${minute(silence.endsAt, tz)}: ${plain(silence.reason)}`}</li>`;
      })}</ul>`
}
</section>`;
}
