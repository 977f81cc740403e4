import type { FastifyReply, FastifyRequest } from "fastify";
import type { AutomationLog } from "../automation-log.js";
import type { DeliveryGroup } from "../delivery/groups.js";
import type { ReportThresholds } from "../model/report.js";
import type { Storage } from "../storage/store.js";
import type { ActiveSession } from "../storage/user-store.js";
import type { FleetCache } from "./fleet-data.js";
import { html } from "./html.js";
import { page } from "./layout.js";
import { type Sessions, sameToken } from "./sessions.js";

/** What the dashboard needs from the central (built from CentralConfig by dashboardOptions). */
export interface DashboardOptions {
  store: Storage;
  groups: readonly DeliveryGroup[];
  /** SRVUTIL_REPORT_TZ: days and times are shown in it. */
  timeZone: string;
  thresholds: ReportThresholds;
  /** SRVUTIL_PUBLIC_URL: its origin is accepted on state-changing requests; https makes cookies Secure. */
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
}

export interface DashboardContext
  extends Required<Omit<DashboardOptions, "assetsDir" | "fleetCacheMs" | "log">> {
  log: AutomationLog | null;
  sessions: Sessions;
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

/** A local path to go back to after signing in; anything else (another site, `//host`) becomes `/`. */
export function safeNext(next: unknown): string {
  if (typeof next !== "string" || !next.startsWith("/") || next.startsWith("//") || next.includes("\\"))
    return "/";
  return next.slice(0, 2000);
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
export function csrfRefusal(ctx: DashboardContext, req: FastifyRequest, expected: string): string | null {
  const fetchSite = req.headers["sec-fetch-site"];
  if (fetchSite === "cross-site" || fetchSite === "same-site") return "cross-site request";
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== "null" && !allowedOrigins(ctx, req).has(origin)) {
    return `origin ${origin.slice(0, 100)} is not this site`;
  }
  if (origin === "null") return "opaque origin";
  const body = (req.body ?? {}) as Record<string, unknown>;
  const token = typeof body._csrf === "string" ? body._csrf : undefined;
  if (!sameToken(token, expected)) return "missing or wrong CSRF token";
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
): Promise<ActiveSession | null> {
  const session = await requireRole(ctx, req, reply, role);
  if (session === null) return null;
  const why = csrfRefusal(ctx, req, session.csrfToken);
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

export function formField(req: FastifyRequest, name: string): string {
  const v = ((req.body ?? {}) as Record<string, unknown>)[name];
  return typeof v === "string" ? v : "";
}
