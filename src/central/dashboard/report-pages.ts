import type { FastifyInstance } from "fastify";
import { GROUP_NAME } from "../delivery/groups.js";
import type { DeliveryRecord } from "../storage/delivery-store.js";
import type { ArchivedPart } from "../storage/report-archive-store.js";
import {
  type DashboardContext,
  errorPage,
  formField,
  requireAction,
  requireRole,
  sendPage,
} from "./context.js";
import { html } from "./html.js";
import { ago, csrfField, isoMinute, page } from "./layout.js";

const WEEK = /^\d{4}-W\d{2}$/;

/** The archived files; the report HTML is a mail-styled document with no script. */
const FILES: Record<string, { part: ArchivedPart; type: string; download: boolean }> = {
  "report.html": { part: "html", type: "text/html; charset=utf-8", download: false },
  "email.html": { part: "digest", type: "text/html; charset=utf-8", download: false },
  "report.json": { part: "json", type: "application/json; charset=utf-8", download: true },
  "daily.csv": { part: "csv", type: "text/csv; charset=utf-8", download: true },
};
/** The archived HTML is styled inline (it was made for mail clients) and runs nothing. */
const ARCHIVE_CSP =
  "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

function deliveryCell(d: DeliveryRecord | undefined, tz: string, now: number) {
  if (d === undefined) return html`<span class="dl dl-none">not queued</span>`;
  const state = d.state === "sending" ? "pending" : d.state;
  return html`<span class="dl dl-${state}">${state}</span>
${d.state === "sent" && d.sentAt !== null ? html` <span class="hint">${isoMinute(d.sentAt, tz)} (${ago(d.sentAt, now)})</span>` : ""}
${d.state === "pending" || d.state === "sending" ? html` <span class="hint">attempt ${d.attempts}, next ${isoMinute(d.nextAttemptAt, tz)}</span>` : ""}
${d.lastError !== null && d.state !== "sent" ? html`<div class="error">${d.lastError}</div>` : ""}
${d.rejected.length > 0 ? html`<div class="error">refused: ${d.rejected.join(", ")}</div>` : ""}`;
}

