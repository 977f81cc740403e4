import type { DeliveryRecord } from "../storage/delivery-store.js";
import type { ArchivedReportSummary } from "../storage/report-archive-store.js";
import type { ActiveSession } from "../storage/user-store.js";
import { html } from "./html.js";
import { ago, csrfField, isoMinute, page } from "./layout.js";

/*
 * The report archive's pages, from what their routes
 * (src/central/http/dashboard/reports.ts) read.
 */

/** /reports: every archived report with its delivery. */
export function reportListPage(o: {
  session: ActiveSession;
  reports: readonly ArchivedReportSummary[];
  deliveries: readonly DeliveryRecord[];
  timeZone: string;
  now: number;
}): { value: string } {
  const { reports, deliveries } = o;
  const state = new Map(deliveries.map((d) => [`${d.week}\u0000${d.group}`, d]));
  const body = html`<h1>Report archive</h1>
${
  reports.length === 0
    ? html`<p class="notice">No weekly report has been sent yet. The schedule sends one every Monday; <code>srvutil report send</code> sends one now.</p>`
    : html`<div class="table-wrap"><table>
<thead><tr><th scope="col">Week</th><th scope="col">Group</th><th scope="col">Servers</th><th scope="col">Need action</th><th scope="col">Delivery</th></tr></thead>
<tbody>${reports.map(
        (r) =>
          html`<tr><th scope="row"><a href="/reports/${r.week}${r.group === "default" ? "" : `?group=${encodeURIComponent(r.group)}`}">${r.week}</a></th><td>${r.group}</td><td class="num">${r.servers}</td><td class="num">${r.needingAction}</td><td>${deliveryCell(state.get(`${r.week}\u0000${r.group}`), o.timeZone, o.now)}</td></tr>`,
      )}</tbody></table></div>`
}`;
  return page({ title: "Reports", session: o.session, nav: "reports", body });
}

/** /reports/WEEK: the files of one week's report (of group `wanted`) and its delivery per group. */
export function reportWeekPage(o: {
  session: ActiveSession;
  week: string;
  reports: readonly ArchivedReportSummary[];
  deliveries: readonly DeliveryRecord[];
  /** The group whose files are shown, when it has a report. */
  wanted: string;
  /** The group just queued to be sent again (the resend's redirect), or null. */
  resent: string | null;
  /** Names of the configured groups: only those offer a resend. */
  configuredGroups: readonly string[];
  timeZone: string;
  now: number;
}): { value: string } {
  const { session, week, reports, deliveries } = o;
  const current = reports.find((r) => r.group === o.wanted) ?? reports[0] ?? null;
  const byGroup = new Map(deliveries.map((d) => [d.group, d]));
  const groups = [...new Set([...reports.map((r) => r.group), ...deliveries.map((d) => d.group)])].sort();
  const file = (name: string, group: string) =>
    `/reports/${week}/${name}${group === "default" ? "" : `?group=${encodeURIComponent(group)}`}`;
  const body = html`<p class="crumbs"><a href="/reports">Reports</a> › ${week}</p>
<h1>Weekly report ${week}</h1>
${o.resent === null ? "" : html`<p class="notice" role="status">The report for group ${o.resent} is queued to be sent again.</p>`}
${
  current === null
    ? html`<p class="notice">This week's report is not in the archive (it was never composed, or before the dashboard existed).</p>`
    : html`<p>${current.subject}</p>
<ul class="files" aria-label="Files of the report${current.group === "default" ? "" : ` for group ${current.group}`}">
  <li><a href="${file("report.html", current.group)}">Open the report (HTML)</a></li>
  <li><a href="${file("email.html", current.group)}">The email as sent</a></li>
  <li><a href="${file("report.json", current.group)}">Download JSON</a></li>
  <li><a href="${file("daily.csv", current.group)}">Download CSV</a></li>
</ul>`
}
<h2>Delivery per group</h2>
<div class="table-wrap"><table>
<thead><tr><th scope="col">Group</th><th scope="col">Status</th><th scope="col">Attempts</th>${session.role === "admin" ? html`<th scope="col">Action</th>` : ""}</tr></thead>
<tbody>${groups.map((g) => {
    const d = byGroup.get(g);
    return html`<tr><th scope="row">${reports.some((r) => r.group === g) ? html`<a href="/reports/${week}${g === "default" ? "" : `?group=${encodeURIComponent(g)}`}">${g}</a>` : g}</th>
<td>${deliveryCell(d, o.timeZone, o.now)}</td><td class="num">${d?.attempts ?? 0}${d !== undefined && d.resends > 0 ? ` (${d.resends} resent)` : ""}</td>
${
  session.role === "admin"
    ? html`<td>${
        o.configuredGroups.includes(g)
          ? html`<form method="post" action="/reports/${week}/resend">${csrfField(session)}<input type="hidden" name="group" value="${g}"><button type="submit">Resend to ${g}</button></form>`
          : html`<span class="hint">group no longer configured</span>`
      }</td>`
    : ""
}</tr>`;
  })}</tbody></table></div>`;
  return page({ title: `Report ${week}`, session, nav: "reports", body });
}

function deliveryCell(d: DeliveryRecord | undefined, tz: string, now: number) {
  if (d === undefined) return html`<span class="dl dl-none">not queued</span>`;
  const state = d.state === "sending" ? "pending" : d.state;
  return html`<span class="dl dl-${state}">${state}</span>
${d.state === "sent" && d.sentAt !== null ? html` <span class="hint">${isoMinute(d.sentAt, tz)} (${ago(d.sentAt, now)})</span>` : ""}
${d.state === "pending" || d.state === "sending" ? html` <span class="hint">attempt ${d.attempts}, next ${isoMinute(d.nextAttemptAt, tz)}</span>` : ""}
${d.lastError !== null && d.state !== "sent" ? html`<div class="error">${d.lastError}</div>` : ""}
${d.rejected.length > 0 ? html`<div class="error">refused: ${d.rejected.join(", ")}</div>` : ""}`;
}
