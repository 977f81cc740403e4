import type { FastifyReply, FastifyRequest } from "fastify";
import type { Tags } from "../../protocol/tags.js";
import type { AlertChannel } from "../alerts/channel-types.js";
import type { AlertsConfig } from "../alerts/config.js";
import { isLoopback } from "../auth/networks.js";
import type { AutomationLog } from "../automation-log.js";
import type { DeliveryGroup } from "../delivery/groups.js";
import type { ReportThresholds } from "../model/report.js";
import type { OidcSettings } from "../oidc-config.js";
import type { Storage } from "../storage/store.js";
import type { ActiveSession } from "../storage/user-store.js";
import type { FleetCache } from "./fleet-data.js";
import { html } from "./html.js";
import { page } from "./layout.js";
import type { OidcRelyingParty } from "./oidc.js";
import { type Sessions, sameToken } from "./sessions.js";

/** What the dashboard needs from the central (built from CentralConfig by dashboardOptions). */
export interface DashboardOptions {
  store: Storage;
  groups: readonly DeliveryGroup[];
  /** SRVUTIL_REPORT_TZ: days and times are shown in it. */
  timeZone: string;
  thresholds: ReportThresholds;
  /** SRVUTIL_PUBLIC_URL: its origin is accepted on state-changing requests. */
  publicUrl: string | null;
  /** The central serves TLS itself. */
  tls: boolean;
  /** How long a resent delivery keeps retrying (SRVUTIL_DELIVERY_RETRY_HOURS). */
  retryForMs: number;
  clock?: () => number;
  /** automation.log: sign-ins, refused sign-ins and every admin action are recorded there. */
  log?: AutomationLog | null;
  /** How long the fleet's last 24 hours are reused per instance (default 15 s; 0: read on every request). */
  fleetCacheMs?: number;
  /** Folder with app.js and app.css (default: dist/dashboard of this package). */
  assetsDir?: string;
  /**
   * Folds recent uploads into the rollups before a page reads them (central
   * serve's RollupMaintainer.freshen), resolving to a number that changes
   * when the rollups may have; default: nothing to fold (always 0).
   */
  freshRollups?: () => Promise<number>;
  /**
   * The alerts of `central serve` (src/central/alerts/setup.ts): the config,
   * its channels (the channels page and its "Send test" button) and the
   * group lookup of silences. Absent or null: /alerts shows what the store
   * holds, and /alerts/channels says no SRVUTIL_ALERTS_CONFIG is set.
   */
  alerting?: DashboardAlerting | null;
  /**
   * The platforms whose agent file the central does not serve
   * (AgentCatalog.missing), named on the Add server page; absent: not said.
   */
  missingAgents?: (() => Promise<readonly string[]>) | null;
  /** SRVUTIL_AGENT_AUTO_UPDATE, the fleet's auto-update when no fleet setting is stored; default off. */
  autoUpdateDefault?: boolean;
  /**
   * How users sign in (SRVUTIL_OIDC_*, SRVUTIL_LOCAL_LOGIN); absent: local
   * passwords only. OpenID Connect needs publicUrl (its redirect URI).
   */
  signIn?: { oidc: OidcSettings | null; localLogin: boolean };
  /**
   * A server's effective tags now (central serve: the current tags, read
   * every minute), for scoped viewers of groups that select by tags;
   * default: none (such a group then shows a scoped viewer nothing).
   */
  tagsOf?: (server: string) => Tags;
}

/** What the alerts pages need of the central's Alerting (its mail transport stays with the service). */
export interface DashboardAlerting {
  config: AlertsConfig;
  channels: ReadonlyMap<string, AlertChannel>;
  groupsOf(server: string): readonly string[];
  /** SRVUTIL_ALERTS_CONFIG, or null (the defaults: no channel). */
  configFile: string | null;
}

export interface DashboardContext
  extends Required<
    Omit<
      DashboardOptions,
      | "assetsDir"
      | "fleetCacheMs"
      | "log"
      | "alerting"
      | "missingAgents"
      | "autoUpdateDefault"
      | "signIn"
      | "tagsOf"
    >
  > {
  autoUpdateDefault: boolean;
  tagsOf: (server: string) => Tags;
  log: AutomationLog | null;
  missingAgents: (() => Promise<readonly string[]>) | null;
  alerting: DashboardAlerting | null;
  sessions: Sessions;
  /** Sign-in with OpenID Connect, or null when it is not configured. */
  oidc: OidcRelyingParty | null;
  /** Whether the password form is offered (SRVUTIL_LOCAL_LOGIN). */
  localLogin: boolean;
  fleetCache: FleetCache;
  assetsDir: string;
}

export type Role = "viewer" | "admin";

export const sendPage = (reply: FastifyReply, markup: { value: string }, status = 200): FastifyReply =>
  reply.code(status).type("text/html; charset=utf-8").send(markup.value);

export function errorPage(
  reply: FastifyReply,
  session: ActiveSession | null,
  status: number,
  title: string,
  message: string,
): FastifyReply {
  return sendPage(
    reply,
    page({
      title,
      session,
      body: html`<h1>${title}</h1><p class="notice">${message}</p><p><a href="/">Back to the fleet</a></p>`,
    }),
    status,
  );
}

