import type pg from "pg";
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

function columns(role: TokenRole): string {
  const servers = role === "relay" ? "servers" : "NULL AS servers";
  const scope = role === "viewer" ? "scope_groups" : "NULL AS scope_groups";
  return `token_id, ${TABLES[role].owner} AS server, secret_hash, created_at, revoked_at, last_used_at, ${servers}, ${scope}`;
}

/** Agent and viewer tokens on PostgreSQL (tables created by the metrics migrations, ./pg-store.ts). */
export class PgTokenStore implements TokenStore {
  constructor(private readonly pool: pg.Pool) {}

  async create(role: TokenRole, t: AgentTokenRecord): Promise<void> {
    const { table, owner } = TABLES[role];
    const values = [t.tokenId, t.server, t.secretHash, t.createdAt, t.revokedAt];
    await (role !== "agent"
      ? this.pool.query(
          `INSERT INTO ${table} (token_id, ${owner}, secret_hash, created_at, revoked_at, ${role === "relay" ? "servers" : "scope_groups"}) VALUES ($1, $2, $3, $4, $5, $6)`,
          [...values, role === "relay" ? relayServers(t) : scopeToColumn(t.groups)],
        )
      : this.pool.query(
          `INSERT INTO ${table} (token_id, ${owner}, secret_hash, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5)`,
          values,
        ));
  }

  async find(role: TokenRole, tokenId: string): Promise<AgentTokenRecord | null> {
    // Named: every upload asks this, so it is parsed and planned once per connection.
    const r = await this.pool.query<TokenDbRow>({
      name: `srvutil-find-${role}-token`,
      text: `SELECT ${columns(role)} FROM ${TABLES[role].table} WHERE token_id = $1`,
      values: [tokenId],
    });
    return r.rows[0] === undefined ? null : toTokenRecord(r.rows[0]);
  }

  async list(role: TokenRole): Promise<AgentTokenRecord[]> {
    const { table, owner } = TABLES[role];
    const r = await this.pool.query<TokenDbRow>(
      `SELECT ${columns(role)} FROM ${table} ORDER BY ${owner} COLLATE "C", created_at`,
    );
    return r.rows.map(toTokenRecord);
  }

  async hasActive(role: TokenRole, owner: string): Promise<boolean> {
    const t = TABLES[role];
    const r = await this.pool.query({
      name: `srvutil-has-active-${role}-token`,
      text: `SELECT 1 FROM ${t.table} WHERE ${t.owner} = $1 AND revoked_at IS NULL LIMIT 1`,
      values: [owner],
    });
    return r.rowCount === 1;
  }

  async revokeAll(role: TokenRole, owner: string, revokedAt: number): Promise<number> {
    const t = TABLES[role];
    const r = await this.pool.query(
      `UPDATE ${t.table} SET revoked_at = $1 WHERE ${t.owner} = $2 AND revoked_at IS NULL`,
      [revokedAt, owner],
    );
    return r.rowCount ?? 0;
  }

  async revoke(role: TokenRole, owner: string, tokenId: string, revokedAt: number): Promise<boolean> {
    const t = TABLES[role];
    const r = await this.pool.query(
      `UPDATE ${t.table} SET revoked_at = $1 WHERE ${t.owner} = $2 AND token_id = $3 AND revoked_at IS NULL`,
      [revokedAt, owner, tokenId],
    );
    return r.rowCount === 1;
  }

  async recordUses(uses: readonly TokenUse[]): Promise<void> {
    // One statement per table for the whole batch (rows from arrays, as ingest does).
    for (const role of ["agent", "viewer"] as const) {
      const mine = uses.filter((u) => u.role === role);
      if (mine.length === 0) continue;
      await this.pool.query(
        `UPDATE ${TABLES[role].table} t SET last_used_at = u.used_at
         FROM unnest($1::text[], $2::int8[]) AS u(token_id, used_at)
         WHERE t.token_id = u.token_id AND (t.last_used_at IS NULL OR t.last_used_at < u.used_at)`,
        [mine.map((u) => u.tokenId), mine.map((u) => u.usedAt)],
      );
    }
  }
}
