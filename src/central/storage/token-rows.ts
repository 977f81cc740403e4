import { scopeToColumn } from "../auth/principal.js";
import { type AgentTokenRecord, relayServers, type TokenRole } from "./token-store.js";

/** The table of each role and its owner column (viewer tokens name their owner `name`). */
export const TOKEN_TABLES: Record<TokenRole, { table: string; owner: string }> = {
  agent: { table: "agent_tokens", owner: "server" },
  viewer: { table: "viewer_tokens", owner: "name" },
  relay: { table: "relay_tokens", owner: "name" },
};

/**
 * The statements of one role's tokens on both backends, with PostgreSQL's
 * `$N` placeholders, each once and in order (SQLite: fromPg); `collate`
 * makes list() sort owners by byte on PostgreSQL as SQLite does. Rows read
 * as TokenDbRow (../db-rows.ts). SQLite: ./sqlite/tokens.ts, PostgreSQL:
 * ./postgres/tokens.ts.
 */
export function tokenSql(role: TokenRole, collate: string) {
  const { table, owner } = TOKEN_TABLES[role];
  const servers = role === "relay" ? "servers" : "NULL AS servers";
  const scope = role === "viewer" ? "scope_groups" : "NULL AS scope_groups";
  const columns = `token_id, ${owner} AS server, secret_hash, created_at, revoked_at, last_used_at, ${servers}, ${scope}`;
  return {
    insert:
      role === "agent"
        ? `INSERT INTO ${table} (token_id, ${owner}, secret_hash, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5)`
        : `INSERT INTO ${table} (token_id, ${owner}, secret_hash, created_at, revoked_at, ${role === "relay" ? "servers" : "scope_groups"}) VALUES ($1, $2, $3, $4, $5, $6)`,
    find: `SELECT ${columns} FROM ${table} WHERE token_id = $1`,
    hasActive: `SELECT 1 FROM ${table} WHERE ${owner} = $1 AND revoked_at IS NULL LIMIT 1`,
    list: `SELECT ${columns} FROM ${table} ORDER BY ${owner}${collate}, created_at`,
    revokeAll: `UPDATE ${table} SET revoked_at = $1 WHERE ${owner} = $2 AND revoked_at IS NULL`,
    revokeOne: `UPDATE ${table} SET revoked_at = $1 WHERE ${owner} = $2 AND token_id = $3 AND revoked_at IS NULL`,
  };
}

/** The values of tokenSql(role).insert. */
export function tokenValues(role: TokenRole, t: AgentTokenRecord): (string | number | null)[] {
  const values = [t.tokenId, t.server, t.secretHash, t.createdAt, t.revokedAt];
  if (role === "relay") return [...values, relayServers(t)];
  if (role === "viewer") return [...values, scopeToColumn(t.groups)];
  return values;
}
