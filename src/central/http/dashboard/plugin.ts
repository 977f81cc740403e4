import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { JsonSchemaToTsProvider } from "@fastify/type-provider-json-schema-to-ts";
import type { FastifyInstance } from "fastify";
import { type ErrorReason, errorCode } from "../../../errors.js";
import { cookiesSecure, type DashboardContext, type DashboardOptions } from "../../dashboard/context.js";
import { FleetCache } from "../../dashboard/fleet-data.js";
import { OidcRelyingParty } from "../../dashboard/oidc.js";
import { Sessions } from "../../dashboard/sessions.js";
import { NO_TAGS } from "../../delivery/groups.js";
import { registerAddServerRoutes } from "./add-server.js";
import { registerAdminRoutes } from "./admin.js";
import { registerAgentUpdateRoutes } from "./agent-updates.js";
import { registerAlertRoutes } from "./alerts.js";
import { ERROR_CODE_HEADER } from "./error-header.js";
import { registerFleetRoutes } from "./fleet.js";
import { registerLogin } from "./login.js";
import { registerOidcRoutes } from "./oidc.js";
import { registerReportRoutes } from "./reports.js";
import { assetParams, type DashboardApp } from "./schemas.js";
import { registerServerRoutes } from "./server.js";

/** dist/dashboard of this package, from src/central/http/dashboard or dist/central/http/dashboard alike. */
export const DEFAULT_ASSETS_DIR = fileURLToPath(new URL("../../../../dist/dashboard/", import.meta.url));

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
 * /reports, /reports/:week, /alerts, /alerts/channels,
 * /admin/add-server, /admin/agent-updates, /admin/tokens|users|groups, /login, /logout,
 * /auth/oidc/login, /auth/oidc/callback and /auth/oidc/backchannel-logout.
 */
export function dashboardPlugin(options: DashboardOptions) {
  return async (untyped: FastifyInstance): Promise<void> => {
    const app: DashboardApp = untyped.withTypeProvider<JsonSchemaToTsProvider>();
    const clock = options.clock ?? Date.now;
    const ctx: DashboardContext = {
      ...options,
      clock,
      assetsDir: options.assetsDir ?? DEFAULT_ASSETS_DIR,
      sessions: new Sessions(options.store.users, clock, (req) => cookiesSecure(options, req)),
      fleetCache: new FleetCache(options.fleetCacheMs ?? 15_000),
      freshRollups: options.freshRollups ?? (async () => 0),
      log: options.log ?? null,
      alerting: options.alerting ?? null,
      missingAgents: options.missingAgents ?? null,
      autoUpdateDefault: options.autoUpdateDefault ?? false,
      oidc: relyingParty(options),
      localLogin: options.signIn?.localLogin ?? true,
      tagsOf: options.tagsOf ?? (() => NO_TAGS),
    };

    // Sign-out redirects to the provider's end-session endpoint, and browsers apply form-action to a form's redirects.
    const csp =
      ctx.oidc === null
        ? DASHBOARD_CSP
        : DASHBOARD_CSP.replace(
            "form-action 'self'",
            `form-action 'self' ${new URL(ctx.oidc.settings.issuer).origin}`,
          );
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
        reply.header("content-security-policy", csp);
      }
      reply.header("x-content-type-options", "nosniff");
      reply.header("x-frame-options", "DENY");
      reply.header("referrer-policy", "same-origin");
      if (reply.getHeader("cache-control") === undefined) reply.header("cache-control", "no-store");
      // A refusal's page carries the stable code in a header (the API's JSON errors also have it in the body).
      const status = reply.statusCode;
      if (status >= 400 && status < 500 && reply.getHeader(ERROR_CODE_HEADER) === undefined) {
        reply.header(ERROR_CODE_HEADER, errorCode(DASHBOARD_ERROR_REASONS[status] ?? "bad_request"));
      }
      return payload;
    });

    // The pages answer bad input with their own page (and its error code),
    // never fastify's JSON 400: what a route's schema does not describe
    // reaches the handler, which reads only the strings (./schemas.ts).
    app.addHook("onRoute", (route) => {
      route.attachValidation = true;
    });
    registerAssets(app, ctx);
    registerLogin(app, ctx);
    registerOidcRoutes(app, ctx);
    registerFleetRoutes(app, ctx);
    registerServerRoutes(app, ctx);
    registerReportRoutes(app, ctx);
    registerAdminRoutes(app, ctx);
    registerAddServerRoutes(app, ctx);
    registerAgentUpdateRoutes(app, ctx);
    registerAlertRoutes(app, ctx);
  };
}

export { ERROR_CODE_HEADER };

function relyingParty(options: DashboardOptions): OidcRelyingParty | null {
  const oidc = options.signIn?.oidc ?? null;
  if (oidc === null) return null;
  // The configuration refuses SRVUTIL_OIDC_ISSUER without SRVUTIL_PUBLIC_URL; a caller that skipped it gets told.
  if (options.publicUrl === null)
    throw new Error("sign-in with OpenID Connect needs the public URL (SRVUTIL_PUBLIC_URL)");
  // A group the groups file lacks matches nothing (accessScope): said once at start, as it is likely a typo.
  const known = new Set(options.groups.map((g) => g.name));
  for (const m of oidc.groupViewers) {
    const unknown = m.groups.filter((g) => !known.has(g));
    if (unknown.length > 0) {
      options.log?.warn("dashboard.oidc_unknown_group", {
        claim_value: m.value,
        groups: unknown,
        note: "SRVUTIL_OIDC_GROUP_VIEWERS names groups the groups file does not have; they match no server",
      });
    }
  }
  return new OidcRelyingParty(oidc, options.publicUrl);
}

/**
 * The code of a dashboard refusal, by its status: the pages say why in
 * words; the code is for scripts and monitoring. 401 is a wrong user name or
 * password, 403 a form without its CSRF token or from another site, or a
 * page above the session's role, 429 the sign-in throttle.
 */
const DASHBOARD_ERROR_REASONS: Readonly<Record<number, ErrorReason>> = {
  400: "bad_request",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  413: "too_large",
  415: "unsupported_media_type",
  429: "auth_throttled",
};

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

function registerAssets(app: DashboardApp, ctx: DashboardContext): void {
  app.get("/favicon.ico", async (_req, reply) =>
    reply.type("image/svg+xml").header("cache-control", "public, max-age=86400").send(FAVICON_SVG),
  );
  const cache = new Map<string, Buffer>();
  app.get("/assets/:file", { schema: { params: assetParams } }, async (req, reply) => {
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
