import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { ActiveSession, SsoSessionFields, UserStore } from "../storage/user-store.js";

export const SESSION_COOKIE = "srvutil_session";
/** Double-submit token of the sign-in form (there is no session to hold it yet). */
export const LOGIN_CSRF_COOKIE = "srvutil_login";

/** A session ends after this long without a request … */
export const SESSION_IDLE_MS = 8 * 3_600_000;
/** … and in any case this long after sign-in. */
export const SESSION_MAX_MS = 7 * 86_400_000;
/** The idle expiry is written back at most this often (not on every request). */
const TOUCH_EVERY_MS = 5 * 60_000;

export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (header === undefined) return out;
  for (const part of header.split(";")) {
    const i = part.indexOf("=");
    if (i <= 0) continue;
    const name = part.slice(0, i).trim();
    const value = part.slice(i + 1).trim();
    if (!out.has(name)) {
      try {
        out.set(name, decodeURIComponent(value));
      } catch {
        // A malformed cookie is ignored, as if it were absent.
      }
    }
  }
  return out;
}

export const sha256 = (value: string): string => createHash("sha256").update(value).digest("hex");
export const newToken = (): string => randomBytes(32).toString("base64url");

/** Key of the digests sameToken compares; per process, it only has to be unknown to clients. */
const COMPARE_KEY = randomBytes(32);

/**
 * Whether a presented token equals the expected one, in constant time.
 * Both sides are reduced to an HMAC first, so whatever arrives (empty,
 * 43 non-ASCII characters whose UTF-8 is longer than the real token, 60 KB,
 * not a string at all) compares two 32-byte digests and never throws.
 */
export function sameToken(presented: unknown, expected: unknown): boolean {
  if (typeof presented !== "string" || typeof expected !== "string") return false;
  if (presented === "" || expected === "") return false;
  const digest = (v: string) => createHmac("sha256", COMPARE_KEY).update(v, "utf8").digest();
  return timingSafeEqual(digest(presented), digest(expected));
}

/**
 * Server-side sessions: the cookie holds a random id, the database its
 * SHA-256 with the user and the CSRF token, so any central instance can
 * answer and signing out (or removing the user) ends the session everywhere.
 */
export class Sessions {
  private readonly cache = new WeakMap<FastifyRequest, ActiveSession | null>();

  constructor(
    private readonly users: UserStore,
    private readonly clock: () => number,
    /** Whether this request's cookies get `Secure` (context.ts, cookiesSecure). */
    private readonly secure: (req: FastifyRequest) => boolean,
  ) {}

  async current(req: FastifyRequest): Promise<ActiveSession | null> {
    if (this.cache.has(req)) return this.cache.get(req) ?? null;
    const id = parseCookies(req.headers.cookie).get(SESSION_COOKIE);
    let session: ActiveSession | null = null;
    if (id !== undefined && id.length >= 32 && id.length <= 64) {
      const now = this.clock();
      session = await this.users.findSession(sha256(id), now);
      if (session !== null && now - session.createdAt > SESSION_MAX_MS) {
        await this.users.deleteSession(session.idHash);
        session = null;
      }
      if (session !== null && session.expiresAt - now < SESSION_IDLE_MS - TOUCH_EVERY_MS) {
        await this.users.touchSession(session.idHash, now + SESSION_IDLE_MS);
      }
    }
    this.cache.set(req, session);
    return session;
  }

  /** A new session for a dashboard user, or for a provider account when `sso` is given. */
  async start(
    req: FastifyRequest,
    reply: FastifyReply,
    user: string,
    sso: SsoSessionFields | null = null,
  ): Promise<void> {
    const id = newToken();
    const now = this.clock();
    // Expired sessions are dropped here, on sign-in, rather than by a timer on every instance.
    await this.users.deleteExpiredSessions(now);
    await this.users.createSession({
      idHash: sha256(id),
      user,
      csrfToken: newToken(),
      createdAt: now,
      expiresAt: now + SESSION_IDLE_MS,
      sso,
    });
    this.setCookie(req, reply, SESSION_COOKIE, id, SESSION_MAX_MS / 1000);
    this.setCookie(req, reply, LOGIN_CSRF_COOKIE, "", 0);
  }

  async end(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const id = parseCookies(req.headers.cookie).get(SESSION_COOKIE);
    if (id !== undefined) await this.users.deleteSession(sha256(id));
    this.cache.set(req, null);
    this.setCookie(req, reply, SESSION_COOKIE, "", 0);
  }

  /**
   * HttpOnly and SameSite=Lax always; Secure unless the request reached the
   * central on loopback over plain HTTP. One Set-Cookie header per call:
   * fastify adds to the set-cookie list, it does not replace it.
   */
  setCookie(
    req: FastifyRequest,
    reply: FastifyReply,
    name: string,
    value: string,
    maxAgeSeconds: number,
  ): void {
    const attrs = [
      `${name}=${encodeURIComponent(value)}`,
      "Path=/",
      "HttpOnly",
      "SameSite=Lax",
      `Max-Age=${Math.floor(maxAgeSeconds)}`,
    ];
    if (this.secure(req)) attrs.push("Secure");
    reply.header("set-cookie", attrs.join("; "));
  }
}
