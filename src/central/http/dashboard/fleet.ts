import { type DashboardContext, requireRole, sendPage } from "../../dashboard/context.js";
import { filterFleet, loadFleet, parseFleetQuery } from "../../dashboard/fleet-data.js";
import { fleetPage, type OpenAlertCounts } from "../../dashboard/fleet-page.js";
import { type DashboardApp, fleetQuery } from "./schemas.js";

/** The fleet page, /: the query's filter, sort and page over the (cached) fleet. */
export function registerFleetRoutes(app: DashboardApp, ctx: DashboardContext): void {
  // The "Alerts: N firing" line: one readOpen, reused as long as the fleet's own read.
  let alertsEntry: { at: number; counts: Promise<OpenAlertCounts> } | null = null;
  const openAlerts = (): Promise<OpenAlertCounts> => {
    const now = ctx.clock();
    const ttl = ctx.fleetCache.ttlMs;
    if (alertsEntry !== null && ttl > 0 && now >= alertsEntry.at && now - alertsEntry.at < ttl) {
      return alertsEntry.counts;
    }
    const counts = ctx.store.alerts.readOpen().then(({ episodes }) => {
      const firing = episodes.filter((e) => e.state === "firing").length;
      return { firing, pending: episodes.length - firing };
    });
    const entry = { at: now, counts };
    alertsEntry = entry;
    counts.catch(() => {
      if (alertsEntry === entry) alertsEntry = null;
    });
    return counts;
  };

  app.get("/", { schema: { querystring: fleetQuery } }, async (req, reply) => {
    const session = await requireRole(ctx, req, reply, "viewer");
    if (session === null) return reply;
    const query = parseFleetQuery(req.query);
    const [data, alerts] = await Promise.all([loadFleet(ctx, ctx.fleetCache), openAlerts()]);
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
        groups: ctx.groups,
        alerts,
      }),
    );
  });
}
