import { type DashboardContext, requireRole, sendPage } from "../../dashboard/context.js";
import { filterFleet, loadFleet, parseFleetQuery } from "../../dashboard/fleet-data.js";
import { fleetPage } from "../../dashboard/fleet-page.js";
import { type DashboardApp, fleetQuery } from "./schemas.js";

/** The fleet page, /: the query's filter, sort and page over the (cached) fleet. */
export function registerFleetRoutes(app: DashboardApp, ctx: DashboardContext): void {
  app.get("/", { schema: { querystring: fleetQuery } }, async (req, reply) => {
    const session = await requireRole(ctx, req, reply, "viewer");
    if (session === null) return reply;
    const query = parseFleetQuery(req.query);
    const data = await loadFleet(ctx, ctx.fleetCache);
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
      }),
    );
  });
}
