import type { AgentTokenRecord, TokenStore } from "../storage/store.js";

/**
 * Agent tokens found active, kept in this process's memory so a fleet upload
 * does not spend a database round trip on its token: on PostgreSQL that
 * lookup was half the statements of an upload (docs/scaling.md has the
 * measurement).
 *
 * A cache hit is never the last word. The upload route passes the token id
 * into the ingest write (UploadRecord.agentTokenId), which stores nothing and
 * answers 401 unless the token is still active as the write runs, so a
 * revocation by the CLI, the dashboard or another instance refuses the very
 * next upload. Routes whose work does not end in such a write (whoami, the
 * read API) never use the cache.
 *
 * Only active tokens are kept: an unknown or revoked token asks the store
 * each time. The secret is still checked against the cached hash on every
 * request. Entries expire after `ttlMs` and the map holds at most
 * `maxEntries` (the oldest go first), so a long-running central keeps only
 * the agents that are uploading.
 */
export class AgentTokenCache {
  private readonly entries = new Map<string, { record: AgentTokenRecord; expiresAt: number }>();

  constructor(
    private readonly ttlMs = AGENT_TOKEN_CACHE_TTL_MS,
    private readonly maxEntries = AGENT_TOKEN_CACHE_MAX_ENTRIES,
    private readonly now: () => number = Date.now,
  ) {}

  get(tokenId: string): AgentTokenRecord | null {
    const entry = this.entries.get(tokenId);
    if (entry === undefined) return null;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(tokenId);
      return null;
    }
    return entry.record;
  }

  /** Keeps an active token; a revoked one is not kept (and forgotten if it was). */
  remember(record: AgentTokenRecord): void {
    this.entries.delete(record.tokenId); // re-inserted last: Map order is then oldest first
    if (record.revokedAt !== null) return;
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done !== true) this.entries.delete(oldest.value);
    }
    this.entries.set(record.tokenId, { record, expiresAt: this.now() + this.ttlMs });
  }

  /**
   * Fills the cache with the active tokens, newest last, up to maxEntries.
   * Called at start: after a restart or a failover the whole fleet
   * reconnects within a minute, and without this every one of those first
   * uploads would wait for its own token lookup. Returns how many were kept.
   */
  async preload(store: { tokens: Pick<TokenStore, "list"> }): Promise<number> {
    const active = (await store.tokens.list("agent")).filter((t) => t.revokedAt === null);
    active.sort((a, b) => a.createdAt - b.createdAt);
    for (const t of active.slice(-this.maxEntries)) this.remember(t);
    return this.entries.size;
  }

  /** Called when a write found the token revoked. */
  forget(tokenId: string): void {
    this.entries.delete(tokenId);
  }

  get size(): number {
    return this.entries.size;
  }
}

/** Long enough that a steadily uploading agent (every 60 s by default) always hits. */
export const AGENT_TOKEN_CACHE_TTL_MS = 10 * 60_000;
/** About 100 bytes an entry: ~10 MB at the cap, far more agents than one central serves. */
export const AGENT_TOKEN_CACHE_MAX_ENTRIES = 100_000;
