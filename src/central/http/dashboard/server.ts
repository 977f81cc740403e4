import type { FastifyReply } from "fastify";
import { SrvutilError } from "../../../errors.js";
import { silenceCovering } from "../../alerts/lifecycle.js";
import { serverAlertsSection } from "../../dashboard/alerts-pages.js";
import {
  type DashboardContext,
  errorPage,
  formField,
  requireAction,
  requireRole,
  sendPage,
} from "../../dashboard/context.js";
import { html } from "../../dashboard/html.js";
import { page } from "../../dashboard/layout.js";
import { ofVisibleGroups, scopeOf } from "../../dashboard/scope.js";
import { loadSeries, parseRange } from "../../dashboard/series.js";
import { scrapeLine, serverPage } from "../../dashboard/server-page.js";
import { serverTagsSection, type TagsFlash } from "../../dashboard/tags-section.js";
import { effectiveTags } from "../../storage/tag-store.js";
import type { ActiveSession } from "../../storage/user-store.js";
import { editCentralTags, tagItems } from "../../tag-edits.js";
import { groupsLookup } from "./alerts.js";
import { type DashboardApp, rangeQuery, serverParams, serverTagsForm } from "./schemas.js";

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
    const scope = scopeOf(session, ctx);
    if (!scope.sees(name)) return noSuchServer(reply, session, name);
    return sendServerPage(reply, session, name, req.query, null, 200);
  });

  // An admin sets or unsets central tags (they win over the agent's); the page answers with the result.
  app.post(
    "/servers/:name/tags",
    { schema: { params: serverParams, body: serverTagsForm } },
    async (req, reply) => {
      const session = await requireAction(ctx, req, reply, "admin", req.body);
      if (session === null) return reply;
      const name = req.params.name;
      const known =
        (await ctx.store.listServers()).some((s) => s.server === name) ||
        (await ctx.store.scrapeStatus.get(name)) !== null;
      if (!known) {
        return errorPage(
          reply,
          session,
          404,
          "No such server",
          `No server named '${name.slice(0, 100)}' has reported.`,
        );
      }
      let flash: TagsFlash;
      let status = 200;
      try {
        const r = await editCentralTags(
          ctx.store,
          name,
          { set: tagItems(formField(req.body, "set")), unset: tagItems(formField(req.body, "unset")) },
          ctx.clock(),
        );
        ctx.log?.info("server tags edited", { server: name, changed: r.changed, by: session.user });
        flash = { kind: "saved", changed: r.changed };
      } catch (err) {
        if (!(err instanceof SrvutilError)) throw err;
        flash = { kind: "refused", message: err.message };
        status = 400;
      }
      return sendServerPage(reply, session, name, {}, flash, status);
    },
  );

  async function sendServerPage(
    reply: FastifyReply,
    session: ActiveSession,
    name: string,
    query: Parameters<typeof parseRange>[0],
    flash: TagsFlash | null,
    statusCode: number,
  ) {
    const scope = scopeOf(session, ctx);
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
    const range = parseRange(query, now, ctx.timeZone);
    // New uploads first, so the newest hour shows at once.
    await ctx.freshRollups();
    const newestHour = Math.floor(summary.lastSeen / HOUR) * HOUR;
    const [series, history, newest, openAlerts, silences, tagRows] = await Promise.all([
      loadSeries(ctx, name, range),
      ctx.store.reports.serverHistory(name, 12),
      // The memory size now: the last sample's, as the newest hour's bucket keeps it.
      ctx.store.rollups.readHourly(name, newestHour, newestHour + HOUR),
      ctx.store.alerts.readOpen(),
      ctx.store.alerts.listSilences({ activeAt: now }),
      ctx.store.tags.current(name),
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
        tags: serverTagsSection({
          session,
          server: name,
          tags: effectiveTags(tagRows).get(name) ?? new Map(),
          flash,
        }),
        timeZone: ctx.timeZone,
        now,
      }),
      statusCode,
    );
  }
}
