import { type DashboardContext, errorPage, requireRole, sendPage } from "../../dashboard/context.js";
import { loadSeries, parseRange } from "../../dashboard/series.js";
import { serverPage } from "../../dashboard/server-page.js";
import { type DashboardApp, rangeQuery, serverParams } from "./schemas.js";

const HOUR = 3_600_000;

/** The server page, /servers/NAME: its charts over the query's range, forecast and recent findings. */
export function registerServerRoutes(app: DashboardApp, ctx: DashboardContext): void {
  const schema = { params: serverParams, querystring: rangeQuery };
  app.get("/servers/:name", { schema }, async (req, reply) => {
    const session = await requireRole(ctx, req, reply, "viewer");
    if (session === null) return reply;
    const name = req.params.name;
    const servers = await ctx.store.listServers();
    const summary = servers.find((s) => s.server === name);
    if (summary === undefined) {
      return errorPage(
        reply,
        session,
        404,
        "No such server",
        `No server named '${name.slice(0, 100)}' has reported.`,
      );
    }
    const now = ctx.clock();
    const range = parseRange(req.query, now, ctx.timeZone);
    // New uploads first, so the newest hour shows at once.
    await ctx.freshRollups();
    const newestHour = Math.floor(summary.lastSeen / HOUR) * HOUR;
    const [series, history, newest] = await Promise.all([
      loadSeries(ctx, name, range),
      ctx.store.reports.serverHistory(name, 12),
      // The memory size now: the last sample's, as the newest hour's bucket keeps it.
      ctx.store.rollups.readHourly(name, newestHour, newestHour + HOUR),
    ]);
    const memTotalBytes = newest[newest.length - 1]?.lastMemTotal ?? null;
    return sendPage(
      reply,
      serverPage({ session, summary, range, series, history, memTotalBytes, timeZone: ctx.timeZone, now }),
    );
  });
}
