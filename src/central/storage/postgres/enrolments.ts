import type pg from "pg";
import {
  ENROLMENT_COLUMNS,
  type EnrolmentDbRow,
  type EnrolmentLogDbRow,
  type EnrolmentLogEntry,
  type EnrolmentRedemption,
  type EnrolmentStore,
  type EnrolmentTokenRecord,
  type RedeemOutcome,
  redeemRefusal,
  toEnrolmentLogEntry,
  toEnrolmentRecord,
} from "../enrolment-store.js";
import { type Migration, runPgMigrations } from "./migrate.js";
import { inTransaction } from "./transaction.js";

/** The "enrolments" migrations for PostgreSQL: SQLite's tables (../sqlite/enrolments.ts), epoch-ms BIGINTs. */
const PG_ENROLMENT_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "enrolment tokens and the enrolment log",
    sql: `
      CREATE TABLE enrolment_tokens (
        token_id TEXT PRIMARY KEY,
        secret_hash TEXT NOT NULL,
        servers TEXT NOT NULL,
        max_uses INTEGER NOT NULL CHECK (max_uses >= 1),
        uses INTEGER NOT NULL DEFAULT 0 CHECK (uses >= 0 AND uses <= max_uses),
        expires_at BIGINT NOT NULL,
        tags TEXT NOT NULL DEFAULT '{}',
        allow_reenrol BOOLEAN NOT NULL DEFAULT FALSE,
        created_by TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        revoked_at BIGINT
      );
      CREATE TABLE enrolment_log (
        id BIGSERIAL PRIMARY KEY,
        token_id TEXT NOT NULL REFERENCES enrolment_tokens (token_id),
        server TEXT NOT NULL,
        address TEXT NOT NULL,
        agent_token_id TEXT NOT NULL,
        enrolled_at BIGINT NOT NULL
      );
      CREATE INDEX enrolment_log_enrolled ON enrolment_log (enrolled_at);
    `,
  },
];

/**
 * Enrolment tokens on PostgreSQL, shared by every instance. A redemption
 * first takes a transaction-scoped advisory lock on the server name (two
 * tokens cannot enrol the same new name at once), then locks the token's row
 * (SELECT … FOR UPDATE): parallel redemptions of one token queue on that row
 * and each reads the uses its predecessor committed. The locks are always
 * taken in this order, so redemptions cannot deadlock each other.
 */
export class PgEnrolmentStore implements EnrolmentStore {
  constructor(private readonly pool: pg.Pool) {}

  async init(): Promise<void> {
    await runPgMigrations(this.pool, "enrolments", PG_ENROLMENT_MIGRATIONS);
  }

  async create(t: EnrolmentTokenRecord): Promise<void> {
    await this.pool.query(
      `INSERT INTO enrolment_tokens (${ENROLMENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
      [
        t.tokenId,
        t.secretHash,
        t.servers,
        t.maxUses,
        t.uses,
        t.expiresAt,
        JSON.stringify(t.tags),
        t.allowReenrol,
        t.createdBy,
        t.createdAt,
        t.revokedAt,
      ],
    );
  }

  async find(tokenId: string): Promise<EnrolmentTokenRecord | null> {
    const r = await this.pool.query<EnrolmentDbRow>(
      `SELECT ${ENROLMENT_COLUMNS} FROM enrolment_tokens WHERE token_id = $1`,
      [tokenId],
    );
    return r.rows[0] === undefined ? null : toEnrolmentRecord(r.rows[0]);
  }

  async list(): Promise<EnrolmentTokenRecord[]> {
    const r = await this.pool.query<EnrolmentDbRow>(
      `SELECT ${ENROLMENT_COLUMNS} FROM enrolment_tokens ORDER BY created_at DESC, token_id COLLATE "C"`,
    );
    return r.rows.map(toEnrolmentRecord);
  }

  async revoke(tokenId: string, revokedAt: number): Promise<boolean> {
    const r = await this.pool.query(
      "UPDATE enrolment_tokens SET revoked_at = $1 WHERE token_id = $2 AND revoked_at IS NULL",
      [revokedAt, tokenId],
    );
    return r.rowCount === 1;
  }

  async redeem(r: EnrolmentRedemption): Promise<RedeemOutcome> {
    return inTransaction(this.pool, async (client): Promise<RedeemOutcome> => {
      await client.query("SELECT pg_advisory_xact_lock(hashtext('srvutil-enrol:' || $1))", [r.server]);
      const row = await client.query<EnrolmentDbRow>(
        `SELECT ${ENROLMENT_COLUMNS} FROM enrolment_tokens WHERE token_id = $1 FOR UPDATE`,
        [r.tokenId],
      );
      const token = row.rows[0] === undefined ? null : toEnrolmentRecord(row.rows[0]);
      const refusal = redeemRefusal(token, r.now);
      if (refusal !== null) return { ok: false, reason: refusal };
      const enrolled = await client.query(
        "SELECT 1 FROM agent_tokens WHERE server = $1 AND revoked_at IS NULL LIMIT 1",
        [r.server],
      );
      if (enrolled.rowCount === 1 && !token!.allowReenrol) return { ok: false, reason: "enrolled" };
      const replaced = await client.query(
        "UPDATE agent_tokens SET revoked_at = $1 WHERE server = $2 AND revoked_at IS NULL",
        [r.now, r.server],
      );
      await client.query("UPDATE enrolment_tokens SET uses = uses + 1 WHERE token_id = $1", [r.tokenId]);
      const a = r.agentToken;
      await client.query(
        "INSERT INTO agent_tokens (token_id, server, secret_hash, created_at, revoked_at) VALUES ($1, $2, $3, $4, NULL)",
        [a.tokenId, r.server, a.secretHash, a.createdAt],
      );
      await client.query(
        "INSERT INTO enrolment_log (token_id, server, address, agent_token_id, enrolled_at) VALUES ($1, $2, $3, $4, $5)",
        [r.tokenId, r.server, r.address, a.tokenId, r.now],
      );
      return { ok: true, replaced: replaced.rowCount ?? 0 };
    });
  }

  async log(limit = 1000): Promise<EnrolmentLogEntry[]> {
    const r = await this.pool.query<EnrolmentLogDbRow>(
      "SELECT token_id, server, address, agent_token_id, enrolled_at FROM enrolment_log ORDER BY enrolled_at DESC, id DESC LIMIT $1",
      [limit],
    );
    return r.rows.map(toEnrolmentLogEntry);
  }
}
