import type { FastifyReply } from "fastify";
import { AGENT_VERSION_CURRENT } from "../../agent-release.js";
import {
  type AutoUpdateValue,
  buildPolicy,
  changeAutoUpdate,
  currentTagValues,
  groupSetting,
} from "../../agent-update-policy.js";
import {
  type AgentUpdatesPageData,
  agentUpdatesPage,
  groupField,
} from "../../dashboard/agent-updates-page.js";
import {
  type DashboardContext,
  formField,
  requireAction,
  requireRole,
  sendPage,
} from "../../dashboard/context.js";
import type { ActiveSession } from "../../storage/user-store.js";
import { agentUpdatesForm, type DashboardApp } from "./schemas.js";

const isValue = (v: string): v is AutoUpdateValue => v === "default" || v === "on" || v === "off";

/**
 * /admin/agent-updates (admins): the auto-update policy, fleet and per group
 * (store.agentUpdates). The POST stores only the settings that change, each
 * with the admin's name and the time, and logs each to automation.log.
 */
export function registerAgentUpdateRoutes(app: DashboardApp, ctx: DashboardContext): void {
  const send = async (
    reply: FastifyReply,
    session: ActiveSession,
    flash: AgentUpdatesPageData["flash"],
    status = 200,
  ) => {
    const [settings, inputs] = await Promise.all([
      ctx.store.agentUpdates.list(),
      ctx.store.serverInputs.list(),
    ]);
    const markup = agentUpdatesPage({
      session,
      policy: buildPolicy(settings, ctx.groups, ctx.autoUpdateDefault, await currentTagValues(ctx.store)),
      inputs,
      current: AGENT_VERSION_CURRENT,
      flash,
      timeZone: ctx.timeZone,
    });
    return sendPage(reply, markup, status);
  };

  app.get("/admin/agent-updates", async (req, reply) => {
    const session = await requireRole(ctx, req, reply, "admin");
    if (session === null) return reply;
    return send(reply, session, null);
  });

  app.post("/admin/agent-updates", { schema: { body: agentUpdatesForm } }, async (req, reply) => {
    const session = await requireAction(ctx, req, reply, "admin", req.body);
    if (session === null) return reply;
    const policy = buildPolicy(
      await ctx.store.agentUpdates.list(),
      ctx.groups,
      ctx.autoUpdateDefault,
      await currentTagValues(ctx.store),
    );
    const asValue = (own: boolean | null): AutoUpdateValue => (own === null ? "default" : own ? "on" : "off");
    // A field left out (a form from before a group was added) changes nothing.
    const wanted = [
      { group: null, field: "fleet", now: asValue(policy.fleet?.enabled ?? null) },
      ...policy.groups.map((g) => ({
        group: g.name,
        field: groupField(g.name),
        now: asValue(groupSetting(policy, g.name)),
      })),
    ].flatMap((w) => {
      const value = formField(req.body, w.field);
      return value === "" ? [] : [{ ...w, value }];
    });
    const bad = wanted.find((w) => !isValue(w.value));
    if (bad !== undefined) {
      return send(
        reply,
        session,
        { kind: "refused", message: `${bad.group ?? "Fleet"}: expected default, on or off` },
        400,
      );
    }
    let changed = 0;
    for (const w of wanted) {
      const value = w.value;
      if (value === w.now || !isValue(value)) continue;
      await changeAutoUpdate(ctx.store, ctx.groups, {
        group: w.group,
        value,
        by: session.user,
        at: ctx.clock(),
      });
      ctx.log?.info("agent auto-update changed", {
        scope: w.group === null ? "fleet" : `group ${w.group}`,
        from: w.now,
        to: value,
        by: session.user,
      });
      changed++;
    }
    return send(reply, session, { kind: "saved", changed });
  });
}
