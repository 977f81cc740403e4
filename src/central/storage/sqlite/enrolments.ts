import type Database from "better-sqlite3";
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
import { type Migration, runMigrations } from "./migrate.js";
import { fromPg, prepared } from "./prepared.js";

/**
 * The "enrolments" migration component. enrolment_tokens: one row per
 * enrolment token (tags as JSON text; only the secret's hash). enrolment_log:
 * one row per server enrolled. The CHECK on uses makes overspending a use
 * impossible whatever a caller does. Column names are PostgreSQL's
 * (../postgres/enrolments.ts).
 */
export const ENROLMENT_MIGRATIONS: readonly Migration[] = [
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
        expires_at INTEGER NOT NULL,
        tags TEXT NOT NULL DEFAULT '{}',
        allow_reenrol INTEGER NOT NULL DEFAULT 0 CHECK (allow_reenrol IN (0, 1)),
        created_by TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        revoked_at INTEGER
      );
      CREATE TABLE enrolment_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        token_id TEXT NOT NULL REFERENCES enrolment_tokens (token_id),
        server TEXT NOT NULL,
        address TEXT NOT NULL,
        agent_token_id TEXT NOT NULL,
        enrolled_at INTEGER NOT NULL
      );
      CREATE INDEX enrolment_log_enrolled ON enrolment_log (enrolled_at);
    `,
  },
];

/**
 * Enrolment tokens on SQLite (the metrics file). A redemption is one
 * BEGIN IMMEDIATE transaction: it holds SQLite's single write lock from the
 * state check to the commit, so parallel redemptions (from this process or
 * another on the same file) run one after the other and each sees the uses
 * the previous one spent.
 */
export class SqliteEnrolmentStore implements EnrolmentStore {
  constructor(private readonly db: Database.Database) {}

  async init(): Promise<void> {
    this.db.transaction(() => runMigrations(this.db, "enrolments", ENROLMENT_MIGRATIONS)).immediate();
  }

  private sql(text: string): Database.Statement {
    return prepared(this.db, text);
  }

  async create(t: EnrolmentTokenRecord): Promise<void> {
    this.sql(fromPg(ENROLMENT_SQL.insertToken)).run(...enrolmentValues(t));
  }

  private findNow(tokenId: string): EnrolmentTokenRecord | null {
    const row = this.sql(`SELECT ${ENROLMENT_COLUMNS} FROM enrolment_tokens WHERE token_id = ?`).get(
      tokenId,
    ) as EnrolmentDbRow | undefined;
    return row === undefined ? null : toEnrolmentRecord(row);
  }

  async find(tokenId: string): Promise<EnrolmentTokenRecord | null> {
    return this.findNow(tokenId);
  }

  async list(): Promise<EnrolmentTokenRecord[]> {
    const rows = this.sql(
      `SELECT ${ENROLMENT_COLUMNS} FROM enrolment_tokens ORDER BY created_at DESC, token_id`,
    ).all() as EnrolmentDbRow[];
    return rows.map(toEnrolmentRecord);
  }

  async revoke(tokenId: string, revokedAt: number): Promise<boolean> {
    return this.sql(fromPg(ENROLMENT_SQL.revokeToken)).run(revokedAt, tokenId).changes === 1;
  }

  async redeem(r: EnrolmentRedemption): Promise<RedeemOutcome> {
    return this.db
      .transaction((): RedeemOutcome => {
        const token = this.findNow(r.tokenId);
        const refusal = redeemRefusal(token, r.now);
        if (refusal !== null) return { ok: false, reason: refusal };
        const enrolled = this.sql(fromPg(ENROLMENT_SQL.enrolled)).get(r.server) !== undefined;
        if (enrolled && !token!.allowReenrol) return { ok: false, reason: "enrolled" };
        const replaced = this.sql(fromPg(ENROLMENT_SQL.revokeAgentTokens)).run(r.now, r.server).changes;
        this.sql(fromPg(ENROLMENT_SQL.spendUse)).run(r.tokenId);
        const a = r.agentToken;
        this.sql(fromPg(ENROLMENT_SQL.insertAgentToken)).run(a.tokenId, r.server, a.secretHash, a.createdAt);
        this.sql(fromPg(ENROLMENT_SQL.log)).run(r.tokenId, r.server, r.address, a.tokenId, r.now);
        return { ok: true, replaced };
      })
      .immediate();
  }

  async log(limit = 1000): Promise<EnrolmentLogEntry[]> {
    const rows = this.sql(fromPg(ENROLMENT_SQL.listLog)).all(limit) as EnrolmentLogDbRow[];
    return rows.map(toEnrolmentLogEntry);
  }
}
