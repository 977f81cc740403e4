import { describe, expect, it } from "vitest";
import { AgentTokenCache } from "../../../src/central/auth/token-cache.js";
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
