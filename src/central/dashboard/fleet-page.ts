import type { DeliveryGroup } from "../delivery/groups.js";
import { escapeHtml } from "../report/escape.js";
import { humanBytes } from "../report/format.js";
import type { ActiveSession } from "../storage/user-store.js";
import { inputCellHtml, outdatedLineHtml } from "./fleet-agents.js";
import { FLEET_PAGE_SIZES, type FleetData, type FleetQuery, type FleetRow } from "./fleet-data.js";
import { html, raw } from "./html.js";
import { ago, findingLabel, findingShown, page, pct, STATUS_LABEL, statusBadge } from "./layout.js";
import { sparklineSvg } from "./sparkline.js";

/*
 * The fleet page, from what its route (src/central/http/dashboard/fleet.ts)
 * read: the fleet, the query, and the page of rows it picked.
 */

const SORT_LABEL: Record<FleetQuery["sort"], string> = {
  name: "Server",
  status: "Status",
  cpu: "CPU",
  memory: "Memory",
  disk: "Worst disk",
  seen: "Last seen",
};

/** How many alerts are open now (store.alerts.readOpen), for the line under the live counts. */
export interface OpenAlertCounts {
  firing: number;
  pending: number;
}

/** /: live counts, what the last report said needs action, and the filtered, sorted, paged server table. */
export function fleetPage(o: {
  session: ActiveSession;
  data: FleetData;
  query: FleetQuery;
  /** How many servers match the query's filters (on every page). */
  matching: number;
  /** The rows of this page. */
  rows: readonly FleetRow[];
  pages: number;
  pageNo: number;
  /** Memory size by server, of the rows shown (a server without one is absent). */
  groups: readonly DeliveryGroup[];
  alerts: OpenAlertCounts;
}): { value: string } {
  const { session, data, query, rows, pages, pageNo } = o;
  const link = (over: Partial<FleetQuery>) => {
    const p = new URLSearchParams();
    const merged = { ...query, ...over };
    if (merged.q !== "") p.set("q", merged.q);
    if (merged.status !== "") p.set("status", merged.status);
    if (merged.group !== "") p.set("group", merged.group);
    if (merged.tag !== "") p.set("tag", merged.tag);
    if (merged.sort !== "status") p.set("sort", merged.sort);
    if (merged.dir !== "asc") p.set("dir", merged.dir);
    if (merged.per !== 100) p.set("per", merged.per === 0 ? "all" : String(merged.per));
    if (merged.page !== 1) p.set("page", String(merged.page));
    const s = p.toString();
    return s === "" ? "/" : `/?${s}`;
  };
  const header = (key: FleetQuery["sort"]) => {
    const active = query.sort === key;
    const nextDir = active && query.dir === "asc" ? "desc" : "asc";
    return html`<th scope="col"${active ? html` aria-sort="${query.dir === "asc" ? "ascending" : "descending"}"` : ""}><a href="${link({ sort: key, dir: nextDir, page: 1 })}">${SORT_LABEL[key]}${active ? (query.dir === "asc" ? " ↑" : " ↓") : ""}</a></th>`;
  };
  const groups = o.groups.filter((g) => !g.wholeFleet);
  const counts = (["critical", "silent", "warning", "ok"] as const).map(
    (s) =>
      html`<li><a href="${link({ status: s, page: 1 })}">${statusBadge(s)} <strong>${data.counts[s]}</strong><span class="sr-only"> servers ${STATUS_LABEL[s]}</span></a></li>`,
  );
  const body = html`<h1>Fleet</h1>
<section aria-labelledby="now-h">
<h2 id="now-h">Status now <span class="sub">live, from each server's last 24 hours</span></h2>
<ul class="counts" aria-labelledby="now-h">${counts}<li><a href="/">All <strong>${data.rows.length}</strong></a></li></ul>
<p class="alerts-now"><a href="/alerts">Alerts: <strong>${o.alerts.firing}</strong> firing, ${o.alerts.pending} pending</a></p>
${raw(outdatedLineHtml(data.outdated, data.agentVersionCurrent))}
</section>
${needsActionSection(data)}
<form class="filters" method="get" action="/" role="search" aria-label="Filter servers">
  <div><label for="f-q">Name contains</label><input id="f-q" name="q" value="${query.q}" type="search"></div>
  <div><label for="f-status">Status</label><select id="f-status" name="status">
    <option value="">any</option>
    ${(["critical", "silent", "warning", "ok"] as const).map((s) => html`<option value="${s}"${query.status === s ? " selected" : ""}>${STATUS_LABEL[s]}</option>`)}
  </select></div>
  ${
    groups.length > 0
      ? html`<div><label for="f-group">Group</label><select id="f-group" name="group"><option value="">any</option>${groups.map((g) => html`<option value="${g.name}"${query.group === g.name ? " selected" : ""}>${g.name}</option>`)}</select></div>`
      : ""
  }
  <div><label for="f-tag">Tag</label><input id="f-tag" name="tag" value="${query.tag}" placeholder="team=payments" spellcheck="false"></div>
  <div><label for="f-per">Per page</label><select id="f-per" name="per">${FLEET_PAGE_SIZES.map((n) => html`<option value="${n === 0 ? "all" : n}"${query.per === n ? " selected" : ""}>${n === 0 ? "all" : n}</option>`)}</select></div>
  <input type="hidden" name="sort" value="${query.sort}"><input type="hidden" name="dir" value="${query.dir}">
  <div><button type="submit">Apply</button> <a href="/">Clear</a></div>
</form>
<p class="hint" id="fleet-caption">${o.matching} of ${data.rows.length} servers${pages > 1 ? `, page ${pageNo} of ${pages}` : ""}. Current figures are the averages of each server's newest hour; the sparkline shows CPU (solid) and memory (dashed) over the last 24 h.</p>
<div class="table-wrap">
<table class="fleet" aria-describedby="fleet-caption">
<thead><tr>${header("name")}${header("status")}${header("cpu")}${header("memory")}${header("disk")}<th scope="col">Last 24 h</th>${header("seen")}<th scope="col">Agent</th></tr></thead>
<tbody>
${raw(rows.map((r) => fleetRowHtml(r, data.now, data.agentVersionCurrent)).join(""))}
</tbody>
</table>
</div>
${pager(pages, pageNo, query, link)}
${rows.length === 0 ? html`<p class="notice">No server matches. <a href="/">Show all servers</a></p>` : ""}`;
  return page({ title: "Fleet", session, nav: "fleet", body });
}

