import type { FastifyReply } from "fastify";
import { silenceCovering } from "../../alerts/lifecycle.js";
import { serverAlertsSection } from "../../dashboard/alerts-pages.js";
import { type DashboardContext, errorPage, requireRole, sendPage } from "../../dashboard/context.js";
import { html } from "../../dashboard/html.js";
import { page } from "../../dashboard/layout.js";
import { ofVisibleGroups, scopeOf } from "../../dashboard/scope.js";
import { loadSeries, parseRange } from "../../dashboard/series.js";
import { scrapeLine, serverPage } from "../../dashboard/server-page.js";
import type { ActiveSession } from "../../storage/user-store.js";
import { groupsLookup } from "./alerts.js";
import { type DashboardApp, rangeQuery, serverParams } from "./schemas.js";

const HOUR = 3_600_000;

const noSuchServer = (reply: FastifyReply, session: ActiveSession, name: string) =>
  errorPage(reply, session, 404, "No such server", `No server named '${name.slice(0, 100)}' has reported.`);

/** The server page, /servers/NAME: its charts over the query's range, forecast and recent findings. */
export function registerServerRoutes(app: DashboardApp, ctx: DashboardContext): void {
  const schema = { params: serverParams, querystring: rangeQuery };
  app.get("/servers/:name", { schema }, async (req, reply) => {
    const session = await requireRole(ctx, req, reply, "viewer");
    if (session === null) return reply;
    const name = req.params.name;
    // Outside a scoped viewer's groups: the same 404 as a server that never reported (nothing read).
    const scope = scopeOf(session, ctx.groups);
    if (!scope.sees(name)) return noSuchServer(reply, session, name);
    const [servers, scrape] = await Promise.all([ctx.store.listServers(), ctx.store.scrapeStatus.get(name)]);
    const summary = servers.find((s) => s.server === name);
    if (summary === undefined && scrape !== null) {
      // A scrape target that never gave a sample: its scrape state is all there is to show.
      const body = html`<p class="crumbs"><a href="/">Fleet</a> › ${name}</p>
<h1>${name}</h1>
<p>No samples from this server yet · times in ${ctx.timeZone}</p>
${scrapeLine(scrape, ctx.timeZone)}`;
      return sendPage(reply, page({ title: name, session, nav: "fleet", body }));
    }
    if (summary === undefined) return noSuchServer(reply, session, name);
    const now = ctx.clock();
    const range = parseRange(req.query, now, ctx.timeZone);
    // New uploads first, so the newest hour shows at once.
    await ctx.freshRollups();
    const newestHour = Math.floor(summary.lastSeen / HOUR) * HOUR;
    const [series, history, newest, openAlerts, silences] = await Promise.all([
      loadSeries(ctx, name, range),
      ctx.store.reports.serverHistory(name, 12),
      // The memory size now: the last sample's, as the newest hour's bucket keeps it.
      ctx.store.rollups.readHourly(name, newestHour, newestHour + HOUR),
      ctx.store.alerts.readOpen(),
      ctx.store.alerts.listSilences({ activeAt: now }),
    ]);
    const groupsOf = groupsLookup(ctx);
    const memTotalBytes = newest[newest.length - 1]?.lastMemTotal ?? null;
    return sendPage(
      reply,
      serverPage({
        session,
        summary,
        range,
        series,
        // Its rows in other groups' reports would name those groups and link to reports it may not open.
        history: ofVisibleGroups(history, scope),
        memTotalBytes,
        scrape,
        alerts: serverAlertsSection({
          open: openAlerts.episodes.filter((e) => e.server === name),
          coveredBy: (e) => silenceCovering(e, silences, groupsOf),
          timeZone: ctx.timeZone,
        }),
        timeZone: ctx.timeZone,
        now,
      }),
    );
  });
}
