import type pg from "pg";
import {
  ENROLMENT_COLUMNS,
  ENROLMENT_SQL,
  type EnrolmentDbRow,
  type EnrolmentLogDbRow,
  type EnrolmentLogEntry,
  type EnrolmentRedemption,
  type EnrolmentStore,
  type EnrolmentTokenRecord,
  enrolmentValues,
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
    await this.pool.query(ENROLMENT_SQL.insertToken, enrolmentValues(t));
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
    const r = await this.pool.query(ENROLMENT_SQL.revokeToken, [revokedAt, tokenId]);
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
      const enrolled = await client.query(ENROLMENT_SQL.enrolled, [r.server]);
      if (enrolled.rowCount === 1 && !token!.allowReenrol) return { ok: false, reason: "enrolled" };
      const replaced = await client.query(ENROLMENT_SQL.revokeAgentTokens, [r.now, r.server]);
      await client.query(ENROLMENT_SQL.spendUse, [r.tokenId]);
      const a = r.agentToken;
      await client.query(ENROLMENT_SQL.insertAgentToken, [a.tokenId, r.server, a.secretHash, a.createdAt]);
      await client.query(ENROLMENT_SQL.log, [r.tokenId, r.server, r.address, a.tokenId, r.now]);
      return { ok: true, replaced: replaced.rowCount ?? 0 };
    });
  }

  async log(limit = 1000): Promise<EnrolmentLogEntry[]> {
    const r = await this.pool.query<EnrolmentLogDbRow>(ENROLMENT_SQL.listLog, [limit]);
    return r.rows.map(toEnrolmentLogEntry);
  }
}