/** One row; built as a plain string (1,000 rows per page: no template objects per cell). */
function fleetRowHtml(r: FleetRow, now: number, agentVersionCurrent: string): string {
  const memTotalBytes = r.memTotalBytes;
  const e = escapeHtml;
  const name = e(r.server);
  const label = `${r.server}: CPU and memory, last 24 hours`;
  return (
    `<tr><th scope="row"><a href="/servers/${encodeURIComponent(r.server)}">${name}</a>${tagChipsHtml(r.tags)}</th>` +
    `<td>${statusBadge(r.status).value}${r.why === null ? "" : `<span class="why">${e(r.why)}</span>`}</td>` +
    `<td class="num">${pct(r.cpu)}</td><td class="num">${memoryCell(r.memory, memTotalBytes)}</td>` +
    `<td class="num">${r.disk === null ? "–" : `${pct(r.disk.percent)} <span class="mount">${e(r.disk.mount)}</span>`}</td>` +
    `<td>${sparklineSvg(r.cpuHours, r.memHours, e(label))}</td>` +
    `<td>${r.lastSeen === null ? "never" : `<time datetime="${new Date(r.lastSeen).toISOString()}">${ago(r.lastSeen, now)}</time>`}</td>` +
    `${inputCellHtml(r.input, agentVersionCurrent, now)}</tr>`
  );
}

/**
 * A server's tags as chips, each a link to the fleet filtered by it. Tags
 * come from agents: escaped in the text, encoded in the link.
 */
export function tagChipsHtml(tags: FleetRow["tags"]): string {
  if (tags.size === 0) return "";
  const e = escapeHtml;
  const chips = [...tags]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, t]) => {
      const text = `${k}=${t.value}`;
      const title = t.source === "central" ? "set on the central" : "declared by the agent";
      return `<li><a class="tag tag-${t.source}" href="/?tag=${encodeURIComponent(text)}" title="${title}">${e(text)}</a></li>`;
    });
  return `<ul class="tags" aria-label="Tags">${chips.join("")}</ul>`;
}

