import type { RateLimiter } from "../auth/rate-limit.js";
import { authenticate, type FailedAuthLimit, parseToken } from "../auth/tokens.js";
import type { InteropWriter } from "../ingest/interop/point-group.js";
import type { InteropSink } from "../ingest/interop/sink.js";
import type { Storage } from "../storage/store.js";
import { tooManyFailures } from "./agent-auth.js";
import { HttpError } from "./http-error.js";

/** The OpenAPI security of every push route: an agent or a relay token, as Bearer or as Basic's password. */
export const PUSH_SECURITY: { [scheme: string]: string[] }[] = [
  { agentToken: [] },
  { relayToken: [] },
  { tokenAsBasicPassword: [] },
];

/** Where each foreign input finds the server name (config.interop; docs/integrations.md). */
export interface InteropLabels {
  /** remote_write and scrape series: default `instance`, taken without its port. */
  prometheusServerLabel: string;
  /** OTLP resource attribute: default `host.name`. */
  otlpServerAttribute: string;
  /** Telegraf tag: default `host`. */
  telegrafServerTag: string;
}

export const DEFAULT_INTEROP_LABELS: InteropLabels = {
  prometheusServerLabel: "instance",
  otlpServerAttribute: "host.name",
  telegrafServerTag: "host",
};

/** What every foreign-input route plugin (remote_write, OTLP, Telegraf, collectd) is registered with. */
export interface InteropRouteDeps {
  store: Storage;
  sink: InteropSink;
  labels: InteropLabels;
  /** Cap on a body both on the wire and after decompression (SRVUTIL_MAX_BODY_BYTES). */
  maxBodyBytes: number;
  /** Failed authentications per client address (SRVUTIL_AUTH_FAILURES_PER_MINUTE). */
  authFailures: RateLimiter;
}

/**
 * The writer behind a foreign input's request (Prometheus remote_write,
 * OTLP, Telegraf, collectd): an agent token (its own server only) or a relay
 * token (the servers its glob allows). Clients that speak only HTTP Basic
 * (collectd's User/Password, Telegraf's username/password) send the token as
 * the password; the user name is not read. Every failure is the one 401
 * (or 429 when the client address failed too often), as on the CSV route.
 */
export async function requireInteropWriter(
  store: Storage,
  authorization: string | undefined,
  failures?: FailedAuthLimit,
): Promise<InteropWriter> {
  const token = presentedToken(authorization);
  const role = token === null ? null : parseToken(token)?.role;
  // A viewer token (or none) is checked as an agent token: the same answer as any unknown token.
  const asRole = role === "relay" ? "relay" : "agent";
  const auth = await authenticate(
    store,
    token === null ? authorization : `Bearer ${token}`,
    asRole,
    undefined,
    failures,
  );
  if (!auth.ok) throw auth.reason === "throttled" ? tooManyFailures(auth) : writerUnauthorized();
  if (auth.role === "relay") {
    return { kind: "relay", tokenId: auth.tokenId, name: auth.name, servers: auth.servers ?? "" };
  }
  return { kind: "agent", tokenId: auth.tokenId, server: auth.name };
}

/** The token of `Bearer TOKEN` or of HTTP Basic's password; null when the header holds neither. */
export function presentedToken(authorization: string | undefined): string | null {
  if (authorization === undefined) return null;
  const bearer = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization);
  if (bearer !== null) return bearer[1]!;
  const basic = /^Basic[ ]+([A-Za-z0-9+/=]{1,1024})\s*$/i.exec(authorization);
  if (basic === null) return null;
  const decoded = Buffer.from(basic[1]!, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  return colon === -1 ? null : decoded.slice(colon + 1);
}

/** The 401 of every foreign-input route. */
export function writerUnauthorized(): HttpError {
  return new HttpError(
    401,
    "unauthorized",
    "a valid agent or relay token is required: Authorization: Bearer srvu_…|srvr_…, or HTTP Basic with the token as the password " +
      "(create one with `srvutil central token add NAME --role relay --servers 'GLOB'`)",
    { "www-authenticate": 'Bearer realm="srvutil", Basic realm="srvutil"' },
  );
}
