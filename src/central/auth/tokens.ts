import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { InputError } from "../../errors.js";
import { serverNameProblem } from "../../protocol/index.js";
import type { AgentTokenRecord, Storage, TokenRole, TokenUse } from "../storage/store.js";
import type { RateLimiter } from "./rate-limit.js";
import type { AgentTokenCache } from "./token-cache.js";

/**
 * Token format: `srvu_<id>_<secret>` (agent, may upload as one server),
 * `srvv_<id>_<secret>` (viewer, may use the read API) or `srvr_<id>_<secret>`
 * (relay, may write for the servers its glob allows: a Prometheus server or
 * an OpenTelemetry Collector that carries a fleet). `id` is 12 hex chars
 * (public, the lookup key), `secret` 64 hex chars = 256 random bits. Only
 * SHA-256(secret) is stored; a plain hash is enough because the secret is
 * random and long, so there is nothing to brute-force from a stolen hash.
 */
export type { TokenRole };

const PREFIX: Record<TokenRole, string> = { agent: "srvu", viewer: "srvv", relay: "srvr" };
const ROLE_OF_PREFIX: Readonly<Record<string, TokenRole>> = { srvu: "agent", srvv: "viewer", srvr: "relay" };
const TOKEN_PATTERN = /^(srvu|srvv|srvr)_([0-9a-f]{12})_([0-9a-f]{64})$/;

export interface ParsedToken {
  role: TokenRole;
  tokenId: string;
  secret: string;
}

export function parseToken(token: string): ParsedToken | null {
  const m = TOKEN_PATTERN.exec(token);
  if (m === null) return null;
  return { role: ROLE_OF_PREFIX[m[1]!]!, tokenId: m[2]!, secret: m[3]! };
}

export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

/** Constant-time comparison of a presented secret against a stored hash. */
export function secretMatches(secret: string, storedHash: string): boolean {
  const presented = createHash("sha256").update(secret).digest();
  const stored = Buffer.from(storedHash, "hex");
  return stored.length === presented.length && timingSafeEqual(presented, stored);
}

export function newToken(role: TokenRole, name: string): { token: string; record: AgentTokenRecord } {
  const tokenId = randomBytes(6).toString("hex");
  const secret = randomBytes(32).toString("hex");
  return {
    token: `${PREFIX[role]}_${tokenId}_${secret}`,
    record: {
      tokenId,
      server: name,
      secretHash: hashSecret(secret),
      createdAt: Date.now(),
      revokedAt: null,
      lastUsedAt: null,
    },
  };
}

/**
 * A new agent token bound to `server`, not yet stored: the token (shown once)
 * and its record (only the secret's hash). Enrolment stores the record in
 * the transaction that spends the enrolment token's use.
 */
export function newAgentToken(server: string): { token: string; record: AgentTokenRecord } {
  const problem = serverNameProblem(server);
  if (problem !== null) throw new InputError(`server name '${server}': ${problem}`);
  return newToken("agent", server);
}

/** Creates an agent token bound to `server` and returns it; it is shown once and never stored. */
export async function createAgentToken(store: Storage, server: string): Promise<string> {
  const { token, record } = newAgentToken(server);
  await store.tokens.create("agent", record);
  return token;
}

/**
 * Creates a read-API token labelled `name` (who or what uses it); with
 * `groups` (checked against the groups file by parseScopeGroups) it reads
 * only those groups' servers.
 */
export async function createViewerToken(
  store: Storage,
  name: string,
  groups: readonly string[] | null = null,
): Promise<string> {
  const problem = serverNameProblem(name);
  if (problem !== null)
    throw new InputError(`viewer name '${name}': ${problem.replace("server name", "name")}`);
  const { token, record } = newToken("viewer", name);
  await store.tokens.create("viewer", { ...record, groups });
  return token;
}

/** The glob syntax of a relay token's servers: server-name characters and `*`. */
export const SERVERS_GLOB = /^[A-Za-z0-9._*-]{1,200}$/;

/**
 * Creates a relay token labelled `name` that may write for every server whose
 * name matches `servers` (`*` matches any run of characters: `web-*`, `*`).
 */
export async function createRelayToken(store: Storage, name: string, servers: string): Promise<string> {
  const problem = serverNameProblem(name);
  if (problem !== null)
    throw new InputError(`relay name '${name}': ${problem.replace("server name", "name")}`);
  if (!SERVERS_GLOB.test(servers)) {
    throw new InputError(
      `--servers '${servers}': expected a glob of server names (letters, digits, . _ - and *), such as 'web-*' or '*'`,
    );
  }
  const { token, record } = newToken("relay", name);
  await store.tokens.create("relay", { ...record, servers });
  return token;
}

/** Whether a relay token's glob allows `server`. */
export function relayAllows(servers: string, server: string): boolean {
  const pattern = servers.replace(/[.]/g, "\\.").replaceAll("*", ".*");
  return new RegExp(`^${pattern}$`).test(server);
}

