import {
  type DashboardContext,
  errorPage,
  formField,
  requireAction,
  requireRole,
  sendPage,
} from "../../dashboard/context.js";
import { reportListPage, reportWeekPage } from "../../dashboard/report-pages.js";
import { ofVisibleGroups, scopeOf, visibleGroups } from "../../dashboard/scope.js";
import { GROUP_NAME } from "../../delivery/groups.js";
import type { ArchivedPart } from "../../storage/report-archive-store.js";
import {
  type DashboardApp,
  reportFileQuery,
  reportWeekQuery,
  resendForm,
  weekFileParams,
  weekParams,
} from "./schemas.js";

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

/** The report archive: /reports, /reports/WEEK, its files and the resend (admin). */
export function registerReportRoutes(app: DashboardApp, ctx: DashboardContext): void {
  app.get("/reports", async (req, reply) => {
    const session = await requireRole(ctx, req, reply, "viewer");
    if (session === null) return reply;
    const scope = scopeOf(session, ctx);
    const [reports, deliveries] = await Promise.all([
      ctx.store.reports.list(500),
      ctx.store.deliveries.list({ limit: 2000 }),
    ]);
    return sendPage(
      reply,
      reportListPage({
        session,
        // A scoped viewer gets its groups' reports and deliveries only: never another group's recipients or errors.
        reports: ofVisibleGroups(reports, scope),
        deliveries: ofVisibleGroups(deliveries, scope),
        timeZone: ctx.timeZone,
        now: ctx.clock(),
      }),
    );
  });

  const weekSchema = { params: weekParams, querystring: reportWeekQuery };
  app.get("/reports/:week", { schema: weekSchema }, async (req, reply) => {
    const session = await requireRole(ctx, req, reply, "viewer");
    if (session === null) return reply;
    const week = req.params.week;
    if (!WEEK.test(week))
      return errorPage(reply, session, 404, "No such report", "A report week looks like 2026-W07.");
    const scope = scopeOf(session, ctx);
    const q = req.query;
    const asked = typeof q.group === "string" ? q.group : null;
    const [all, allDeliveries] = await Promise.all([
      ctx.store.reports.listWeek(week),
      ctx.store.deliveries.list({ week }),
    ]);
    const reports = ofVisibleGroups(all, scope);
    const deliveries = ofVisibleGroups(allDeliveries, scope);
    // Another group's report answers as a week without one: its existence is not told.
    if ((reports.length === 0 && deliveries.length === 0) || (asked !== null && !scope.seesGroup(asked))) {
      return errorPage(reply, session, 404, "No such report", `No report of ${week} is in the archive.`);
    }
    return sendPage(
      reply,
      reportWeekPage({
        session,
        week,
        reports,
        deliveries,
        wanted: asked ?? (scope.whole ? "default" : (reports[0]?.group ?? "default")),
        resent: typeof q.resent === "string" ? q.resent : null,
        configuredGroups: visibleGroups(ctx.groups, scope).map((g) => g.name),
        timeZone: ctx.timeZone,
        now: ctx.clock(),
      }),
    );
  });

  const fileSchema = { params: weekFileParams, querystring: reportFileQuery };
  app.get("/reports/:week/:file", { schema: fileSchema }, async (req, reply) => {
    const session = await requireRole(ctx, req, reply, "viewer");
    if (session === null) return reply;
    const spec = FILES[req.params.file];
    const week = req.params.week;
    if (spec === undefined || !WEEK.test(week))
      return errorPage(reply, session, 404, "Not found", "No such file.");
    const q = req.query;
    const group = typeof q.group === "string" ? q.group : "default";
    // A name no group can have is not looked up (PostgreSQL refuses a NUL in a query: that was a 500).
    // Another group's file answers as a missing one (a scoped viewer's own groups only).
    const visible = GROUP_NAME.test(group) && scopeOf(session, ctx).seesGroup(group);
    const content = visible ? await ctx.store.reports.part(week, group, spec.part) : null;
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

  const resendSchema = { params: weekParams, body: resendForm };
  app.post("/reports/:week/resend", { schema: resendSchema }, async (req, reply) => {
    const session = await requireAction(ctx, req, reply, "admin", req.body);
    if (session === null) return reply;
    const week = req.params.week;
    const group = formField(req.body, "group");
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
