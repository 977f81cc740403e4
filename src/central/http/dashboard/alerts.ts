import type { FastifyReply } from "fastify";
import { SrvutilError } from "../../../errors.js";
import { silenceCovering } from "../../alerts/lifecycle.js";
import { MAX_SILENCE_MS, parseSpan } from "../../alerts/span.js";
import { sendTestNotification } from "../../alerts/test-notification.js";
import { ALERT_RULES, type AlertEpisode, type AlertRuleName } from "../../alerts/types.js";
import { silenceVisible } from "../../auth/principal.js";
import {
  type AlertsFlash,
  alertsPage,
  EMPTY_SILENCE_DRAFT,
  type SilenceDraft,
} from "../../dashboard/alerts-pages.js";
import { type ChannelFigures, type ChannelsFlash, channelsPage } from "../../dashboard/channels-page.js";
import {
  type DashboardContext,
  formField,
  requireAction,
  requireRole,
  sendPage,
} from "../../dashboard/context.js";
import { scopeOf, visibleGroups } from "../../dashboard/scope.js";
import { NO_TAGS } from "../../delivery/groups.js";
import type { AlertSilence } from "../../storage/alert-store.js";
import type { ActiveSession } from "../../storage/user-store.js";
import {
  ackForm,
  alertsQuery,
  channelTestForm,
  type DashboardApp,
  silenceEndForm,
  silenceForm,
} from "./schemas.js";

const DAY = 86_400_000;
/** Episodes the history shows at most; a wider span says that older ones are left out. */
const HISTORY_LIMIT = 500;
/** Outbox rows each channel's figures are counted over. */
const FIGURES_LIMIT = 500;
const RECENT_NOTIFICATIONS = 20;
/** The server glob a silence may name: what `srvutil alerts silence add --server` accepts. */
export const SERVER_GLOB = /^[A-Za-z0-9._*?-]{1,128}$/;
const ID = /^[1-9]\d{0,14}$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing them is the point (PostgreSQL text takes no NUL)
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** The report groups a server belongs to: the central's lookup, or the same one from the dashboard's groups. */
export function groupsLookup(ctx: DashboardContext): (server: string) => readonly string[] {
  return (
    ctx.alerting?.groupsOf ??
    // Without the central's Alerting (and its current tags), only name globs can decide.
    ((server: string) => ctx.groups.filter((g) => g.includes(server, NO_TAGS)).map((g) => g.name))
  );
}

/** A free text field (note, reason): trimmed, at most 500 characters, no control characters. */
function textProblem(label: string, text: string, required: boolean): string | null {
  if (required && text === "") return `${label}: say why; it is shown wherever the alert is.`;
  if ([...text].length > 500) return `${label}: at most 500 characters.`;
  if (CONTROL.test(text)) return `${label}: control characters are not allowed.`;
  return null;
}

/** "7" when absent; a whole number from 1 to 90, or why not. */
function parseDays(value: unknown): { days: number; error: string | null } {
  if (value === undefined || value === "") return { days: 7, error: null };
  if (typeof value === "string" && /^\d{1,2}$/.test(value)) {
    const days = Number(value);
    if (days >= 1 && days <= 90) return { days, error: null };
  }
  return { days: 7, error: "Days: a whole number from 1 to 90" };
}

/**
 * /alerts (any signed-in user; admins acknowledge and silence) and
 * /alerts/channels (admins: every channel, its figures, a test send).
 */
