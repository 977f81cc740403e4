/**
 * Agent, viewer and relay tokens, one store keyed by role. An agent token
 * may upload as one server (its owner is that server's name); a viewer token
 * may use the read API (its owner is a label: who or what uses it); a relay
 * token (a Prometheus server or an OpenTelemetry Collector that carries a
 * fleet) may write for every server its `servers` glob allows (its owner is
 * a label). The roles have the same record and the same operations, kept in
 * a table per role.
 * SQLite: ./sqlite/tokens.ts; PostgreSQL: ./postgres/tokens.ts.
 */
export type TokenRole = "agent" | "viewer" | "relay";

export interface TokenStore {
  create(role: TokenRole, token: AgentTokenRecord): Promise<void>;
  find(role: TokenRole, tokenId: string): Promise<AgentTokenRecord | null>;
  /** Every token of the role, by owner, then creation. */
  list(role: TokenRole): Promise<AgentTokenRecord[]>;
  /** True when `owner` holds an active token of the role (the seed bridge's enrolment check; by index, not a list). */
  hasActive(role: TokenRole, owner: string): Promise<boolean>;
  /** Revokes every active token of `owner`; resolves to how many were revoked. */
  revokeAll(role: TokenRole, owner: string, revokedAt: number): Promise<number>;
  /** Revokes one active token of `owner` (rotation); false when no active token of `owner` has that id. */
  revoke(role: TokenRole, owner: string, tokenId: string, revokedAt: number): Promise<boolean>;
  /**
   * Sets last_used_at of tokens of either role in one transaction, never
   * moving it backwards (auth/tokens.ts batches the uses of one event-loop
   * turn, each token at most once a minute).
   */
  recordUses(uses: readonly TokenUse[]): Promise<void>;
}

export interface TokenUse {
  role: TokenRole;
  tokenId: string;
  usedAt: number;
}

/** A stored token of either role (the name is historical: agent tokens came first). */
export interface AgentTokenRecord {
  /** Public part of the token, used to look it up. */
  tokenId: string;
  /** The owner: the server of an agent token, the label of a viewer token. */
  server: string;
  /** Hex SHA-256 of the secret part; the secret itself is never stored. */
  secretHash: string;
  createdAt: number;
  revokedAt: number | null;
  /** Last authenticated request, to the minute (epoch ms); null when never used. */
  lastUsedAt: number | null;
  /** Relay tokens only: the glob of server names it may write for (`*` any run of characters). */
  servers?: string;
  /** Viewer tokens only: the delivery groups it may read (src/central/auth/principal.ts); absent or null: the whole fleet. */
  groups?: readonly string[] | null;
}

/** A relay token's glob; one without it would write for nobody, so it is a caller's mistake. */
export function relayServers(token: AgentTokenRecord): string {
  if (token.servers === undefined) throw new Error(`relay token ${token.tokenId} has no servers glob`);
  return token.servers;
}
