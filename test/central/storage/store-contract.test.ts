import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ServerRowAggregator } from "../../../src/central/aggregate/rows.js";
import { localDays } from "../../../src/central/aggregate/week.js";
import { createAgentToken } from "../../../src/central/auth/tokens.js";
import { createIngestService } from "../../../src/central/central-process.js";
import { loadCentralConfig } from "../../../src/central/config.js";
import { createApiApp } from "../../../src/central/http/app.js";
import type { Storage } from "../../../src/central/storage/store.js";
import type { MetricRow } from "../../../src/protocol/index.js";
import { utcMidnightDaysAgo } from "../../helpers/clock.js";
import { type StoreBackend, storeBackends } from "../../helpers/store-backends.js";
import { csvFor, row } from "../ingest/fixtures.js";

/**
 * The Storage contract, run against SQLite and against the real
 * PostgreSQL that test/helpers/postgres.ts finds (SRVUTIL_TEST_PG_URL, else
 * the local server), each run in a throwaway schema: samples and uploads,
 * tokens, the API on top, and the rollups (store.rollups). The deliveries
 * part of the port has its own contract on both backends, with two
 * instances each (test/central/delivery/store-contract.test.ts).
 */
const BACKENDS = await storeBackends();

interface Harness {
  store: Storage;
  cleanup(): Promise<void>;
}

async function make(backend: StoreBackend): Promise<Harness> {
  const t = await backend.make();
  if (backend.name === "postgres") await t.store.init(); // idempotent
  return t;
}

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