const NEXT_BASE = new URL("http://srvutil.invalid/");

/**
 * Where to go after signing in: a path of this site, or "/". The value is
 * resolved with the URL parser, as a browser resolves the Location header,
 * and must stay on the origin: `//host`, `/\host` and `/<TAB>/host` (which
 * the parser reads as `//host`) leave it, and so does a path that the
 * parser normalizes into `//host` (`/..//host`). Control characters and
 * backslashes are refused outright. What is returned is the parser's
 * serialization, percent-encoded, so it is always a valid header value.
 */
export function safeNext(next: unknown): string {
  if (typeof next !== "string" || next.length > 2000 || !next.startsWith("/")) return "/";
  if (hasControlOrBackslash(next)) return "/";
  let url: URL;
  try {
    url = new URL(next, NEXT_BASE);
  } catch {
    return "/";
  }
  const path = url.pathname + url.search + url.hash;
  if (url.origin !== NEXT_BASE.origin || !path.startsWith("/") || /^\/[/\\]/.test(path)) return "/";
  return path;
}

function hasControlOrBackslash(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f || code === 0x5c) return true;
  }
  return false;
}

/**
 * Whether this request's cookies are `Secure`: always, except when the
 * browser reached the central directly on loopback over plain HTTP (the
 * demo, or a browser on the central's own machine). A request through a
 * proxy (it carries X-Forwarded-For or Forwarded) is never taken for a
 * loopback one, whatever the proxy's own address.
 */
export function cookiesSecure(
  options: Pick<DashboardOptions, "tls" | "publicUrl">,
  req: FastifyRequest,
): boolean {
  if (options.tls || (options.publicUrl?.startsWith("https:") ?? false)) return true;
  return !(isLoopback(req.client.peer) && !req.client.forwarded);
}

/** A browser on another machine over plain HTTP: it drops the Secure cookies, so sign-in cannot work. */
export function cookiesDropped(options: Pick<DashboardOptions, "tls">, req: FastifyRequest): boolean {
  return !options.tls && !req.client.forwarded && !isLoopback(req.client.peer);
}

/**
 * The session for a page or action, or an answer already sent: no session →
 * sign-in (GET) or 403 (anything else); a viewer on an admin page → 403.
 */
export async function requireRole(
  ctx: DashboardContext,
  req: FastifyRequest,
  reply: FastifyReply,
  role: Role,
): Promise<ActiveSession | null> {
  const session = await ctx.sessions.current(req);
  if (session === null) {
    if (req.method === "GET" || req.method === "HEAD") {
      reply.redirect(`/login?next=${encodeURIComponent(req.url)}`, 303);
    } else {
      errorPage(reply, null, 403, "Not signed in", "Sign in first.");
    }
    return null;
  }
  if (role === "admin" && session.role !== "admin") {
    errorPage(reply, session, 403, "Administrators only", "This page needs the admin role.");
    return null;
  }
  return session;
}

/**
 * A state-changing request: the session's CSRF token must be in the form,
 * and a browser's Origin (or Sec-Fetch-Site) must say it came from this site.
 */
export function csrfRefusal(
  ctx: DashboardContext,
  req: FastifyRequest,
  form: FormBody,
  expected: string,
): string | null {
  const fetchSite = req.headers["sec-fetch-site"];
  if (fetchSite === "cross-site" || fetchSite === "same-site") return "cross-site request";
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== "null" && !allowedOrigins(ctx, req).has(origin)) {
    return `origin ${origin.slice(0, 100)} is not this site`;
  }
  if (origin === "null") return "opaque origin";
  if (!sameToken(form?._csrf, expected)) return "missing or wrong CSRF token";
  return null;
}

function allowedOrigins(ctx: DashboardContext, req: FastifyRequest): Set<string> {
  const set = new Set<string>();
  if (req.headers.host !== undefined) set.add(`${req.protocol}://${req.headers.host}`);
  if (ctx.publicUrl !== null) set.add(new URL(ctx.publicUrl).origin);
  return set;
}

/** requireRole + CSRF check, for POST handlers. */
export async function requireAction(
  ctx: DashboardContext,
  req: FastifyRequest,
  reply: FastifyReply,
  role: Role,
  form: FormBody,
): Promise<ActiveSession | null> {
  const session = await requireRole(ctx, req, reply, role);
  if (session === null) return null;
  const why = csrfRefusal(ctx, req, form, session.csrfToken);
  if (why !== null) {
    errorPage(
      reply,
      session,
      403,
      "Request refused",
      `This request was refused (${why}). Reload the page and try again.`,
    );
    return null;
  }
  return session;
}

/**
 * A form post's fields, as a route's body schema types them
 * (src/central/http/dashboard/schemas.ts). The schema refuses nothing
 * (attachValidation): a post without a form has no body, so a field may be
 * absent or, in principle, not a string; the readers below take only strings.
 */
export type FormBody = { readonly [field: string]: unknown } | undefined;

/** A form field's value; "" when the post has no such field or no form. */
export function formField(form: FormBody, name: string): string {
  const v = form?.[name];
  return typeof v === "string" ? v : "";
}
