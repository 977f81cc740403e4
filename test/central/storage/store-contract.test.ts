import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createAgentToken } from "../../../src/central/auth/tokens.js";
import { loadCentralConfig } from "../../../src/central/config.js";
import { createApiApp, createIngestService } from "../../../src/central/server.js";
import { PgStore } from "../../../src/central/storage/postgres/pg-store.js";
import { SqliteStore } from "../../../src/central/storage/sqlite/sqlite-store.js";
import type { Storage } from "../../../src/central/storage/store.js";
import type { MetricRow } from "../../../src/protocol/index.js";
import { createTestSchema, findTestPostgres } from "../../helpers/postgres.js";
import { csvFor, row } from "../ingest/fixtures.js";

/**
 * The Storage contract, run against SQLite and against the real
 * PostgreSQL that test/helpers/postgres.ts finds (SRVUTIL_TEST_PG_URL, else
 * the local server), each run in a throwaway schema.
 */
const PG = await findTestPostgres();

interface Harness {
  store: Storage;
  cleanup(): Promise<void>;
}

const factories: [string, string | undefined, () => Promise<Harness>][] = [
  [
    "sqlite",
    undefined,
    async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-contract-"));
      const store = new SqliteStore(path.join(dir, "c.db"));
      await store.init();
      return {
        store,
        cleanup: async () => {
          await store.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  ],
  [
    "postgres",
    PG.skipReason,
    async () => {
      const url = PG.url!;
      const { schema, drop } = await createTestSchema(url);
      const store = new PgStore(url, { schema, max: 4 });
      await store.init();
      await store.init(); // idempotent
      return {
        store,
        cleanup: async () => {
          await store.close();
          await drop();
        },
      };
    },
  ],
];

async function collect(it: AsyncIterable<MetricRow>): Promise<MetricRow[]> {
  const out: MetricRow[] = [];
  for await (const r of it) out.push(r);
  return out;
}

const upload = (id: string, server: string) => ({
  uploadId: id,
  server,
  receivedAt: 1_764_000_000_000,
  rawPath: `received_metrics/${server}/2026-11-25/${id}.csv`,
  sha256: `sha-${id}`,
  bytes: 10,
});

describe.each(factories)("Storage contract: %s", (_name, skipReason, make) => {
  let h: Harness | undefined;
  beforeAll(async () => {
    if (skipReason === undefined) h = await make();
  });
  afterAll(async () => {
    await h?.cleanup();
  });
  beforeEach((ctx) => {
    if (skipReason !== undefined) ctx.skip(skipReason);
  });

  it("dedups rows, reports new vs duplicate, summarises servers, replays by hash", async () => {
    const { store } = h!;
    expect(await store.ping()).toBe(true);
    const a = [row("web-01", "2026-11-23T10:00:00Z", "/"), row("web-01", "2026-11-23T10:00:00Z", "/data")];
    const b = [
      row("web-01", "2026-11-23T10:00:00Z", "/"),
      row("web-01", "2026-11-23T10:05:00Z", "/", { cpuPeakPercent: null, intervalSeconds: null }),
    ];
    expect(await store.ingest(upload("u1", "web-01"), a)).toEqual({
      uploadId: "u1",
      rows: 2,
      inserted: 2,
      duplicates: 0,
    });
    expect(await store.ingest(upload("u2", "web-01"), b)).toEqual({
      uploadId: "u2",
      rows: 2,
      inserted: 1,
      duplicates: 1,
    });
    await store.ingest(upload("u3", "db-01"), [row("db-01", "2026-11-22T00:00:00Z", "C:")]);
    await expect(
      store.ingest(upload("u3", "db-01"), [row("db-01", "2026-11-24T00:00:00Z", "C:")]),
    ).rejects.toThrow();

    expect(await store.listServers()).toEqual([
      {
        server: "db-01",
        firstSeen: Date.parse("2026-11-22T00:00:00Z"),
        lastSeen: Date.parse("2026-11-22T00:00:00Z"),
        rows: 1,
      },
      {
        server: "web-01",
        firstSeen: Date.parse("2026-11-23T10:00:00Z"),
        lastSeen: Date.parse("2026-11-23T10:05:00Z"),
        rows: 3,
      },
    ]);
    const all = await collect(store.samples({ from: 0, to: Date.parse("2027-01-01T00:00:00Z") }));
    expect(all.map((r) => `${r.server} ${new Date(r.timestamp).toISOString()} ${r.diskMount}`)).toEqual([
      "db-01 2026-11-22T00:00:00.000Z C:",
      "web-01 2026-11-23T10:00:00.000Z /",
      "web-01 2026-11-23T10:00:00.000Z /data",
      "web-01 2026-11-23T10:05:00.000Z /",
    ]);
    expect(all[1]).toEqual(a[0]);
    expect(all[3]).toEqual(b[1]);
    const window = await collect(
      store.samples({
        from: Date.parse("2026-11-23T10:05:00Z"),
        to: Date.parse("2026-11-24T00:00:00Z"),
        servers: ["web-01"],
      }),
    );
    expect(window).toHaveLength(1);

    expect(await store.findUpload("web-01", "sha-u2")).toMatchObject({
      uploadId: "u2",
      rows: 2,
      inserted: 1,
    });
    expect(await store.hasUpload("db-01", "sha-u2")).toBe(false);
    expect(await store.hasUploadId("u1")).toBe(true);
    await store.clearIngestedData();
    expect(await store.listServers()).toEqual([]);
  });

  it("stores, finds, lists and revokes agent and viewer tokens", async () => {
    const { store } = h!;
    const token = await createAgentToken(store, "web-01");
    const id = token.split("_")[1]!;
    expect(await store.findAgentToken(id)).toMatchObject({ tokenId: id, server: "web-01", revokedAt: null });
    await store.createViewerToken({
      tokenId: "v1",
      server: "ops",
      secretHash: "h",
      createdAt: 1,
      revokedAt: null,
      lastUsedAt: null,
    });
    expect(await store.findViewerToken("v1")).toMatchObject({ server: "ops" });
    expect(await store.findAgentToken("v1")).toBeNull();
    expect((await store.listAgentTokens()).map((t) => t.server)).toEqual(["web-01"]);
    expect(await store.revokeAgentTokens("web-01", 5)).toBe(1);
    expect((await store.findAgentToken(id))!.revokedAt).toBe(5);
    expect(await store.revokeViewerTokens("ops", 6)).toBe(1);
    expect((await store.listViewerTokens())[0]!.revokedAt).toBe(6);
  });

  it("rotates: revokes one token of a server by id, records last use (never backwards)", async () => {
    const { store } = h!;
    const oldId = (await createAgentToken(store, "web-02")).split("_")[1]!;
    const newId = (await createAgentToken(store, "web-02")).split("_")[1]!;
    const otherId = (await createAgentToken(store, "web-03")).split("_")[1]!;
    expect((await store.findAgentToken(oldId))!.lastUsedAt).toBeNull();
    await store.recordTokenUses([{ role: "agent", tokenId: oldId, usedAt: 2_000 }]);
    // An older write arriving late does not win; unknown ids are ignored.
    await store.recordTokenUses([
      { role: "agent", tokenId: oldId, usedAt: 1_000 },
      { role: "agent", tokenId: "000000000000", usedAt: 9_000 },
    ]);
    expect((await store.findAgentToken(oldId))!.lastUsedAt).toBe(2_000);
    // The id must belong to that server: web-03's token is not revoked through web-02.
    expect(await store.revokeAgentToken("web-02", otherId, 5)).toBe(false);
    expect(await store.revokeAgentToken("web-02", oldId, 5)).toBe(true);
    expect(await store.revokeAgentToken("web-02", oldId, 6)).toBe(false); // already revoked
    const byId = new Map((await store.listAgentTokens()).map((t) => [t.tokenId, t]));
    expect(byId.get(oldId)).toMatchObject({ revokedAt: 5, lastUsedAt: 2_000 });
    expect(byId.get(newId)).toMatchObject({ revokedAt: null });
    expect(byId.get(otherId)).toMatchObject({ revokedAt: null });
    await store.createViewerToken({
      tokenId: "v2",
      server: "grafana",
      secretHash: "h",
      createdAt: 1,
      revokedAt: null,
      lastUsedAt: null,
    });
    await store.recordTokenUses([
      { role: "viewer", tokenId: "v2", usedAt: 7_000 },
      { role: "agent", tokenId: newId, usedAt: 7_500 },
    ]);
    expect((await store.findAgentToken(newId))!.lastUsedAt).toBe(7_500);
    expect(await store.findViewerToken("v2")).toMatchObject({ lastUsedAt: 7_000 });
    expect(await store.revokeViewerToken("grafana", "v2", 8)).toBe(true);
    expect((await store.findViewerToken("v2"))!.revokedAt).toBe(8);
  });

  it("serves the real API on top of it", async () => {
    const { store } = h!;
    const dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-contract-api-"));
    const config = loadCentralConfig({ SRVUTIL_DATA_DIR: dir });
    const app = await createApiApp({
      store,
      ingest: createIngestService(config, store, null),
      maxBodyBytes: config.maxBodyBytes,
      rateLimit: { perSecond: 0, burst: 1 },
    });
    try {
      const token = await createAgentToken(store, "api-01");
      const send = () =>
        app.inject({
          method: "POST",
          url: "/api/v1/metrics",
          headers: { authorization: `Bearer ${token}`, "content-type": "text/csv" },
          payload: csvFor("api-01", "2026-11-10T00:00:00Z", 3000),
        });
      const first = await send();
      expect(first.statusCode).toBe(201);
      expect(first.json()).toMatchObject({ rows: 6000, duplicates: 0 });
      const replay = await send();
      expect(replay.statusCode).toBe(201);
      expect(replay.json()).toEqual({ upload_id: first.json().upload_id, rows: 6000, duplicates: 6000 });
      const rows = await collect(
        store.samples({ from: 0, to: Date.parse("2027-01-01T00:00:00Z"), servers: ["api-01"] }),
      );
      expect(rows).toHaveLength(6000);
    } finally {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
