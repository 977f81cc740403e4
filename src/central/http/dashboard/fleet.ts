import type { ServerScope } from "../../auth/principal.js";
import { type DashboardContext, requireRole, sendPage } from "../../dashboard/context.js";
import { filterFleet, loadFleet, parseFleetQuery } from "../../dashboard/fleet-data.js";
import { fleetPage, type OpenAlertCounts } from "../../dashboard/fleet-page.js";
import { scopeFleet, scopeOf, visibleGroups } from "../../dashboard/scope.js";
import { type DashboardApp, fleetQuery } from "./schemas.js";

type OpenEpisode = { server: string; state: string };

/** The fleet page, /: the query's filter, sort and page over the (cached) fleet. */
export function registerFleetRoutes(app: DashboardApp, ctx: DashboardContext): void {
  // The "Alerts: N firing" line: one readOpen, reused as long as the fleet's own read,
  // counted per request over the servers the session may see.
  let alertsEntry: { at: number; episodes: Promise<OpenEpisode[]> } | null = null;
  const openEpisodes = (): Promise<OpenEpisode[]> => {
    const now = ctx.clock();
    const ttl = ctx.fleetCache.ttlMs;
    if (alertsEntry !== null && ttl > 0 && now >= alertsEntry.at && now - alertsEntry.at < ttl) {
      return alertsEntry.episodes;
    }
    const episodes = ctx.store.alerts
      .readOpen()
      .then((o) => o.episodes.map((e) => ({ server: e.server, state: e.state })));
    const entry = { at: now, episodes };
    alertsEntry = entry;
    episodes.catch(() => {
      if (alertsEntry === entry) alertsEntry = null;
    });
    return episodes;
  };
  const openAlerts = async (scope: ServerScope): Promise<OpenAlertCounts> => {
    const mine = (await openEpisodes()).filter((e) => scope.sees(e.server));
    const firing = mine.filter((e) => e.state === "firing").length;
    return { firing, pending: mine.length - firing };
  };

  app.get("/", { schema: { querystring: fleetQuery } }, async (req, reply) => {
    const session = await requireRole(ctx, req, reply, "viewer");
    if (session === null) return reply;
    const query = parseFleetQuery(req.query);
    const scope = scopeOf(session, ctx);
    const [whole, alerts] = await Promise.all([loadFleet(ctx, ctx.fleetCache), openAlerts(scope)]);
    const scoped = scopeFleet(whole, scope);
    // The newest report is the whole fleet's: a scoped viewer's "Needs action" links to its own group's.
    const rep = scoped.report;
    const data =
      rep === null || scope.seesGroup(rep.group)
        ? scoped
        : {
            ...scoped,
            report:
              (await ctx.store.reports.listWeek(rep.week)).find((r) => scope.seesGroup(r.group)) ?? null,
          };
    const matching = filterFleet(data.rows, query);
    const pages = query.per === 0 ? 1 : Math.max(1, Math.ceil(matching.length / query.per));
    const pageNo = Math.min(query.page, pages);
    const rows = query.per === 0 ? matching : matching.slice((pageNo - 1) * query.per, pageNo * query.per);
    return sendPage(
      reply,
      fleetPage({
        session,
        data,
        query,
        matching: matching.length,
        rows,
        pages,
        pageNo,
        groups: visibleGroups(ctx.groups, scope),
        alerts,
      }),
    );
  });
}