/** "45.2 % of 7.5 GiB": a percentage means little without the size it is of. */
export function memoryCell(percent: number | null, totalBytes: number | null): string {
  if (percent === null || totalBytes === null) return pct(percent);
  return `${pct(percent)} <span class="of">of\u00a0${humanBytes(totalBytes).replace(" ", "\u00a0")}</span>`;
}

function needsActionSection(data: FleetData) {
  if (data.report === null) {
    return html`<section aria-labelledby="na-h"><h2 id="na-h">Needs action</h2><p class="hint">No weekly report has been sent yet; the list appears with the first one.</p></section>`;
  }
  const rep = data.report;
  // The report's `reason` is its first finding's message ("… (+1 more)"): shown
  // next to the name only when no finding is listed under it, or it reads twice.
  const entry = (r: (typeof data.needsAction)[number]) => {
    const listed = r.findings.filter((f) => f.severity !== "info");
    if (listed.length === 0) return r.reason === null ? "" : html` — ${r.reason}`;
    return html`<ul>${listed.map(
      (f) =>
        html`<li><span class="sev sev-${f.severity}">${f.severity}</span> <span class="kind">${findingLabel(f.kind)}</span>: ${findingShown(f, data.now)}</li>`,
    )}</ul>`;
  };
  return html`<section aria-labelledby="na-h">
<h2 id="na-h">Needs action <span class="sub">in the report of week <a href="/reports/${rep.week}${rep.group === "default" ? "" : `?group=${encodeURIComponent(rep.group)}`}">${rep.week}</a>, not now</span></h2>
${reportCounts(data)}
${
  data.needsAction.length === 0
    ? html`<p>Nothing needed action in ${rep.week}.</p>`
    : html`<ul class="needs">${data.needsAction
        .slice(0, 50)
        .map(
          (r) =>
            html`<li>${statusBadge(r.status)} <a href="/servers/${encodeURIComponent(r.server)}?week=${rep.week}">${r.server}</a>${entry(r)}</li>`,
        )}</ul>${data.needsAction.length > 50 ? html`<p><a href="/reports/${rep.week}">All ${data.needsAction.length} in the report</a></p>` : ""}`
}
${
  data.changes.length === 0
    ? ""
    : html`<h3>Changes in ${rep.week}</h3><ul class="changes">${data.changes
        .slice(0, 30)
        .map(
          (c) =>
            html`<li><span class="kind">${findingLabel(c.kind)}</span> <a href="/servers/${encodeURIComponent(c.server)}?week=${rep.week}">${c.server}</a>: ${findingShown(c, data.now)}</li>`,
        )}</ul>`
}
</section>`;
}

/** The report's own counts, from the same rows as the list under them (the live counts are above). */
function reportCounts(data: FleetData) {
  if (data.report === null) return "";
  const week = data.report.week;
  const n = (s: "critical" | "silent" | "warning") => data.needsAction.filter((r) => r.status === s).length;
  return html`<ul class="counts report-counts" aria-label="Servers needing action in the report of week ${week}">${(
    ["critical", "silent", "warning"] as const
  ).map(
    (s) =>
      html`<li>${statusBadge(s)} <strong>${n(s)}</strong><span class="sr-only"> servers ${STATUS_LABEL[s]} in week ${week}</span></li>`,
  )}</ul>`;
}

function pager(pages: number, current: number, _q: FleetQuery, link: (over: Partial<FleetQuery>) => string) {
  if (pages <= 1) return "";
  const shown = [...new Set([1, current - 1, current, current + 1, pages])].filter(
    (p) => p >= 1 && p <= pages,
  );
  return html`<nav class="pager" aria-label="Pages of servers"><ul>
${current > 1 ? html`<li><a href="${link({ page: current - 1 })}">Previous</a></li>` : ""}
${shown.map((p) => (p === current ? html`<li><a href="${link({ page: p })}" aria-current="page">${p}</a></li>` : html`<li><a href="${link({ page: p })}">${p}</a></li>`))}
${current < pages ? html`<li><a href="${link({ page: current + 1 })}">Next</a></li>` : ""}
</ul></nav>`;
}