export function registerAlertRoutes(app: DashboardApp, ctx: DashboardContext): void {
  const groupsOf = groupsLookup(ctx);

  const sendAlerts = async (
    reply: FastifyReply,
    session: ActiveSession,
    o: { days?: number; daysError?: string | null; flash?: AlertsFlash | null; draft?: SilenceDraft },
    status = 200,
  ) => {
    const now = ctx.clock();
    const days = o.days ?? 7;
    const scope = scopeOf(session, ctx);
    const [{ episodes }, allSilences, allHistory] = await Promise.all([
      ctx.store.alerts.readOpen(),
      ctx.store.alerts.listSilences({ activeAt: now }),
      ctx.store.alerts.list({ from: now - days * DAY, to: now + 1, limit: HISTORY_LIMIT }),
    ]);
    // A scoped viewer: its servers' alerts, and the silences that name none of the others.
    const silences = allSilences.filter((x) => silenceVisible(scope, x));
    const history = allHistory.filter((e) => scope.sees(e.server));
    const open = episodes
      .filter((e) => scope.sees(e.server))
      .sort(
        (a, b) =>
          (a.state === "firing" ? 0 : 1) - (b.state === "firing" ? 0 : 1) ||
          (a.severity === "critical" ? 0 : 1) - (b.severity === "critical" ? 0 : 1) ||
          (a.firingAt ?? a.startedAt) - (b.firingAt ?? b.startedAt),
      );
    const page = alertsPage({
      session,
      now,
      timeZone: ctx.timeZone,
      open,
      coveredBy: (e: AlertEpisode): AlertSilence | null => silenceCovering(e, silences, groupsOf),
      silences,
      history,
      historyLimit: allHistory.length >= HISTORY_LIMIT ? HISTORY_LIMIT : null,
      days,
      daysError: o.daysError ?? null,
      groups: visibleGroups(ctx.groups, scope).map((g) => g.name),
      flash: o.flash ?? null,
      draft: o.draft ?? EMPTY_SILENCE_DRAFT,
    });
    return sendPage(reply, page, status);
  };
  const refused = (reply: FastifyReply, session: ActiveSession, message: string, draft?: SilenceDraft) =>
    sendAlerts(reply, session, { flash: { kind: "refused", message }, draft }, 400);

  app.get("/alerts", { schema: { querystring: alertsQuery } }, async (req, reply) => {
    const session = await requireRole(ctx, req, reply, "viewer");
    if (session === null) return reply;
    const { days, error } = parseDays(req.query.days);
    return sendAlerts(reply, session, { days, daysError: error });
  });

  app.post("/alerts/ack", { schema: { body: ackForm } }, async (req, reply) => {
    const session = await requireAction(ctx, req, reply, "admin", req.body);
    if (session === null) return reply;
    const idText = formField(req.body, "id");
    const note = formField(req.body, "note").trim();
    if (!ID.test(idText)) return refused(reply, session, "No such alert.");
    const problem = textProblem("Note", note, false);
    if (problem !== null) return refused(reply, session, problem);
    const id = Number(idText);
    const done = await ctx.store.alerts.acknowledge(id, session.user, note === "" ? null : note, ctx.clock());
    if (done) ctx.log?.info("alert acknowledged", { id, note, by: session.user });
    return sendAlerts(reply, session, { flash: { kind: "acknowledged", id, done } });
  });

  app.post("/alerts/silences", { schema: { body: silenceForm } }, async (req, reply) => {
    const session = await requireAction(ctx, req, reply, "admin", req.body);
    if (session === null) return reply;
    const draft: SilenceDraft = {
      server: formField(req.body, "server").trim(),
      rule: formField(req.body, "rule"),
      group: formField(req.body, "group"),
      duration: formField(req.body, "duration").trim(),
      reason: formField(req.body, "reason").trim(),
    };
    const no = (message: string) => refused(reply, session, message, draft);
    if (draft.server === "" && draft.rule === "" && draft.group === "") {
      return no("Name what to silence: a server glob, a rule, a group, or a mix.");
    }
    if (draft.server !== "" && !SERVER_GLOB.test(draft.server)) {
      return no("Server glob: letters, digits, . _ - and the wildcards * ? (up to 128).");
    }
    if (draft.rule !== "" && !(ALERT_RULES as readonly string[]).includes(draft.rule)) {
      return no(`Rule: one of ${ALERT_RULES.join(", ")}.`);
    }
    if (draft.group !== "" && !ctx.groups.some((g) => g.name === draft.group)) {
      return no(`Group: one of ${ctx.groups.map((g) => g.name).join(", ")}.`);
    }
    let span: number;
    try {
      span = parseSpan(draft.duration, "For", MAX_SILENCE_MS);
    } catch (err) {
      if (!(err instanceof SrvutilError)) throw err;
      return no(`${err.message}.`);
    }
    const problem = textProblem("Reason", draft.reason, true);
    if (problem !== null) return no(problem);
    const now = ctx.clock();
    const silence = await ctx.store.alerts.addSilence({
      server: draft.server === "" ? null : draft.server,
      rule: draft.rule === "" ? null : (draft.rule as AlertRuleName),
      group: draft.group === "" ? null : draft.group,
      startsAt: now,
      endsAt: now + span,
      reason: draft.reason,
      createdBy: session.user,
      createdAt: now,
    });
    ctx.log?.info("alert silence added", {
      id: silence.id,
      server: silence.server,
      rule: silence.rule,
      group: silence.group,
      until: new Date(silence.endsAt).toISOString(),
      reason: silence.reason,
      by: session.user,
    });
    return sendAlerts(reply, session, { flash: { kind: "silenced", silence } }, 201);
  });

  app.post("/alerts/silences/end", { schema: { body: silenceEndForm } }, async (req, reply) => {
    const session = await requireAction(ctx, req, reply, "admin", req.body);
    if (session === null) return reply;
    const idText = formField(req.body, "id");
    if (!ID.test(idText)) return refused(reply, session, "No such silence.");
    const id = Number(idText);
    const done = await ctx.store.alerts.endSilence(id, ctx.clock());
    if (done) ctx.log?.info("alert silence ended", { id, by: session.user });
    return sendAlerts(reply, session, { flash: { kind: "ended", id, done } });
  });

  const sendChannels = async (
    reply: FastifyReply,
    session: ActiveSession,
    flash: ChannelsFlash | null,
    status = 200,
  ) => {
    const configs = [...(ctx.alerting?.channels.values() ?? [])].map((c) => c.config);
    const [figures, recent] = await Promise.all([
      Promise.all(configs.map(async (config) => channelFigures(ctx, config))),
      ctx.store.alerts.listNotifications({ limit: RECENT_NOTIFICATIONS }),
    ]);
    const page = channelsPage({
      session,
      timeZone: ctx.timeZone,
      configFile: ctx.alerting?.configFile ?? null,
      configured: ctx.alerting !== null,
      channels: figures,
      figuresLimit: FIGURES_LIMIT,
      recent,
      flash,
    });
    return sendPage(reply, page, status);
  };

  app.get("/alerts/channels", async (req, reply) => {
    const session = await requireRole(ctx, req, reply, "admin");
    if (session === null) return reply;
    return sendChannels(reply, session, null);
  });

  app.post("/alerts/channels/test", { schema: { body: channelTestForm } }, async (req, reply) => {
    const session = await requireAction(ctx, req, reply, "admin", req.body);
    if (session === null) return reply;
    const name = formField(req.body, "name");
    const channel = ctx.alerting?.channels.get(name);
    if (channel === undefined) {
      const message =
        ctx.alerting === null || ctx.alerting.configFile === null
          ? "No SRVUTIL_ALERTS_CONFIG is set: there is no channel to test."
          : `No channel named '${name.slice(0, 64)}'.`;
      return sendChannels(reply, session, { kind: "refused", message }, 400);
    }
    const outcome = await sendTestNotification(channel, {
      now: ctx.clock(),
      publicUrl: ctx.publicUrl,
      from: `the dashboard (${session.user})`,
    });
    const text = outcome.ok ? outcome.answer.response : outcome.error;
    ctx.log?.info("alert channel tested", { channel: name, ok: outcome.ok, answer: text, by: session.user });
    return sendChannels(reply, session, { kind: "tested", channel: name, ok: outcome.ok, text });
  });
}

/** One channel's figures over its newest FIGURES_LIMIT outbox rows. */
async function channelFigures(
  ctx: DashboardContext,
  config: ChannelFigures["config"],
): Promise<ChannelFigures> {
  const rows = await ctx.store.alerts.listNotifications({ channel: config.name, limit: FIGURES_LIMIT });
  const withError = rows.find((r) => r.lastError !== null);
  const answered = rows.find((r) => r.state === "sent" && r.response !== null);
  return {
    config,
    sent: rows.filter((r) => r.state === "sent").length,
    failed: rows.filter((r) => r.state === "failed").length,
    pending: rows.filter((r) => r.state === "pending" || r.state === "sending").length,
    rows: rows.length,
    lastError: withError === undefined ? null : { at: withError.createdAt, text: withError.lastError ?? "" },
    lastAnswer:
      answered === undefined
        ? null
        : { at: answered.sentAt ?? answered.createdAt, text: answered.response ?? "" },
  };
}