export function registerReportPages(app: FastifyInstance, ctx: DashboardContext): void {
  app.get("/reports", async (req, reply) => {
    const session = await requireRole(ctx, req, reply, "viewer");
    if (session === null) return reply;
    const [reports, deliveries] = await Promise.all([
      ctx.store.reports.list(500),
      ctx.store.deliveries.list({ limit: 2000 }),
    ]);
    const state = new Map(deliveries.map((d) => [`${d.week}\u0000${d.group}`, d]));
    const now = ctx.clock();
    const body = html`<h1>Report archive</h1>
${
  reports.length === 0
    ? html`<p class="notice">No weekly report has been sent yet. The schedule sends one every Monday; <code>srvutil report send</code> sends one now.</p>`
    : html`<div class="table-wrap"><table>
<thead><tr><th scope="col">Week</th><th scope="col">Group</th><th scope="col">Servers</th><th scope="col">Need action</th><th scope="col">Delivery</th></tr></thead>
<tbody>${reports.map(
        (r) =>
          html`<tr><th scope="row"><a href="/reports/${r.week}${r.group === "default" ? "" : `?group=${encodeURIComponent(r.group)}`}">${r.week}</a></th><td>${r.group}</td><td class="num">${r.servers}</td><td class="num">${r.needingAction}</td><td>${deliveryCell(state.get(`${r.week}\u0000${r.group}`), ctx.timeZone, now)}</td></tr>`,
      )}</tbody></table></div>`
}`;
    return sendPage(reply, page({ title: "Reports", session, nav: "reports", body }));
  });

  app.get<{ Params: { week: string } }>("/reports/:week", async (req, reply) => {
    const session = await requireRole(ctx, req, reply, "viewer");
    if (session === null) return reply;
    const week = req.params.week;
    if (!WEEK.test(week))
      return errorPage(reply, session, 404, "No such report", "A report week looks like 2026-W07.");
    const [reports, deliveries] = await Promise.all([
      ctx.store.reports.listWeek(week),
      ctx.store.deliveries.list({ week }),
    ]);
    if (reports.length === 0 && deliveries.length === 0) {
      return errorPage(reply, session, 404, "No such report", `No report of ${week} is in the archive.`);
    }
    const q = (req.query ?? {}) as Record<string, unknown>;
    const wanted = typeof q.group === "string" ? q.group : "default";
    const current = reports.find((r) => r.group === wanted) ?? reports[0] ?? null;
    const byGroup = new Map(deliveries.map((d) => [d.group, d]));
    const groups = [...new Set([...reports.map((r) => r.group), ...deliveries.map((d) => d.group)])].sort();
    const now = ctx.clock();
    const file = (name: string, group: string) =>
      `/reports/${week}/${name}${group === "default" ? "" : `?group=${encodeURIComponent(group)}`}`;
    const resent = typeof q.resent === "string" ? q.resent : null;
    const body = html`<p class="crumbs"><a href="/reports">Reports</a> › ${week}</p>
<h1>Weekly report ${week}</h1>
${resent === null ? "" : html`<p class="notice" role="status">The report for group ${resent} is queued to be sent again.</p>`}
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
<td>${deliveryCell(d, ctx.timeZone, now)}</td><td class="num">${d?.attempts ?? 0}${d !== undefined && d.resends > 0 ? ` (${d.resends} resent)` : ""}</td>
${
  session.role === "admin"
    ? html`<td>${
        ctx.groups.some((x) => x.name === g)
          ? html`<form method="post" action="/reports/${week}/resend">${csrfField(session)}<input type="hidden" name="group" value="${g}"><button type="submit">Resend to ${g}</button></form>`
          : html`<span class="hint">group no longer configured</span>`
      }</td>`
    : ""
}</tr>`;
    })}</tbody></table></div>`;
    return sendPage(reply, page({ title: `Report ${week}`, session, nav: "reports", body }));
  });

  app.get<{ Params: { week: string; file: string } }>("/reports/:week/:file", async (req, reply) => {
    const session = await requireRole(ctx, req, reply, "viewer");
    if (session === null) return reply;
    const spec = FILES[req.params.file];
    const week = req.params.week;
    if (spec === undefined || !WEEK.test(week))
      return errorPage(reply, session, 404, "Not found", "No such file.");
    const q = (req.query ?? {}) as Record<string, unknown>;
    const group = typeof q.group === "string" ? q.group : "default";
    // A name no group can have is not looked up (PostgreSQL refuses a NUL in a query: that was a 500).
    const content = GROUP_NAME.test(group) ? await ctx.store.reports.part(week, group, spec.part) : null;
    if (content === null)
      return errorPage(
        reply,
        session,
        404,
        "Not found",
        `No report of ${week} for group ${group.slice(0, 64)}.`,
      );
    const stem = `srvutil-${week}${group === "default" ? "" : `-${group.replace(/[^A-Za-z0-9._-]/g, "_")}`}`;
    const name =
      spec.part === "csv" ? `${stem}-daily.csv` : spec.part === "json" ? `${stem}.json` : `${stem}.html`;
    if (spec.download) reply.header("content-disposition", `attachment; filename="${name}"`);
    if (!spec.download) reply.header("content-security-policy", ARCHIVE_CSP);
    return reply.type(spec.type).send(content);
  });

  app.post<{ Params: { week: string } }>("/reports/:week/resend", async (req, reply) => {
    const session = await requireAction(ctx, req, reply, "admin");
    if (session === null) return reply;
    const week = req.params.week;
    const group = formField(req, "group");
    if (!WEEK.test(week) || !ctx.groups.some((g) => g.name === group)) {
      return errorPage(
        reply,
        session,
        400,
        "Cannot resend",
        `No configured group '${group.slice(0, 64)}' or no week ${week.slice(0, 20)}.`,
      );
    }
    const now = ctx.clock();
    // Queued like `report send --resend`; the delivery engine of whichever instance claims it sends it.
    await ctx.store.deliveries.enqueue(
      { week, group },
      {
        now,
        trigger: "resend",
        retryUntil: now + ctx.retryForMs,
        resend: true,
        retryFailed: true,
        dueNow: true,
      },
    );
    ctx.log?.info("delivery.resend_requested", { week, group, by: session.user });
    return reply.redirect(
      `/reports/${week}?resent=${encodeURIComponent(group)}${group === "default" ? "" : `&group=${encodeURIComponent(group)}`}`,
      303,
    );
  });
}
