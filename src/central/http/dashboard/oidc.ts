import type { FastifyReply } from "fastify";
import { type ErrorReason, errorCode } from "../../../errors.js";
import { type DashboardContext, safeNext, sendPage } from "../../dashboard/context.js";
import { OIDC_PENDING_COOKIE, OIDC_PENDING_MS, OidcError } from "../../dashboard/oidc.js";
import { noRolePage, signInFailedPage } from "../../dashboard/oidc-pages.js";
import { claimValues, displayName, mapClaimsToPrincipal } from "../../dashboard/oidc-roles.js";
import { parseCookies } from "../../dashboard/sessions.js";
import { ERROR_CODE_HEADER } from "./error-header.js";
import { type DashboardApp, loginQuery, logoutTokenForm, oidcCallbackQuery } from "./schemas.js";

/**
 * GET /auth/oidc/login and GET /auth/oidc/callback: sign-in with the
 * company's identity provider (authorization code flow with PKCE). The
 * pending sign-in (state, nonce, PKCE verifier, where to go next) travels in
 * a signed HttpOnly cookie that lives ten minutes and is used once. Sign-out
 * is POST /logout (./login.ts), which ends the provider's session too; and
 * POST /auth/oidc/backchannel-logout ends srvutil's sessions when the
 * provider's session ends elsewhere.
 */
export function registerOidcRoutes(app: DashboardApp, ctx: DashboardContext): void {
  const rp = ctx.oidc;
  if (rp === null) return;

  const failed = (
    reply: FastifyReply,
    reason: ErrorReason,
    status: number,
    title: string,
    message: string,
  ) => {
    reply.header(ERROR_CODE_HEADER, errorCode(reason));
    return sendPage(reply, signInFailedPage({ title, message }), status);
  };
  const unavailable = (reply: FastifyReply, err: OidcError) => {
    ctx.log?.warn("dashboard.oidc_unavailable", { provider: rp.settings.issuer, error: err.message });
    return failed(
      reply,
      "oidc_unavailable",
      502,
      "Identity provider unavailable",
      `${rp.settings.providerName} could not be reached. Try again in a moment; an admin finds the reason in automation.log.`,
    );
  };

  app.get("/auth/oidc/login", { schema: { querystring: loginQuery } }, async (req, reply) => {
    if ((await ctx.sessions.current(req)) !== null) return reply.redirect(safeNext(req.query.next), 303);
    try {
      const { url, pending } = await rp.start(safeNext(req.query.next), ctx.clock());
      ctx.sessions.setCookie(
        req,
        reply,
        OIDC_PENDING_COOKIE,
        rp.sealPending(pending),
        OIDC_PENDING_MS / 1000,
      );
      return reply.redirect(url.href, 303);
    } catch (err) {
      if (err instanceof OidcError) return unavailable(reply, err);
      throw err;
    }
  });

  app.get("/auth/oidc/callback", { schema: { querystring: oidcCallbackQuery } }, async (req, reply) => {
    const address = req.client.address;
    const pending = rp.openPending(parseCookies(req.headers.cookie).get(OIDC_PENDING_COOKIE), ctx.clock());
    // Used once: whatever happens next, this browser's pending sign-in is gone.
    ctx.sessions.setCookie(req, reply, OIDC_PENDING_COOKIE, "", 0);
    if (pending === null) {
      ctx.log?.warn("dashboard.sign_in_refused", { reason: "oidc_no_pending_sign_in", address });
      return failed(
        reply,
        "oidc_refused",
        400,
        "Sign-in expired",
        "This sign-in was not started in this browser or took longer than ten minutes. Sign in again.",
      );
    }
    const query = req.url.includes("?") ? req.url.slice(req.url.indexOf("?") + 1) : "";
    let account: Awaited<ReturnType<typeof rp.finish>>;
    try {
      account = await rp.finish(query, pending);
    } catch (err) {
      if (!(err instanceof OidcError)) throw err;
      if (err.kind === "unavailable") return unavailable(reply, err);
      ctx.log?.warn("dashboard.sign_in_refused", {
        reason: "oidc_check_failed",
        error: err.message,
        address,
      });
      return failed(
        reply,
        "oidc_refused",
        400,
        "Sign-in refused",
        `The answer from ${rp.settings.providerName} did not pass srvutil's checks (${err.message}). Sign in again.`,
      );
    }
    const user = displayName(account.claims);
    const principal = mapClaimsToPrincipal(account.claims, rp.settings);
    if (principal === null) {
      ctx.log?.warn("dashboard.sign_in_refused", { reason: "oidc_no_role", user, address });
      reply.header(ERROR_CODE_HEADER, errorCode("oidc_no_role"));
      const values = claimValues(account.claims, rp.settings.roleClaim);
      return sendPage(reply, noRolePage({ user, settings: rp.settings, values }), 403);
    }
    const sid = account.claims.sid;
    await ctx.sessions.start(req, reply, user, {
      ...principal,
      idToken: account.idToken,
      subject: String(account.claims.sub),
      providerSid: typeof sid === "string" ? sid : null,
    });
    ctx.log?.info("dashboard.signed_in", {
      user,
      role: principal.role,
      groups: principal.groups,
      via: "oidc",
      address,
    });
    return reply.redirect(pending.next, 303);
  });

  // Server to server: the provider authenticates with the signed logout token, so no session or CSRF token applies.
  app.post("/auth/oidc/backchannel-logout", { schema: { body: logoutTokenForm } }, async (req, reply) => {
    const token = typeof req.body?.logout_token === "string" ? req.body.logout_token : "";
    try {
      const target = await rp.backchannelLogout(token, Math.floor(Date.now() / 1000));
      const ended = await ctx.store.users.endSsoSessions(target);
      ctx.log?.info("dashboard.oidc_backchannel_logout", {
        subject: target.subject,
        sid: target.providerSid,
        ended,
      });
      return reply.code(200).header("cache-control", "no-store").send();
    } catch (err) {
      if (!(err instanceof OidcError)) throw err;
      ctx.log?.warn("dashboard.oidc_backchannel_logout_refused", {
        error: err.message,
        address: req.client.address,
      });
      reply.header(
        ERROR_CODE_HEADER,
        errorCode(err.kind === "unavailable" ? "oidc_unavailable" : "oidc_refused"),
      );
      return reply
        .code(err.kind === "unavailable" ? 502 : 400)
        .header("cache-control", "no-store")
        .send({ error: "invalid_request", error_description: err.message });
    }
  });
}
