import type pg from "pg";
import { type TokenDbRow, toTokenRecord } from "../db-rows.js";
import { TOKEN_TABLES, tokenSql, tokenValues } from "../token-rows.js";
import type { AgentTokenRecord, TokenRole, TokenStore, TokenUse } from "../token-store.js";

/** Each role's statements; COLLATE "C": owners in byte order, as on SQLite. */
const SQL: Record<TokenRole, ReturnType<typeof tokenSql>> = {
  agent: tokenSql("agent", ' COLLATE "C"'),
  viewer: tokenSql("viewer", ' COLLATE "C"'),
  relay: tokenSql("relay", ' COLLATE "C"'),
};

/** Agent and viewer tokens on PostgreSQL (tables created by the metrics migrations, ./pg-store.ts). */
export class PgTokenStore implements TokenStore {
  constructor(private readonly pool: pg.Pool) {}

  async create(role: TokenRole, t: AgentTokenRecord): Promise<void> {
    await this.pool.query(SQL[role].insert, tokenValues(role, t));
  }

  async find(role: TokenRole, tokenId: string): Promise<AgentTokenRecord | null> {
    // Named: every upload asks this, so it is parsed and planned once per connection.
    const r = await this.pool.query<TokenDbRow>({
      name: `srvutil-find-${role}-token`,
      text: SQL[role].find,
      values: [tokenId],
    });
    return r.rows[0] === undefined ? null : toTokenRecord(r.rows[0]);
  }

  async list(role: TokenRole): Promise<AgentTokenRecord[]> {
    return (await this.pool.query<TokenDbRow>(SQL[role].list)).rows.map(toTokenRecord);
  }

  async hasActive(role: TokenRole, owner: string): Promise<boolean> {
    const r = await this.pool.query({
      name: `srvutil-has-active-${role}-token`,
      text: SQL[role].hasActive,
      values: [owner],
    });
    return r.rowCount === 1;
  }

  async revokeAll(role: TokenRole, owner: string, revokedAt: number): Promise<number> {
    return (await this.pool.query(SQL[role].revokeAll, [revokedAt, owner])).rowCount ?? 0;
  }

  async revoke(role: TokenRole, owner: string, tokenId: string, revokedAt: number): Promise<boolean> {
    return (await this.pool.query(SQL[role].revokeOne, [revokedAt, owner, tokenId])).rowCount === 1;
  }

  async recordUses(uses: readonly TokenUse[]): Promise<void> {
    // One statement per table for the whole batch (rows from arrays, as ingest does).
    for (const role of ["agent", "viewer"] as const) {
      const mine = uses.filter((u) => u.role === role);
      if (mine.length === 0) continue;
      await this.pool.query(
        `UPDATE ${TOKEN_TABLES[role].table} t SET last_used_at = u.used_at
         FROM unnest($1::text[], $2::int8[]) AS u(token_id, used_at)
         WHERE t.token_id = u.token_id AND (t.last_used_at IS NULL OR t.last_used_at < u.used_at)`,
        [mine.map((u) => u.tokenId), mine.map((u) => u.usedAt)],
      );
    }
  }
}
