import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { AgentTokenCache } from "../../../src/central/auth/token-cache.js";
import { createAgentToken } from "../../../src/central/auth/tokens.js";
import { SqliteStore } from "../../../src/central/storage/sqlite/sqlite-store.js";
import type { AgentTokenRecord } from "../../../src/central/storage/store.js";

const record = (tokenId: string, revokedAt: number | null = null): AgentTokenRecord => ({
  tokenId,
  server: `srv-${tokenId}`,
  secretHash: "00",
  createdAt: 1,
  revokedAt,
  lastUsedAt: null,
});

describe("AgentTokenCache", () => {
  it("keeps active tokens until their time is up, never revoked ones", () => {
    let now = 1_000;
    const cache = new AgentTokenCache(5_000, 10, () => now);
    cache.remember(record("a"));
    cache.remember(record("r", 7));
    expect(cache.get("a")?.server).toBe("srv-a");
    expect(cache.get("r")).toBeNull();
    now += 4_999;
    expect(cache.get("a")).not.toBeNull();
    now += 1;
    expect(cache.get("a")).toBeNull();
    expect(cache.size).toBe(0);
    // Remembering a token as revoked drops what was kept of it.
    cache.remember(record("b"));
    cache.remember(record("b", 9));
    expect(cache.get("b")).toBeNull();
  });

  it("holds at most maxEntries, dropping the least recently remembered first; forget drops one", () => {
    const cache = new AgentTokenCache(60_000, 3);
    for (const id of ["a", "b", "c"]) cache.remember(record(id));
    cache.remember(record("a")); // refreshed: now the newest
    cache.remember(record("d"));
    expect(cache.size).toBe(3);
    expect(cache.get("b")).toBeNull();
    expect(["a", "c", "d"].map((id) => cache.get(id)?.tokenId)).toEqual(["a", "c", "d"]);
    cache.forget("c");
    expect(cache.get("c")).toBeNull();
    expect(cache.size).toBe(2);
  });
});

describe("AgentTokenCache.preload", () => {
  it("loads the active tokens of a real store, the newest when they do not all fit", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-token-cache-"));
    const store = new SqliteStore(path.join(dir, "c.db"));
    try {
      await store.init();
      const ids: string[] = [];
      for (const server of ["a-01", "b-01", "c-01", "d-01"]) {
        ids.push((await createAgentToken(store, server)).split("_")[1]!);
        await new Promise((r) => setTimeout(r, 2)); // distinct created_at: "newest" is well defined
      }
      expect(await store.tokens.revokeAll("agent", "d-01", Date.now())).toBe(1);
      const all = new AgentTokenCache();
      expect(await all.preload(store)).toBe(3);
      expect(ids.map((id) => all.get(id)?.server ?? null)).toEqual(["a-01", "b-01", "c-01", null]);
      const two = new AgentTokenCache(60_000, 2);
      expect(await two.preload(store)).toBe(2);
      expect(ids.map((id) => two.get(id)?.server ?? null)).toEqual([null, "b-01", "c-01", null]);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
