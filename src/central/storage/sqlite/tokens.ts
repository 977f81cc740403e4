import type Database from "better-sqlite3";
import { scopeToColumn } from "../../auth/principal.js";
import { type TokenDbRow, toTokenRecord } from "../db-rows.js";
import {
  type AgentTokenRecord,
  relayServers,
  type TokenRole,
  type TokenStore,
  type TokenUse,
} from "../token-store.js";

/** The table of each role and its owner column (viewer tokens name their owner `name`). */
const TABLES: Record<TokenRole, { table: string; owner: string }> = {
  agent: { table: "agent_tokens", owner: "server" },
  viewer: { table: "viewer_tokens", owner: "name" },
  relay: { table: "relay_tokens", owner: "name" },
};

function prepareRole(db: Database.Database, role: TokenRole) {
  const { table, owner } = TABLES[role];
  const servers = role === "relay" ? "servers" : "NULL AS servers";
  const scope = role === "viewer" ? "scope_groups" : "NULL AS scope_groups";
  const columns = `token_id, ${owner} AS server, secret_hash, created_at, revoked_at, last_used_at, ${servers}, ${scope}`;
  return {
    insert: db.prepare(
      role === "agent"
        ? `INSERT INTO ${table} (token_id, ${owner}, secret_hash, created_at, revoked_at) VALUES (?, ?, ?, ?, ?)`
        : `INSERT INTO ${table} (token_id, ${owner}, secret_hash, created_at, revoked_at, ${role === "relay" ? "servers" : "scope_groups"}) VALUES (?, ?, ?, ?, ?, ?)`,
    ),
    find: db.prepare(`SELECT ${columns} FROM ${table} WHERE token_id = ?`),
    hasActive: db.prepare(`SELECT 1 FROM ${table} WHERE ${owner} = ? AND revoked_at IS NULL LIMIT 1`),
    list: db.prepare(`SELECT ${columns} FROM ${table} ORDER BY ${owner}, created_at`),
    revokeAll: db.prepare(`UPDATE ${table} SET revoked_at = ? WHERE ${owner} = ? AND revoked_at IS NULL`),
    revokeOne: db.prepare(
      `UPDATE ${table} SET revoked_at = ? WHERE ${owner} = ? AND token_id = ? AND revoked_at IS NULL`,
    ),
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
    const values = [token.tokenId, token.server, token.secretHash, token.createdAt, token.revokedAt];
    const extra =
      role === "relay" ? [relayServers(token)] : role === "viewer" ? [scopeToColumn(token.groups)] : [];
    this.st(role).insert.run(...values, ...extra);
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
