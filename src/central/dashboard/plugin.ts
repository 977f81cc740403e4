import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { registerAdminPages } from "./admin-pages.js";
import {
  csrfRefusal,
  type DashboardContext,
  type DashboardOptions,
  errorPage,
  formField,
  safeNext,
  sendPage,
} from "./context.js";
import { FleetCache } from "./fleet-data.js";
import { registerFleetPage } from "./fleet-page.js";
import { html } from "./html.js";
import { page } from "./layout.js";
import { decoyHash, verifyPassword } from "./password.js";
import { registerReportPages } from "./report-pages.js";
import { registerServerPage } from "./server-page.js";
import {
  LOGIN_CSRF_COOKIE,
  LOGIN_MAX_FAILURES_PER_ADDRESS,
  LOGIN_MAX_FAILURES_PER_USER,
  LOGIN_WINDOW_MS,
  newToken,
  parseCookies,
  Sessions,
  sameToken,
} from "./sessions.js";

/** dist/dashboard of this package, from src/central/dashboard or dist/central/dashboard alike. */
export const DEFAULT_ASSETS_DIR = fileURLToPath(new URL("../../../dist/dashboard/", import.meta.url));

/**
 * Headers of every dashboard answer: scripts only from this origin (no
 * inline script anywhere), no framing, no MIME sniffing, no referrer leaving
 * the site. Styles: our stylesheet, plus inline style attributes that uPlot
 * sets on its own elements.
 */
export const DASHBOARD_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/**
 * The web dashboard as a fastify plugin (encapsulated: its form parser and
 * headers apply to its routes only). Pages: / (fleet), /servers/:name,
 * /reports, /reports/:week, /admin/tokens|users|groups, /login, /logout.
 */
export function dashboardPlugin(options: DashboardOptions) {
  return async (app: FastifyInstance): Promise<void> => {
    const clock = options.clock ?? Date.now;
    const secure = options.tls || (options.publicUrl?.startsWith("https:") ?? false);
    const ctx: DashboardContext = {
      ...options,
      clock,
      assetsDir: options.assetsDir ?? DEFAULT_ASSETS_DIR,
      sessions: new Sessions(options.store.users, clock, secure),
      fleetCache: new FleetCache(options.fleetCacheMs ?? 15_000),
      log: options.log ?? null,
    };

    app.addContentTypeParser(
      "application/x-www-form-urlencoded",
      { parseAs: "string", bodyLimit: 64 * 1024 },
      (_req, body, done) => {
        const out: Record<string, string> = {};
        for (const [k, v] of new URLSearchParams(body as string)) if (!(k in out)) out[k] = v;
        done(null, out);
      },
    );
    app.addHook("onSend", async (_req, reply, payload) => {
      if (reply.getHeader("content-security-policy") === undefined) {
        reply.header("content-security-policy", DASHBOARD_CSP);
      }
      reply.header("x-content-type-options", "nosniff");
      reply.header("x-frame-options", "DENY");
      reply.header("referrer-policy", "same-origin");
      if (reply.getHeader("cache-control") === undefined) reply.header("cache-control", "no-store");
      return payload;
    });

    registerAssets(app, ctx);
    registerLogin(app, ctx);
    registerFleetPage(app, ctx);
    registerServerPage(app, ctx);
    registerReportPages(app, ctx);
    registerAdminPages(app, ctx);
  };
}

const ASSETS: Record<string, string> = {
  "app.js": "text/javascript; charset=utf-8",
  "app.css": "text/css; charset=utf-8",
};

/**
 * The tab icon: three bars, as SVG. Browsers ask for /favicon.ico on every
 * origin whether a page names an icon or not (the archived report.html does
 * not), and a 404 there is an error in every browser console.
 */
const FAVICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#1f3b57"/><rect x="3" y="8" width="2.5" height="5" fill="#8fd19e"/><rect x="6.75" y="5" width="2.5" height="8" fill="#f2c94c"/><rect x="10.5" y="3" width="2.5" height="10" fill="#eb5757"/></svg>`;

function registerAssets(app: FastifyInstance, ctx: DashboardContext): void {
  app.get("/favicon.ico", async (_req, reply) =>
    reply.type("image/svg+xml").header("cache-control", "public, max-age=86400").send(FAVICON_SVG),
  );
  const cache = new Map<string, Buffer>();
  app.get<{ Params: { file: string } }>("/assets/:file", async (req, reply) => {
    const type = ASSETS[req.params.file];
    if (type === undefined) return reply.code(404).type("text/plain").send("no such asset");
    let body = cache.get(req.params.file);
    if (body === undefined) {
      try {
        body = await readFile(path.join(ctx.assetsDir, req.params.file));
      } catch {
        return reply
          .code(404)
          .type("text/plain")
          .send(`dashboard assets are not built: run npm run build (missing ${req.params.file})`);
      }
      cache.set(req.params.file, body);
    }
    return reply.type(type).header("cache-control", "public, max-age=300").send(body);
  });
}

