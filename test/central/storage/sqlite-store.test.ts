import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createAgentToken, parseToken, secretMatches } from "../../../src/central/auth/tokens.js";
import { loadCentralConfig } from "../../../src/central/config.js";
import { IngestService } from "../../../src/central/ingest/ingest-service.js";
import { openStorage, StoreConfigError, StoreUnavailableError } from "../../../src/central/storage/open.js";
import { METRICS_MIGRATIONS } from "../../../src/central/storage/sqlite/schema.js";
import { SqliteStore } from "../../../src/central/storage/sqlite/sqlite-store.js";
import type { MetricRow } from "../../../src/protocol/index.js";
import { utcDateDaysAgo } from "../../helpers/clock.js";
import { csvFor, row } from "../ingest/fixtures.js";

let dir: string;
let store: SqliteStore;

beforeEach(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-store-"));
  store = new SqliteStore(path.join(dir, "srvutil.db"));
  await store.init();
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const upload = (id: string, server = "web-01") => ({
  uploadId: id,
  server,
  receivedAt: Date.now(),
  rawPath: `received_metrics/${server}/2026-11-25/${id}.csv`,
  sha256: id.padEnd(64, "0"),
  bytes: 100,
});

async function collect(it: AsyncIterable<MetricRow>): Promise<MetricRow[]> {
  const out: MetricRow[] = [];
  for await (const r of it) out.push(r);
  return out;
}

describe("SqliteStore", () => {
  it("counts new and duplicate rows exactly across multi-row insert batches and the remainder", async () => {
    const at = (i: number) => row("web-01", new Date(Date.UTC(2026, 10, 23) + i * 60_000).toISOString(), "/");
    const first = Array.from({ length: 200 }, (_, i) => at(i)); // 3 batches of 64 + 8 single rows
    const second = Array.from({ length: 301 }, (_, i) => at(i + 50)); // 150 old, 151 new, spread over both paths
    expect(await store.ingest(upload("m1"), first)).toMatchObject({
      rows: 200,
      inserted: 200,
      duplicates: 0,
    });
    expect(await store.ingest(upload("m2"), second)).toMatchObject({
      rows: 301,
      inserted: 151,
      duplicates: 150,
    });
    const stored = await collect(store.samples({ from: 0, to: Date.UTC(2030, 0, 1) }));
    expect(stored.map((r) => r.timestamp)).toEqual(Array.from({ length: 351 }, (_, i) => at(i).timestamp));
    expect(stored[350]).toEqual(at(350));
  });

  it("runs in WAL mode with the chosen sync level and migrates idempotently", async () => {
    expect(store.db.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(store.db.pragma("synchronous", { simple: true })).toBe(1); // NORMAL
    await store.init();
    const versions = store.db
      .prepare("SELECT version FROM schema_migrations WHERE component = 'metrics' ORDER BY version")
      .pluck()
      .all();
    expect(versions).toEqual(METRICS_MIGRATIONS.map((m) => m.version));
    expect(versions).toEqual([1, 2, 3, 4, 5]);
    const full = new SqliteStore(path.join(dir, "full.db"), { synchronous: "FULL" });
    expect(full.db.pragma("synchronous", { simple: true })).toBe(2);
    await full.close();
  });

  it("ingests in one transaction, counting new and duplicate rows, with growing seq and ts bounds", async () => {
    const a = [row("web-01", "2026-11-23T10:00:00Z", "/"), row("web-01", "2026-11-23T10:00:00Z", "/data")];
    const b = [row("web-01", "2026-11-23T10:00:00Z", "/"), row("web-01", "2026-11-23T10:05:00Z", "/")];
    expect(await store.ingest(upload("u1"), a)).toEqual({
      uploadId: "u1",
      rows: 2,
      inserted: 2,
      duplicates: 0,
    });
    expect(await store.ingest(upload("u2"), b)).toEqual({
      uploadId: "u2",
      rows: 2,
      inserted: 1,
      duplicates: 1,
    });
    const uploads = store.db
      .prepare("SELECT upload_id, seq, ts_min, ts_max, inserted FROM uploads ORDER BY seq")
      .all();
    expect(uploads).toEqual([
      {
        upload_id: "u1",
        seq: 1,
        ts_min: Date.parse("2026-11-23T10:00:00Z"),
        ts_max: Date.parse("2026-11-23T10:00:00Z"),
        inserted: 2,
      },
      {
        upload_id: "u2",
        seq: 2,
        ts_min: Date.parse("2026-11-23T10:00:00Z"),
        ts_max: Date.parse("2026-11-23T10:05:00Z"),
        inserted: 1,
      },
    ]);
    expect(await store.listServers()).toEqual([
      {
        server: "web-01",
        firstSeen: Date.parse("2026-11-23T10:00:00Z"),
        lastSeen: Date.parse("2026-11-23T10:05:00Z"),
        rows: 3,
      },
    ]);
    expect(await store.hasUpload("web-01", "u1".padEnd(64, "0"))).toBe(true);
    expect(await store.hasUpload("web-02", "u1".padEnd(64, "0"))).toBe(false);
  });

  it("rolls back the whole file when one statement fails", async () => {
    await store.ingest(upload("u1"), [row("web-01", "2026-11-23T10:00:00Z")]);
    // Same upload id again violates UNIQUE after the sample inserts: nothing of it may stay.
    await expect(store.ingest(upload("u1"), [row("web-01", "2026-11-24T10:00:00Z")])).rejects.toThrow(
      /UNIQUE/,
    );
    expect(store.db.prepare("SELECT COUNT(*) FROM samples").pluck().get()).toBe(1);
    expect((await store.listServers())[0]!.rows).toBe(1);
  });

  it("commits uploads of one turn together, and a failing one rolls back alone", async () => {
    // Issued in the same turn of the event loop: one group commit.
    const results = await Promise.allSettled([
      store.ingest(upload("g1"), [row("web-01", "2026-11-23T10:00:00Z")]),
      store.ingest(upload("g1"), [row("web-01", "2026-11-23T11:00:00Z")]), // duplicate upload id
      store.ingest(upload("g3", "web-02"), [row("web-02", "2026-11-23T12:00:00Z")]),
    ]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(String((results[1] as PromiseRejectedResult).reason)).toMatch(/UNIQUE/);
    const stored = store.db.prepare("SELECT server, ts FROM samples ORDER BY ts").all();
    expect(stored).toEqual([
      { server: "web-01", ts: Date.parse("2026-11-23T10:00:00Z") },
      { server: "web-02", ts: Date.parse("2026-11-23T12:00:00Z") },
    ]);
    expect(store.db.prepare("SELECT upload_id FROM uploads ORDER BY seq").pluck().all()).toEqual([
      "g1",
      "g3",
    ]);
    expect((await store.listServers()).map((s) => [s.server, s.rows])).toEqual([
      ["web-01", 1],
      ["web-02", 1],
    ]);
  });

  it("streams samples in [from, to) ordered by server, timestamp, mount across page boundaries", async () => {
    const rows: MetricRow[] = [];
    const t0 = Date.parse("2026-11-16T00:00:00Z");
    for (let i = 0; i < 3000; i++) {
      for (const m of ["/", "/data"]) rows.push(row("web-02", new Date(t0 + i * 60_000).toISOString(), m));
    }
    rows.push(row("db-01", "2026-11-16T00:00:00Z", "C:"));
    await store.ingest(
      upload("big", "web-02"),
      rows.filter((r) => r.server === "web-02"),
    );
    await store.ingest(
      upload("small", "db-01"),
      rows.filter((r) => r.server === "db-01"),
    );
    const all = await collect(store.samples({ from: t0, to: t0 + 3000 * 60_000 }));
    expect(all).toHaveLength(6001);
    expect(all[0]!.server).toBe("db-01");
    const keys = all.map((r) => `${r.server}|${String(r.timestamp).padStart(15, "0")}|${r.diskMount}`);
    expect(keys).toEqual([...keys].sort());
    expect(new Set(keys).size).toBe(keys.length);
    const window = await collect(
      store.samples({ from: t0 + 60_000, to: t0 + 3 * 60_000, servers: ["web-02"] }),
    );
    expect(window.map((r) => r.timestamp)).toEqual([t0 + 60_000, t0 + 60_000, t0 + 120_000, t0 + 120_000]);
    expect(window[0]).toEqual(rows[2]);
  });

  it("stores token hashes only, compares secrets, revokes per server", async () => {
    const token = await createAgentToken(store, "web-01");
    const parsed = parseToken(token)!;
    expect(parsed.secret).toHaveLength(64);
    const rec = (await store.tokens.find("agent", parsed.tokenId))!;
    expect(rec.secretHash).not.toContain(parsed.secret);
    expect(secretMatches(parsed.secret, rec.secretHash)).toBe(true);
    expect(
      secretMatches(
        parsed.secret.replace(/^./, (c) => (c === "a" ? "b" : "a")),
        rec.secretHash,
      ),
    ).toBe(false);
    const dump = JSON.stringify(store.db.prepare("SELECT * FROM agent_tokens").all());
    expect(dump).not.toContain(parsed.secret);
    await createAgentToken(store, "web-01");
    expect(await store.tokens.revokeAll("agent", "web-01", 123)).toBe(2);
    expect(await store.tokens.revokeAll("agent", "web-01", 456)).toBe(0);
    await expect(createAgentToken(store, "../etc")).rejects.toThrow(/server name/);
  });
});

describe("openStorage", () => {
  it("opens sqlite: URLs and refuses others with a clear message", async () => {
    const s = await openStorage(`sqlite:${path.join(dir, "other.db")}`);
    expect(await s.ping()).toBe(true);
    await s.close();
    // Nobody listens on port 1: the database is away (retry later), not misconfigured.
    await expect(openStorage("postgres://u@127.0.0.1:1/db")).rejects.toThrow(StoreUnavailableError);
    await expect(openStorage("mysql://x")).rejects.toThrow(StoreConfigError);
    await expect(openStorage("mysql://x")).rejects.toThrow(/unsupported/);
    expect(() => loadCentralConfig({ SRVUTIL_SQLITE_SYNCHRONOUS: "OFF" })).toThrow(
      /SRVUTIL_SQLITE_SYNCHRONOUS: expected NORMAL or FULL, got 'OFF'/,
    );
    const full = await openStorage(`sqlite:${path.join(dir, "full-open.db")}`, {
      synchronous: loadCentralConfig({ SRVUTIL_SQLITE_SYNCHRONOUS: "full" }).sqliteSynchronous,
    });
    expect((full as SqliteStore).db.pragma("synchronous", { simple: true })).toBe(2);
    await full.close();
  });
});

describe("IngestService all-or-nothing", () => {
  it("removes the raw file when the database commit fails", async () => {
    // Recent data (real clock): the ingest horizon would refuse a fixed date one day.
    const service = new IngestService({
      store,
      dataDir: dir,
      receivedMetricsDir: path.join(dir, "received_metrics"),
      maxFutureSkewMs: 86_400_000,
      maxRows: 1000,
    });
    const ok = await service.ingestFile(Buffer.from(csvFor("web-01", `${utcDateDaysAgo(8)}T10:00:00Z`, 2)));
    expect(ok.inserted).toBe(4);
    store.db.exec("DROP TABLE server_stats"); // the next commit fails inside the transaction
    await expect(
      service.ingestFile(Buffer.from(csvFor("web-01", `${utcDateDaysAgo(7)}T10:00:00Z`, 2))),
    ).rejects.toThrow();
    const files = readdirSync(path.join(dir, "received_metrics"), { recursive: true }).filter((f) =>
      String(f).endsWith(".csv"),
    );
    expect(files).toHaveLength(1);
    expect(existsSync(path.join(dir, ok.rawPath))).toBe(true);
    expect(store.db.prepare("SELECT COUNT(*) FROM samples").pluck().get()).toBe(4);
    expect(
      readdirSync(path.join(dir, "received_metrics"), { recursive: true }).some((f) =>
        String(f).includes(".tmp-"),
      ),
    ).toBe(false);
    await service.close();
  });
});
