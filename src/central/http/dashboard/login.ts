import type { FastifyReply, FastifyRequest } from "fastify";
import { errorCode } from "../../../errors.js";
import {
  cookiesDropped,
  csrfRefusal,
  type DashboardContext,
  errorPage,
  formField,
  safeNext,
  sendPage,
} from "../../dashboard/context.js";
import { loginForm, PLAIN_HTTP_WARNING } from "../../dashboard/login-page.js";
import { releaseLoginAttempt, reserveLoginAttempt } from "../../dashboard/login-throttle.js";
import { CONTROL_CHARACTER, decoyHash, verifyPassword } from "../../dashboard/password.js";
import { LOGIN_CSRF_COOKIE, newToken, parseCookies, sameToken } from "../../dashboard/sessions.js";
import { ERROR_CODE_HEADER } from "./error-header.js";
import { csrfOnlyForm, type DashboardApp, loginQuery, signInForm } from "./schemas.js";

/** GET and POST /login, POST /logout. */
export function registerLogin(app: DashboardApp, ctx: DashboardContext): void {
  const users = ctx.store.users;
  const showForm = (
    req: FastifyRequest,
    reply: FastifyReply,
    /** Where to go after signing in, as asked (safeNext keeps it on this site). */
    askedNext: unknown,
    message: string | null,
    status: number,
    name = "",
  ) => {
    const token = newToken();
    ctx.sessions.setCookie(req, reply, LOGIN_CSRF_COOKIE, token, 3600);
    const next = safeNext(askedNext);
    const warning = cookiesDropped(ctx, req) ? PLAIN_HTTP_WARNING : null;
    const provider = ctx.oidc?.settings.providerName ?? null;
    return sendPage(
      reply,
      loginForm({ token, next, message, warning, name, provider, localLogin: ctx.localLogin }),
      status,
    );
  };

  app.get("/login", { schema: { querystring: loginQuery } }, async (req, reply) => {
    if ((await ctx.sessions.current(req)) !== null) return reply.redirect("/", 303);
    return showForm(req, reply, req.query.next, null, 200);
  });

  const signInSchema = { querystring: loginQuery, body: signInForm };
  app.post("/login", { schema: signInSchema }, async (req, reply) => {
    const form = req.body;
    if (!ctx.localLogin) {
      // SRVUTIL_LOCAL_LOGIN=off: no password is checked, whatever the form holds.
      reply.header(ERROR_CODE_HEADER, errorCode("local_login_off"));
      ctx.log?.warn("dashboard.sign_in_refused", { reason: "local_login_off", address: req.client.address });
      return showForm(
        req,
        reply,
        req.query.next,
        "Sign-in with a password is turned off here (SRVUTIL_LOCAL_LOGIN=off).",
        403,
      );
    }
    // Where to go next: the query's next first, then the form's hidden field.
    const askedNext = req.query.next ?? formField(form, "next");
    const cookieToken = parseCookies(req.headers.cookie).get(LOGIN_CSRF_COOKIE);
    const fetchSite = req.headers["sec-fetch-site"];
    if (!sameToken(formField(form, "_csrf"), cookieToken) || fetchSite === "cross-site") {
      return showForm(
        req,
        reply,
        askedNext,
        "The sign-in form expired or came from another site. Try again.",
        403,
      );
    }
    const typed = formField(form, "username").trim();
    const address = req.client.address;
    if (CONTROL_CHARACTER.test(typed)) {
      // Refused before the throttle and the user lookup: both are queries, and
      // PostgreSQL refuses a NUL in one (that was a 500). No password is checked.
      ctx.log?.warn("dashboard.sign_in_refused", { reason: "control_character", address });
      return showForm(req, reply, askedNext, "A user name has no control characters. Type it again.", 400);
    }
    const name = typed.slice(0, 64);
    const password = formField(form, "password");
    const now = ctx.clock();
    // Counted before the password is checked: parallel guesses cannot all get through.
    const reservation = await reserveLoginAttempt(users, name, address, now);
    if (!reservation.allowed) {
      const seconds = Math.ceil(reservation.retryAfterMs / 1000);
      reply.header("retry-after", String(seconds));
      ctx.log?.warn("dashboard.sign_in_throttled", { user: name, address, retry_after_s: seconds });
      return showForm(
        req,
        reply,
        askedNext,
        `Too many failed sign-ins from this address. Wait ${waitText(seconds)} and try again.`,
        429,
        name,
      );
    }
    const user = name === "" ? null : await users.findUser(name);
    // The same scrypt work whether or not the user exists, so timing does not tell.
    const ok = await verifyPassword(password, user?.passwordHash ?? (await decoyHash()));
    if (user === null || !ok) {
      ctx.log?.warn("dashboard.sign_in_refused", { user: name, address });
      return showForm(req, reply, askedNext, "Wrong user name or password.", 401, name);
    }
    await releaseLoginAttempt(users, reservation.keys, now);
    await ctx.sessions.start(req, reply, user.name);
    ctx.log?.info("dashboard.signed_in", { user: user.name, role: user.role, address });
    return reply.redirect(safeNext(formField(form, "next")), 303);
  });

  app.post("/logout", { schema: { body: csrfOnlyForm } }, async (req, reply) => {
    const session = await ctx.sessions.current(req);
    if (session !== null) {
      const why = csrfRefusal(ctx, req, req.body, session.csrfToken);
      if (why !== null)
        return errorPage(reply, session, 403, "Request refused", `Sign-out refused (${why}).`);
    }
    await ctx.sessions.end(req, reply);
    // A provider's session ends too where the provider offers RP-initiated logout.
    if (session?.sso != null && ctx.oidc !== null) {
      try {
        const url = await ctx.oidc.endSessionUrl(session.sso.idToken);
        if (url !== null) return reply.redirect(url.href, 303);
      } catch (err) {
        ctx.log?.warn("dashboard.oidc_logout_failed", { user: session.user, error: (err as Error).message });
      }
    }
    return reply.redirect("/login", 303);
  });
}

function waitText(seconds: number): string {
  if (seconds < 90) return `${seconds} second${seconds === 1 ? "" : "s"}`;
  return `${Math.ceil(seconds / 60)} minutes`;
}