describe.each(BACKENDS)("Storage contract: $name", (backend) => {
  const { skipReason } = backend;
  let h: Harness | undefined;
  beforeAll(async () => {
    if (skipReason === undefined) h = await make(backend);
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

  it("stores every value exactly as given, through the small and the bulk write path, and counts overlaps", async () => {
    const { store } = h!;
    const mounts = ["/", "C:\\", "/mnt/tab\there", "/données/ü", "/a\\b\nc"];
    const file = (n: number, start: string, server: string) =>
      Array.from({ length: n }, (_, i) =>
        row(
          server,
          new Date(Date.parse(start) + Math.floor(i / mounts.length) * 60_000).toISOString(),
          mounts[i % mounts.length]!,
          {
            cpuPercent: i % 7 === 0 ? 0 : 100 / (i + 3),
            cpuPeakPercent: i % 3 === 0 ? null : 99.999_999_9,
            intervalSeconds: i % 4 === 0 ? null : 59.5,
            memTotalBytes: 2 ** 53 - 1 - i,
            memUsedBytes: i,
            memAvailableBytes: 4_294_967_296 + i,
            diskFreeBytes: 4_294_967_295,
          },
        ),
      );
    // 3 rows: the fleet path; 600: PostgreSQL's COPY; 600 overlapping by half: COPY's fallback.
    const small = file(3, "2026-11-23T08:00:00Z", "exact-01");
    const bulk = file(600, "2026-11-23T09:00:00Z", "exact-02");
    const overlap = file(600, "2026-11-23T09:00:00Z", "exact-02").map((r, i) =>
      i < 300 ? r : { ...r, timestamp: r.timestamp + 120 * 60_000 },
    );
    expect((await store.ingest(upload("x1", "exact-01"), small)).inserted).toBe(3);
    expect((await store.ingest(upload("x2", "exact-02"), bulk)).inserted).toBe(600);
    expect(await store.ingest(upload("x3", "exact-02"), overlap)).toMatchObject({
      inserted: 300,
      duplicates: 300,
    });
    const key = (r: MetricRow) => `${r.server} ${r.timestamp} ${r.diskMount}`;
    const expected = new Map([...small, ...bulk, ...overlap].map((r) => [key(r), r]));
    const stored = await collect(store.samples({ from: 0, to: Date.parse("2027-01-01T00:00:00Z") }));
    expect(stored).toHaveLength(expected.size);
    for (const r of stored) expect(r).toEqual(expected.get(key(r)));
    await store.clearIngestedData();
  });

  it("ingests unless the same content came before: the replay stores nothing and names the earlier upload", async () => {
    const { store } = h!;
    // 3 rows (a fleet upload: one statement on PostgreSQL) and 600 rows (a backlog file: COPY).
    for (const n of [3, 600]) {
      const server = `replay-${n}`;
      const rows = Array.from({ length: n }, (_, i) =>
        row(server, new Date(Date.parse("2026-11-23T00:00:00Z") + i * 60_000).toISOString(), "/"),
      );
      const first = await store.ingestUnlessReplay(
        { ...upload(`${server}-a`, server), sha256: "same" },
        rows,
      );
      expect(first).toEqual({
        replayOf: null,
        outcome: { uploadId: `${server}-a`, rows: n, inserted: n, duplicates: 0 },
      });
      const again = await store.ingestUnlessReplay(
        { ...upload(`${server}-b`, server), sha256: "same" },
        rows,
      );
      expect(again).toEqual({
        replayOf: {
          uploadId: `${server}-a`,
          server,
          receivedAt: 1_764_000_000_000,
          rawPath: `received_metrics/${server}/2026-11-25/${server}-a.csv`,
          rows: n,
          inserted: n,
        },
      });
      expect(await store.hasUploadId(`${server}-b`)).toBe(false);
      // Other content with rows already stored: stored as an upload, every row a duplicate.
      const overlap = await store.ingestUnlessReplay(
        { ...upload(`${server}-c`, server), sha256: "other" },
        rows,
      );
      expect(overlap).toEqual({
        replayOf: null,
        outcome: { uploadId: `${server}-c`, rows: n, inserted: 0, duplicates: n },
      });
      expect((await store.listServers()).find((s) => s.server === server)?.rows).toBe(n);
    }
    // The same content from another server is not a replay.
    const other = await store.ingestUnlessReplay({ ...upload("replay-x", "replay-x"), sha256: "same" }, [
      row("replay-x", "2026-11-23T00:00:00Z", "/"),
    ]);
    expect(other.replayOf).toBeNull();
    await store.clearIngestedData();
  });

  it("stores, finds, lists and revokes agent and viewer tokens", async () => {
    const { store } = h!;
    const token = await createAgentToken(store, "web-01");
    const id = token.split("_")[1]!;
    expect(await store.tokens.find("agent", id)).toMatchObject({
      tokenId: id,
      server: "web-01",
      revokedAt: null,
    });
    await store.tokens.create("viewer", {
      tokenId: "v1",
      server: "ops",
      secretHash: "h",
      createdAt: 1,
      revokedAt: null,
      lastUsedAt: null,
    });
    expect(await store.tokens.find("viewer", "v1")).toMatchObject({ server: "ops" });
    expect(await store.tokens.find("agent", "v1")).toBeNull();
    expect((await store.tokens.list("agent")).map((t) => t.server)).toEqual(["web-01"]);
    expect(await store.tokens.hasActive("agent", "web-01")).toBe(true);
    expect(await store.tokens.hasActive("agent", "ops")).toBe(false); // a viewer's name is no agent's
    expect(await store.tokens.revokeAll("agent", "web-01", 5)).toBe(1);
    expect((await store.tokens.find("agent", id))!.revokedAt).toBe(5);
    expect(await store.tokens.hasActive("agent", "web-01")).toBe(false);
    expect(await store.tokens.revokeAll("viewer", "ops", 6)).toBe(1);
    expect((await store.tokens.list("viewer"))[0]!.revokedAt).toBe(6);
  });

  it("rotates: revokes one token of a server by id, records last use (never backwards)", async () => {
    const { store } = h!;
    const oldId = (await createAgentToken(store, "web-02")).split("_")[1]!;
    const newId = (await createAgentToken(store, "web-02")).split("_")[1]!;
    const otherId = (await createAgentToken(store, "web-03")).split("_")[1]!;
    expect((await store.tokens.find("agent", oldId))!.lastUsedAt).toBeNull();
    await store.tokens.recordUses([{ role: "agent", tokenId: oldId, usedAt: 2_000 }]);
    // An older write arriving late does not win; unknown ids are ignored.
    await store.tokens.recordUses([
      { role: "agent", tokenId: oldId, usedAt: 1_000 },
      { role: "agent", tokenId: "000000000000", usedAt: 9_000 },
    ]);
    expect((await store.tokens.find("agent", oldId))!.lastUsedAt).toBe(2_000);
    // The id must belong to that server: web-03's token is not revoked through web-02.
    expect(await store.tokens.revoke("agent", "web-02", otherId, 5)).toBe(false);
    expect(await store.tokens.revoke("agent", "web-02", oldId, 5)).toBe(true);
    expect(await store.tokens.revoke("agent", "web-02", oldId, 6)).toBe(false); // already revoked
    const byId = new Map((await store.tokens.list("agent")).map((t) => [t.tokenId, t]));
    expect(byId.get(oldId)).toMatchObject({ revokedAt: 5, lastUsedAt: 2_000 });
    expect(byId.get(newId)).toMatchObject({ revokedAt: null });
    expect(byId.get(otherId)).toMatchObject({ revokedAt: null });
    await store.tokens.create("viewer", {
      tokenId: "v2",
      server: "grafana",
      secretHash: "h",
      createdAt: 1,
      revokedAt: null,
      lastUsedAt: null,
    });
    await store.tokens.recordUses([
      { role: "viewer", tokenId: "v2", usedAt: 7_000 },
      { role: "agent", tokenId: newId, usedAt: 7_500 },
    ]);
    expect((await store.tokens.find("agent", newId))!.lastUsedAt).toBe(7_500);
    expect(await store.tokens.find("viewer", "v2")).toMatchObject({ lastUsedAt: 7_000 });
    expect(await store.tokens.revoke("viewer", "grafana", "v2", 8)).toBe(true);
    expect((await store.tokens.find("viewer", "v2"))!.revokedAt).toBe(8);
  });

  it("refuses an upload whose agent token is no longer active, storing nothing, on every write path", async () => {
    const { store } = h!;
    const active = (await createAgentToken(store, "tok-01")).split("_")[1]!;
    const revoked = (await createAgentToken(store, "tok-01")).split("_")[1]!;
    expect(await store.tokens.revoke("agent", "tok-01", revoked, 5)).toBe(true);
    const rowsOf = (n: number, start: string) =>
      Array.from({ length: n }, (_, i) =>
        row("tok-01", new Date(Date.parse(start) + i * 60_000).toISOString(), "/"),
      );
    // 3 rows: one statement on PostgreSQL; 600: COPY in a transaction; both as ingest and ingestUnlessReplay.
    for (const n of [3, 600]) {
      const rows = rowsOf(n, "2026-11-24T00:00:00Z");
      const rec = (id: string, tokenId: string) => ({
        ...upload(`tok-${n}-${id}`, "tok-01"),
        sha256: `tok-${n}`,
        agentTokenId: tokenId,
      });
      for (const tokenId of [revoked, "000000000000"]) {
        await expect(store.ingest(rec("r1", tokenId), rows)).rejects.toMatchObject({
          name: "AgentTokenRevokedError",
          status: 401,
          tokenId,
        });
        await expect(store.ingestUnlessReplay(rec("r2", tokenId), rows)).rejects.toMatchObject({
          name: "AgentTokenRevokedError",
        });
      }
      expect(await store.hasUpload("tok-01", `tok-${n}`)).toBe(false);
      expect(await collect(store.samples({ from: 0, to: Date.parse("2027-01-01T00:00:00Z") }))).toEqual([]);
      const ok = await store.ingestUnlessReplay(rec("a", active), rows);
      expect(ok).toMatchObject({ replayOf: null, outcome: { inserted: n } });
      // A replay stores nothing either way, but with a revoked token it is still refused.
      await expect(store.ingestUnlessReplay(rec("r3", revoked), rows)).rejects.toMatchObject({
        name: "AgentTokenRevokedError",
      });
      expect((await store.ingestUnlessReplay(rec("b", active), rows)).replayOf?.uploadId).toBe(`tok-${n}-a`);
      await store.clearIngestedData();
    }
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
          // 3000 samples 5 minutes apart (10½ days) from 14 days back: inside the ingest horizon.
          payload: csvFor("api-01", new Date(utcMidnightDaysAgo(14)).toISOString(), 3000),
        });
      const first = await send();
      expect(first.statusCode).toBe(201);
      expect(first.json()).toMatchObject({ rows: 6000, duplicates: 0 });
      const replay = await send();
      expect(replay.statusCode).toBe(201);
      expect(replay.json()).toEqual({ upload_id: first.json().upload_id, rows: 6000, duplicates: 6000 });
      const rows = await collect(store.samples({ from: 0, to: Date.now(), servers: ["api-01"] }));
      expect(rows).toHaveLength(6000);
    } finally {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Rows that make the aggregation work: mounts that disagree, missing optional columns, 0 bytes of RAM, −0. */
function awkwardRows(server: string): MetricRow[] {
  const at = (iso: string) => `2026-11-${iso}Z`;
  return [
    // Same timestamp, mounts disagreeing on CPU and memory: "/" (the smallest) counts.
    row(server, at("23T10:00:00"), "/data", { cpuPercent: 90, memUsedBytes: 7_000_000_000 }),
    row(server, at("23T10:00:00"), "/", { cpuPercent: 10, cpuPeakPercent: 5 }),
    row(server, at("23T10:05:00"), "/", { cpuPeakPercent: null, intervalSeconds: null }),
    row(server, at("23T10:10:00"), "/", { cpuPercent: 33.3, memTotalBytes: 0, memUsedBytes: 0 }),
    row(server, at("23T10:10:00"), "C:", { diskTotalBytes: 1, diskUsedBytes: 1, diskFreeBytes: 0 }),
    row(server, at("23T11:00:00"), "/", { cpuPercent: -0, cpuPeakPercent: null }),
    row(server, at("23T23:30:00"), "/", { cpuPercent: 0.1 }),
    row(server, at("24T00:30:00"), "/", { cpuPercent: 0.2, diskTotalBytes: 200_000_000_000 }),
    row(server, at("25T05:00:00"), "/data", { cpuPercent: 1e-9 }),
  ];
}

describe.each(BACKENDS)("Storage contract, rollups: $name", (backend) => {
  const { skipReason } = backend;
  let h: Harness | undefined;
  beforeEach(async (ctx) => {
    if (skipReason !== undefined) ctx.skip(skipReason);
    h = await make(backend);
  });
  afterEach(async () => {
    await h?.cleanup();
    h = undefined;
  });
  const from = Date.parse("2026-11-20T00:00:00Z");
  const to = Date.parse("2026-11-30T00:00:00Z");
  const span = localDays("2026-11-20", 10, "Europe/Berlin");

  /** What the rollups must equal: the reference aggregation of the stored rows. */
  async function reference(store: Storage, server: string) {
    const agg = new ServerRowAggregator(server, span);
    for await (const r of store.samples({ from, to, servers: [server] })) agg.add(r);
    const hourly = new ServerRowAggregator(server, { dates: ["all"], dayStarts: [from, to] });
    for await (const r of store.samples({ from, to, servers: [server] })) hourly.add(r);
    return { days: agg.finish(), hours: hourly.finishWithHours(from).hours };
  }

  it("give the reference figures exactly, through late rows, duplicates and conflicting repeats", async () => {
    const { store } = h!;
    await store.rollups.registerZone("Europe/Berlin");
    const rows = awkwardRows("odd-01");
    await store.ingest(upload("r1", "odd-01"), rows.slice(0, 4));
    expect((await store.rollups.refresh()).more).toBe(false);
    await store.ingest(upload("r2", "odd-01"), rows.slice(2)); // overlaps r1: duplicates
    // A repeat of stored keys with other figures: the stored row stays.
    await store.ingest(upload("r3", "odd-01"), [{ ...rows[1]!, cpuPercent: 99 }]);
    await store.ingest(upload("r4", "other-02"), awkwardRows("other-02").slice(3));
    await store.rollups.refresh();
    for (const server of ["odd-01", "other-02"]) {
      const want = await reference(store, server);
      expect(await store.rollups.readHourly(server, from, to)).toEqual(want.hours);
      const days = (await store.rollups.readDaily("Europe/Berlin", span, [server])).get(server)!;
      expect(days).toEqual(want.days);
    }
    // Many at once: the same buckets per server, and [] for a server without any.
    const many = await store.rollups.readHourlyMany(["other-02", "odd-01", "nobody-09"], from, to);
    expect([...many.keys()]).toEqual(["other-02", "odd-01", "nobody-09"]);
    expect(many.get("odd-01")).toEqual((await reference(store, "odd-01")).hours);
    expect(many.get("other-02")).toEqual((await reference(store, "other-02")).hours);
    expect(many.get("nobody-09")).toEqual([]);
    expect((await store.rollups.readHourlyMany([], from, to)).size).toBe(0);
    expect((await store.rollups.readHourly("odd-01", from, to)).map((x) => x.samples)).toEqual([
      3, 1, 1, 1, 1,
    ]);
    const odd = (await store.rollups.readDaily("Europe/Berlin", span, ["odd-01"])).get("odd-01")!;
    expect(odd.find((d) => d.day.date === "2026-11-23")!.day.cpu.avg).toBeCloseTo(
      (10 + 12.5 + 33.3 + 0) / 4,
      10,
    );
  });

  it("keep a registered zone's days, read many servers at once, and rebuild to the same figures", async () => {
    const { store } = h!;
    await store.rollups.registerZone("Europe/Berlin");
    const servers = ["a-01", "b-02", "c-03"];
    for (const s of servers) await store.ingest(upload(`u-${s}`, s), awkwardRows(s));
    // Bounded steps: small batches until done.
    let steps = 0;
    while ((await store.rollups.refresh({ maxBatches: 1, batchSize: 1 })).more) steps++;
    expect(steps).toBeGreaterThan(0);
    const read = await store.rollups.readDaily("Europe/Berlin", span, [...servers, "never-seen"]);
    expect([...read.keys()].sort()).toEqual([...servers, "never-seen"].sort());
    expect(read.get("never-seen")!.every((d) => d.day.samples === 0)).toBe(true);
    for (const s of servers) expect(read.get(s)).toEqual((await reference(store, s)).days);
    const before = await store.rollups.readHourly("b-02", from, to);
    const rebuilt = await store.rollups.rebuild();
    expect(rebuilt.rebuilt).toBe(true);
    expect(await store.rollups.readHourly("b-02", from, to)).toEqual(before);
    expect((await store.rollups.readDaily("Europe/Berlin", span, servers)).get("c-03")).toEqual(
      read.get("c-03"),
    );
    expect(await store.rollups.refresh()).toMatchObject({ hours: 0, more: false });
  });

  it("are emptied with the samples (clearIngestedData) and refilled from what comes after", async () => {
    const { store } = h!;
    await store.ingest(upload("c1", "gone-01"), awkwardRows("gone-01"));
    await store.rollups.refresh();
    expect(await store.rollups.readHourly("gone-01", from, to)).toHaveLength(5);
    await store.clearIngestedData();
    await store.ingest(upload("c2", "new-01"), awkwardRows("new-01").slice(0, 2));
    await store.rollups.refresh();
    expect(await store.rollups.readHourly("gone-01", from, to)).toEqual([]);
    expect(await store.rollups.readHourly("new-01", from, to)).toEqual(
      (await reference(store, "new-01")).hours,
    );
  });

  it("retention: hour buckets go at their cutoff, days stay, and hours before the fold floor are never recomputed", async () => {
    const { store } = h!;
    await store.rollups.registerZone("Europe/Berlin");
    const rows = awkwardRows("kept-01");
    await store.ingest(upload("k1", "kept-01"), rows);
    await store.rollups.refresh();
    const days = (await store.rollups.readDaily("Europe/Berlin", span, ["kept-01"])).get("kept-01")!;
    const hours = await store.rollups.readHourly("kept-01", from, to);
    expect(hours).toHaveLength(5);

    const rawBefore = Date.parse("2026-11-25T00:00:00Z") - 1; // rounds up to the whole hour
    const pruned = await store.rollups.prune({ rawBefore, hourlyBefore: Date.parse("2026-11-23T10:30:00Z") });
    expect(pruned).toEqual({
      hourlyDeleted: 1,
      rawHorizon: Date.parse("2026-11-25T00:00:00Z"),
      // The hour after the newest bucket deleted.
      hourlyHorizon: Date.parse("2026-11-23T11:00:00Z"),
      // Nothing to seal: every hour before the raw horizon is also before the fold floor
      // (the hourly horizon + 2 days), which no refresh folds again.
      hoursSealed: 0,
    });
    // The horizon only moves forward.
    expect((await store.rollups.prune({ rawBefore: 0, hourlyBefore: 0 })).rawHorizon).toBe(pruned.rawHorizon);
    expect(await store.rollups.readHourly("kept-01", from, to)).toEqual(hours.slice(1));

    // The raw rows before the horizon are pruned (here: the store is cleared and only the later rows
    // come back), and a late row for an hour before the fold floor arrives (the ingest refuses such
    // rows; `central rebuild` of old files stores them): neither changes a bucket or a day.
    await store.clearIngestedData();
    const after = rows.filter((r) => r.timestamp >= rawBefore);
    await store.ingest(upload("k2", "kept-01"), after);
    await store.ingest(upload("k3", "kept-01"), [
      row("kept-01", "2026-11-24T12:00:00Z", "/", { cpuPercent: 77 }),
    ]);
    await store.rollups.refresh();
    expect(await store.rollups.readHourly("kept-01", from, to)).toEqual(hours.slice(1));
    expect((await store.rollups.readDaily("Europe/Berlin", span, ["kept-01"])).get("kept-01")).toEqual(days);
    await store.rollups.rebuild();
    expect(await store.rollups.readHourly("kept-01", from, to)).toEqual(hours.slice(1));
    expect((await store.rollups.readDaily("Europe/Berlin", span, ["kept-01"])).get("kept-01")).toEqual(days);
  });

  it("refuse daily reads in a zone whose midnights are not whole UTC hours", async () => {
    const { store } = h!;
    await expect(
      store.rollups.readDaily("Asia/Kolkata", localDays("2026-11-20", 3, "Asia/Kolkata"), ["x"]),
    ).rejects.toThrow(/whole UTC hours/);
  });
});
