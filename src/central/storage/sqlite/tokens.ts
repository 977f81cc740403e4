import type Database from "better-sqlite3";
import { type TokenDbRow, toTokenRecord } from "../db-rows.js";
import { TOKEN_TABLES, tokenSql, tokenValues } from "../token-rows.js";
import type { AgentTokenRecord, TokenRole, TokenStore, TokenUse } from "../token-store.js";
import { fromPg } from "./prepared.js";

function prepareRole(db: Database.Database, role: TokenRole) {
  const { table } = TOKEN_TABLES[role];
  const sql = tokenSql(role, "");
  const p = (text: string) => db.prepare(fromPg(text));
  return {
    insert: p(sql.insert),
    find: p(sql.find),
    hasActive: p(sql.hasActive),
    list: p(sql.list),
    revokeAll: p(sql.revokeAll),
    revokeOne: p(sql.revokeOne),
    recordUse: db.prepare(
      `UPDATE ${table} SET last_used_at = ? WHERE token_id = ? AND (last_used_at IS NULL OR last_used_at < ?)`,
    ),
  };
}

type RoleStatements = ReturnType<typeof prepareRole>;

/** Agent and viewer tokens on SQLite (tables created by the metrics migrations, ./schema.ts). */
export class SqliteTokenStore implements TokenStore {
  private statements: Record<TokenRole, RoleStatements> | null = null;

  constructor(private readonly db: Database.Database) {}

  /** Prepares the statements; called by SqliteStore.init once the tables exist. */
  prepare(): void {
    this.statements = {
      agent: prepareRole(this.db, "agent"),
      viewer: prepareRole(this.db, "viewer"),
      relay: prepareRole(this.db, "relay"),
    };
  }

  private st(role: TokenRole): RoleStatements {
    if (this.statements === null) throw new Error("SqliteStore.init() must be called before use");
    return this.statements[role];
  }

  /** `find`, synchronously: the ingest transaction checks its agent token with it. */
  findNow(role: TokenRole, tokenId: string): AgentTokenRecord | null {
    const row = this.st(role).find.get(tokenId) as TokenDbRow | undefined;
    return row === undefined ? null : toTokenRecord(row);
  }

  async create(role: TokenRole, token: AgentTokenRecord): Promise<void> {
    this.st(role).insert.run(...tokenValues(role, token));
  }

  async find(role: TokenRole, tokenId: string): Promise<AgentTokenRecord | null> {
    return this.findNow(role, tokenId);
  }

  async list(role: TokenRole): Promise<AgentTokenRecord[]> {
    return (this.st(role).list.all() as TokenDbRow[]).map(toTokenRecord);
  }

  async hasActive(role: TokenRole, owner: string): Promise<boolean> {
    return this.st(role).hasActive.get(owner) !== undefined;
  }

  async revokeAll(role: TokenRole, owner: string, revokedAt: number): Promise<number> {
    return this.st(role).revokeAll.run(revokedAt, owner).changes;
  }

  async revoke(role: TokenRole, owner: string, tokenId: string, revokedAt: number): Promise<boolean> {
    return this.st(role).revokeOne.run(revokedAt, owner, tokenId).changes === 1;
  }

  async recordUses(uses: readonly TokenUse[]): Promise<void> {
    this.db.transaction(() => {
      for (const u of uses) this.st(u.role).recordUse.run(u.usedAt, u.tokenId, u.usedAt);
    })();
  }
}
