import type { AgentTokenRecord } from "./token-store.js";

/**
 * Enrolment tokens (docs/enrol.md): a secret an admin hands to new servers so
 * that each can fetch its own agent token once (`agent install --enrol`),
 * and the log of who enrolled with which. SQLite: ./sqlite/enrolments.ts;
 * PostgreSQL: ./postgres/enrolments.ts.
 *
 * `redeem` is the one write of an enrolment: it re-checks the token's state,
 * spends one use, creates the server's agent token and logs it, in one
 * transaction that serializes with every other redemption of the same token
 * and of the same server name. Two parallel enrolments with a token that has
 * one use left: exactly one wins, and the loser changes nothing.
 */
export interface EnrolmentStore {
  create(token: EnrolmentTokenRecord): Promise<void>;
  find(tokenId: string): Promise<EnrolmentTokenRecord | null>;
  /** Every enrolment token, newest first. */
  list(): Promise<EnrolmentTokenRecord[]>;
  /** Revokes an active token; false when there is none with that id (unknown or revoked already). */
  revoke(tokenId: string, revokedAt: number): Promise<boolean>;
  redeem(redemption: EnrolmentRedemption): Promise<RedeemOutcome>;
  /** Enrolments newest first. */
  log(limit?: number): Promise<EnrolmentLogEntry[]>;
}

export interface EnrolmentTokenRecord {
  /** Public part of the token, the lookup key (12 hex digits). */
  tokenId: string;
  /** Hex SHA-256 of the secret part; the secret is never stored. */
  secretHash: string;
  /** Glob of the server names it may enrol (`*` any run of characters). */
  servers: string;
  maxUses: number;
  uses: number;
  /** Epoch ms; the token is refused from this instant on. */
  expiresAt: number;
  /** Tags given to every server it enrols (kept for the tags feature; unused for now). */
  tags: Readonly<Record<string, string>>;
  /** May enrol a name that already has an active agent token (replacing that token). */
  allowReenrol: boolean;
  createdBy: string;
  createdAt: number;
  revokedAt: number | null;
}

export interface EnrolmentRedemption {
  tokenId: string;
  server: string;
  /** The client address the request came from (for the log). */
  address: string;
  now: number;
  /** The agent token to create for `server` (its secret is only ever in the answer). */
  agentToken: AgentTokenRecord;
}

export type RedeemOutcome =
  /** `replaced`: active agent tokens of the name that were revoked (re-enrolment). */
  | { ok: true; replaced: number }
  | { ok: false; reason: "unknown" | "revoked" | "expired" | "used_up" | "enrolled" };

export interface EnrolmentLogEntry {
  tokenId: string;
  server: string;
  address: string;
  /** The agent token created for the server. */
  agentTokenId: string;
  enrolledAt: number;
}

/** An enrolment token's state at `now`, for lists and messages. */
export function enrolmentState(
  t: EnrolmentTokenRecord,
  now: number,
): "active" | "revoked" | "expired" | "used up" {
  if (t.revokedAt !== null) return "revoked";
  if (t.uses >= t.maxUses) return "used up";
  if (now >= t.expiresAt) return "expired";
  return "active";
}

/** The row of both backends (SQLite gives allow_reenrol as 0/1). */
export interface EnrolmentDbRow {
  token_id: string;
  secret_hash: string;
  servers: string;
  max_uses: number;
  uses: number;
  expires_at: number;
  tags: string;
  allow_reenrol: number | boolean;
  created_by: string;
  created_at: number;
  revoked_at: number | null;
}

export const ENROLMENT_COLUMNS =
  "token_id, secret_hash, servers, max_uses, uses, expires_at, tags, allow_reenrol, created_by, created_at, revoked_at";

export function toEnrolmentRecord(r: EnrolmentDbRow): EnrolmentTokenRecord {
  return {
    tokenId: r.token_id,
    secretHash: r.secret_hash,
    servers: r.servers,
    maxUses: Number(r.max_uses),
    uses: Number(r.uses),
    expiresAt: Number(r.expires_at),
    tags: JSON.parse(r.tags) as Record<string, string>,
    allowReenrol: r.allow_reenrol === true || r.allow_reenrol === 1,
    createdBy: r.created_by,
    createdAt: Number(r.created_at),
    revokedAt: r.revoked_at === null ? null : Number(r.revoked_at),
  };
}

export interface EnrolmentLogDbRow {
  token_id: string;
  server: string;
  address: string;
  agent_token_id: string;
  enrolled_at: number;
}

export function toEnrolmentLogEntry(r: EnrolmentLogDbRow): EnrolmentLogEntry {
  return {
    tokenId: r.token_id,
    server: r.server,
    address: r.address,
    agentTokenId: r.agent_token_id,
    enrolledAt: Number(r.enrolled_at),
  };
}

/** Why a redemption of `t` at `now` is refused before the server name is looked at, or null. */
export function redeemRefusal(
  t: EnrolmentTokenRecord | null,
  now: number,
): Extract<RedeemOutcome, { ok: false }>["reason"] | null {
  if (t === null) return "unknown";
  if (t.revokedAt !== null) return "revoked";
  if (now >= t.expiresAt) return "expired";
  if (t.uses >= t.maxUses) return "used_up";
  return null;
}

/**
 * The values of an INSERT into enrolment_tokens, in ENROLMENT_COLUMNS order.
 * allow_reenrol as 0/1: SQLite's column is an integer, and PostgreSQL's
 * BOOLEAN reads '1' and '0' as true and false.
 */
export function enrolmentValues(t: EnrolmentTokenRecord): (string | number | null)[] {
  return [
    t.tokenId,
    t.secretHash,
    t.servers,
    t.maxUses,
    t.uses,
    t.expiresAt,
    JSON.stringify(t.tags),
    t.allowReenrol ? 1 : 0,
    t.createdBy,
    t.createdAt,
    t.revokedAt,
  ];
}

/**
 * The statements both backends run, with PostgreSQL's `$N` placeholders
 * (SQLite's store converts them with fromPg). A redemption runs enrolled …
 * log in one transaction, under each backend's own locks.
 */
export const ENROLMENT_SQL = {
  insertToken: `INSERT INTO enrolment_tokens (${ENROLMENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
  enrolled: "SELECT 1 FROM agent_tokens WHERE server = $1 AND revoked_at IS NULL LIMIT 1",
  revokeAgentTokens: "UPDATE agent_tokens SET revoked_at = $1 WHERE server = $2 AND revoked_at IS NULL",
  spendUse: "UPDATE enrolment_tokens SET uses = uses + 1 WHERE token_id = $1",
  insertAgentToken:
    "INSERT INTO agent_tokens (token_id, server, secret_hash, created_at, revoked_at) VALUES ($1, $2, $3, $4, NULL)",
  log: "INSERT INTO enrolment_log (token_id, server, address, agent_token_id, enrolled_at) VALUES ($1, $2, $3, $4, $5)",
  revokeToken: "UPDATE enrolment_tokens SET revoked_at = $1 WHERE token_id = $2 AND revoked_at IS NULL",
  listLog: `SELECT token_id, server, address, agent_token_id, enrolled_at FROM enrolment_log
    ORDER BY enrolled_at DESC, id DESC LIMIT $1`,
} as const;