function loginForm(token: string, next: string, message: string | null, name = ""): { value: string } {
  return page({
    title: "Sign in",
    session: null,
    body: html`<div class="login">
<h1>Sign in to srvutil</h1>
${message === null ? "" : html`<p class="notice" role="alert">${message}</p>`}
<form method="post" action="/login">
  <input type="hidden" name="_csrf" value="${token}">
  <input type="hidden" name="next" value="${next}">
  <label for="username">User name</label>
  <input id="username" name="username" autocomplete="username" required value="${name}" autofocus>
  <label for="password">Password</label>
  <input id="password" name="password" type="password" autocomplete="current-password" required>
  <button type="submit">Sign in</button>
</form>
<p class="hint">Users are added with <code>srvutil central user add NAME --role admin|viewer</code>.</p>
</div>`,
  });
}

function registerLogin(app: FastifyInstance, ctx: DashboardContext): void {
  const users = ctx.store.users;
  const showForm = (
    req: FastifyRequest,
    reply: FastifyReply,
    message: string | null,
    status: number,
    name = "",
  ) => {
    const token = newToken();
    ctx.sessions.setCookie(reply, LOGIN_CSRF_COOKIE, token, 3600);
    const next = safeNext(((req.query ?? {}) as Record<string, unknown>).next ?? formField(req, "next"));
    return sendPage(reply, loginForm(token, next, message, name), status);
  };

  app.get("/login", async (req, reply) => {
    if ((await ctx.sessions.current(req)) !== null) return reply.redirect("/", 303);
    return showForm(req, reply, null, 200);
  });

  app.post("/login", async (req, reply) => {
    const cookieToken = parseCookies(req.headers.cookie).get(LOGIN_CSRF_COOKIE);
    const fetchSite = req.headers["sec-fetch-site"];
    if (!sameToken(formField(req, "_csrf"), cookieToken) || fetchSite === "cross-site") {
      return showForm(req, reply, "The sign-in form expired or came from another site. Try again.", 403);
    }
    const name = formField(req, "username").trim().slice(0, 64);
    const password = formField(req, "password");
    const now = ctx.clock();
    const since = now - LOGIN_WINDOW_MS;
    const addressKey = `ip:${req.ip}`;
    const userKey = `user:${name.toLowerCase()}`;
    if (
      (await users.countLoginFailures(userKey, since)) >= LOGIN_MAX_FAILURES_PER_USER ||
      (await users.countLoginFailures(addressKey, since)) >= LOGIN_MAX_FAILURES_PER_ADDRESS
    ) {
      reply.header("retry-after", String(LOGIN_WINDOW_MS / 1000));
      ctx.log?.warn("dashboard.sign_in_throttled", { user: name, address: req.ip });
      return showForm(
        req,
        reply,
        `Too many failed sign-ins. Wait ${LOGIN_WINDOW_MS / 60_000} minutes and try again.`,
        429,
        name,
      );
    }
    const user = name === "" ? null : await users.findUser(name);
    // The same scrypt work whether or not the user exists, so timing does not tell.
    const ok = await verifyPassword(password, user?.passwordHash ?? (await decoyHash()));
    if (user === null || !ok) {
      await users.recordLoginFailure(userKey, now, since);
      await users.recordLoginFailure(addressKey, now, since);
      ctx.log?.warn("dashboard.sign_in_refused", { user: name, address: req.ip });
      return showForm(req, reply, "Wrong user name or password.", 401, name);
    }
    await users.clearLoginFailures(userKey);
    await ctx.sessions.start(reply, user.name);
    ctx.log?.info("dashboard.signed_in", { user: user.name, role: user.role, address: req.ip });
    return reply.redirect(safeNext(formField(req, "next")), 303);
  });

  app.post("/logout", async (req, reply) => {
    const session = await ctx.sessions.current(req);
    if (session !== null) {
      const why = csrfRefusal(ctx, req, session.csrfToken);
      if (why !== null)
        return errorPage(reply, session, 403, "Request refused", `Sign-out refused (${why}).`);
    }
    await ctx.sessions.end(req, reply);
    return reply.redirect("/login", 303);
  });
}