export type Authentication =
  | {
      ok: true;
      role: TokenRole;
      tokenId: string;
      name: string;
      servers?: string;
      /** Viewer tokens: the scope's groups; null: the whole fleet. */
      groups?: readonly string[] | null;
    }
  | { ok: false; reason: "missing" | "malformed" | "unknown" | "revoked" | "wrong_role" }
  /** Too many failed authentications from this client address: answered without a lookup. */
  | { ok: false; reason: "throttled"; retryAfterSeconds: number };

/**
 * The per-address limit on failed authentications
 * (SRVUTIL_AUTH_FAILURES_PER_MINUTE), a bucket per client address in `limiter`.
 */
export interface FailedAuthLimit {
  limiter: RateLimiter;
  /** The client address (./client-address.ts). */
  address: string;
}

/**
 * Checks an Authorization header value for the given role. The failure reason
 * is for metrics and logs; clients only ever see 401 (or 429 when throttled).
 *
 * With `cache` (agent tokens only) an active token may come from memory;
 * the caller must then hand the token id to the write that follows, which
 * re-checks it (./token-cache.ts says why that is safe). Such a token passes
 * even while its address is throttled: an agent behind the same NAT as a
 * client guessing tokens keeps uploading.
 *
 * With `failures`, every attempt but a missing header or a cache hit spends
 * one of the client address's allowance before anything is looked up, and a
 * success gives it back: only failures count, and once the address has spent
 * its allowance the answer is `throttled` without a database lookup.
 */
export async function authenticate(
  store: Storage,
  authorization: string | undefined,
  role: TokenRole,
  cache?: AgentTokenCache,
  failures?: FailedAuthLimit,
): Promise<Authentication> {
  if (authorization === undefined || authorization === "") return { ok: false, reason: "missing" };
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization);
  const parsed = m === null ? null : parseToken(m[1]!);
  const cached =
    parsed !== null && parsed.role === role && role === "agent" ? (cache?.get(parsed.tokenId) ?? null) : null;
  if (cached !== null && cached.revokedAt === null && secretMatches(parsed!.secret, cached.secretHash)) {
    noteTokenUse(store, role, cached.tokenId, Date.now());
    return { ok: true, role, tokenId: cached.tokenId, name: cached.server };
  }
  // Reserved before the lookup and given back on success, so that parallel
  // guesses cannot all pass a check made before any of them failed.
  const allowance = failures?.limiter.take(failures.address) ?? { allowed: true };
  if (!allowance.allowed) {
    return { ok: false, reason: "throttled", retryAfterSeconds: allowance.retryAfterSeconds };
  }
  if (parsed === null) return { ok: false, reason: "malformed" };
  if (parsed.role !== role) return { ok: false, reason: "wrong_role" };
  const record = await store.tokens.find(role, parsed.tokenId);
  if (record === null || !secretMatches(parsed.secret, record.secretHash))
    return { ok: false, reason: "unknown" };
  if (record.revokedAt !== null) return { ok: false, reason: "revoked" };
  if (failures !== undefined) failures.limiter.refund(failures.address);
  if (role === "agent") cache?.remember(record);
  noteTokenUse(store, role, record.tokenId, Date.now());
  return {
    ok: true,
    role,
    tokenId: record.tokenId,
    name: record.server,
    ...(record.servers === undefined ? {} : { servers: record.servers }),
    ...(role === "viewer" ? { groups: record.groups ?? null } : {}),
  };
}

/** last_used_at is written at most this often per token: `token list` shows it to the minute. */
export const TOKEN_USE_WRITE_INTERVAL_MS = 60_000;

/** Per store: when each token's last use was last queued (epoch ms), and the uses waiting to be written. */
const tokenUses = new WeakMap<Storage, { written: Map<string, number>; pending: TokenUse[] }>();

/**
 * Records a token's use without slowing ingest: each token at most once a
 * minute, and the uses of one event-loop turn written together in one
 * transaction after the answers went out, not awaited by any request. A
 * failed write (database busy, store closing) only loses those last-use
 * times, never a request.
 */
function noteTokenUse(store: Storage, role: TokenRole, tokenId: string, now: number): void {
  let state = tokenUses.get(store);
  if (state === undefined) {
    state = { written: new Map(), pending: [] };
    tokenUses.set(store, state);
  }
  const key = `${role}:${tokenId}`;
  const last = state.written.get(key);
  if (last !== undefined && now - last < TOKEN_USE_WRITE_INTERVAL_MS) return;
  state.written.set(key, now);
  state.pending.push({ role, tokenId, usedAt: now });
  if (state.pending.length > 1) return; // a flush is already scheduled
  const s = state;
  setImmediate(() => {
    const batch = s.pending;
    s.pending = [];
    store.tokens.recordUses(batch).catch(() => {
      for (const u of batch) s.written.delete(`${u.role}:${u.tokenId}`);
    });
  });
}
