import type { FastifyReply, FastifyRequest } from "fastify";
import { SrvutilError } from "../../../errors.js";
import { isSafeBaseUrl, scriptBaseUrl } from "../../agent-dist/scripts.js";
import {
  type AddServerFlash,
  addServerPage,
  type CentralBase,
  EMPTY_DRAFT,
  type EnrolmentDraft,
} from "../../dashboard/add-server-page.js";
import {
  type DashboardContext,
  formField,
  requireAction,
  requireRole,
  sendPage,
} from "../../dashboard/context.js";
import {
  createEnrolmentToken,
  type EnrolmentFieldNames,
  parseDuration,
  parseTags,
} from "../../enrol/tokens.js";
import type { ActiveSession } from "../../storage/user-store.js";
import { type DashboardApp, enrolmentForm, enrolmentRevokeForm } from "./schemas.js";

/** The form's fields as its refusals name them (the CLI's messages name its options). */
const FIELD_NAMES: EnrolmentFieldNames = {
  servers: "Servers",
  uses: "Uses",
  expires: "Expires after",
  tag: "Tag",
};
const TOKEN_ID = /^[0-9a-f]{12}$/;

/**
 * /admin/add-server (admins): creates enrolment tokens and shows, once, the
 * command per platform that installs an agent with one; lists the tokens and
 * the last enrolments, and revokes. Like /admin/tokens, a POST answers with
 * the page itself (no redirect), so the secret is never kept anywhere to be
 * shown after one; the answer is not cached (plugin.ts: no-store).
 */
export function registerAddServerRoutes(app: DashboardApp, ctx: DashboardContext): void {
  const send = async (
    req: FastifyRequest,
    reply: FastifyReply,
    session: ActiveSession,
    o: { flash?: AddServerFlash | null; draft?: EnrolmentDraft; status?: number },
  ) => {
    const [tokens, enrolments, missingAgents] = await Promise.all([
      ctx.store.enrolments.list(),
      ctx.store.enrolments.log(20),
      ctx.missingAgents === null ? Promise.resolve(null) : ctx.missingAgents(),
    ]);
    const markup = addServerPage({
      session,
      tokens,
      enrolments,
      base: centralBase(ctx, req),
      missingAgents,
      flash: o.flash ?? null,
      draft: o.draft ?? EMPTY_DRAFT,
      now: ctx.clock(),
      timeZone: ctx.timeZone,
    });
    return sendPage(reply, markup, o.status ?? 200);
  };

  app.get("/admin/add-server", async (req, reply) => {
    const session = await requireRole(ctx, req, reply, "admin");
    if (session === null) return reply;
    return send(req, reply, session, {});
  });

  app.post("/admin/add-server", { schema: { body: enrolmentForm } }, async (req, reply) => {
    const session = await requireAction(ctx, req, reply, "admin", req.body);
    if (session === null) return reply;
    const draft: EnrolmentDraft = {
      servers: formField(req.body, "servers").trim(),
      uses: formField(req.body, "uses").trim(),
      expires: formField(req.body, "expires").trim(),
      allowReenrol: formField(req.body, "allow_reenrol") !== "",
      tags: formField(req.body, "tags").trim(),
    };
    try {
      const { token, record } = await createEnrolmentToken(
        ctx.store,
        {
          servers: draft.servers,
          maxUses: /^[0-9]{1,9}$/.test(draft.uses) ? Number(draft.uses) : Number.NaN,
          expiresInMs: parseDuration(draft.expires, FIELD_NAMES.expires),
          allowReenrol: draft.allowReenrol,
          tags: parseTags(
            draft.tags
              .split(",")
              .map((t) => t.trim())
              .filter((t) => t !== ""),
            FIELD_NAMES.tag,
          ),
          createdBy: session.user,
        },
        ctx.clock(),
        FIELD_NAMES,
      );
      // The same record as `central enrol create` writes; never the secret.
      ctx.log?.info("enrolment token created", {
        tokenId: record.tokenId,
        servers: record.servers,
        uses: record.maxUses,
        expiresAt: new Date(record.expiresAt).toISOString(),
        allowReenrol: record.allowReenrol,
        by: session.user,
      });
      return send(req, reply, session, { flash: { kind: "created", token, record }, status: 201 });
    } catch (err) {
      if (!(err instanceof SrvutilError)) throw err;
      return send(req, reply, session, {
        flash: { kind: "refused", message: err.message },
        draft,
        status: 400,
      });
    }
  });

  app.post("/admin/add-server/revoke", { schema: { body: enrolmentRevokeForm } }, async (req, reply) => {
    const session = await requireAction(ctx, req, reply, "admin", req.body);
    if (session === null) return reply;
    const tokenId = formField(req.body, "id");
    // Only ids of the stored shape are looked up (a NUL made PostgreSQL answer 500 elsewhere).
    const done = TOKEN_ID.test(tokenId) && (await ctx.store.enrolments.revoke(tokenId, ctx.clock()));
    if (done) ctx.log?.info("enrolment token revoked", { tokenId, by: session.user });
    return send(req, reply, session, {
      flash: { kind: "revoked", tokenId: tokenId.slice(0, 40), done },
      status: done ? 200 : 404,
    });
  });
}

/** SRVUTIL_PUBLIC_URL, else this request's origin, as GET /install.sh names the central (../routes/agent-dist.ts). */
function centralBase(ctx: DashboardContext, req: FastifyRequest): CentralBase {
  const header = (n: string) => {
    const v = req.headers[n];
    return Array.isArray(v) ? v[0] : v;
  };
  const url = scriptBaseUrl({
    publicUrl: ctx.publicUrl,
    tls: ctx.tls,
    viaTrustedProxy: req.client.viaTrustedProxy,
    host: header("host"),
    forwardedHost: header("x-forwarded-host"),
    forwardedProto: header("x-forwarded-proto"),
  });
  return { url: url !== null && isSafeBaseUrl(url) ? url : null, configured: ctx.publicUrl !== null };
}
