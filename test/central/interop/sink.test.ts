/**
 * The foreign inputs' one way in (src/central/ingest/interop/sink.ts), on
 * both backends with real stores and the real clock: CPU busy % from
 * counters across batches (a server's first reading primes, a reset skips),
 * idempotent replays, writers limited to their servers, nothing stored from
 * a refused batch, and a raw CSV v1 file per server.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createAgentToken, createRelayToken, relayAllows } from "../../../src/central/auth/tokens.js";
import { IngestService } from "../../../src/central/ingest/ingest-service.js";
import type { PointGroup } from "../../../src/central/ingest/interop/point-group.js";
import { InteropSink } from "../../../src/central/ingest/interop/sink.js";
import type { Storage } from "../../../src/central/storage/store.js";
import type { MetricRow } from "../../../src/protocol/index.js";
import { storeBackends, type TempStore } from "../../helpers/store-backends.js";

const GiB = 1024 ** 3;
const backends = await storeBackends();

/** A minute-aligned instant some hours ago, on the real clock. */
const base = Math.floor((Date.now() - 3 * 3_600_000) / 60_000) * 60_000;

function group(
  server: string,
  minute: number,
  idle: number,
  total: number,
  extra: Partial<PointGroup> = {},
): PointGroup {
  return {
    server,
    timestamp: base + minute * 60_000,
    cpuCounters: { idle, total, start: null, series: 16 },
    memory: { totalBytes: 8 * GiB, availableBytes: 6 * GiB },
    disks: [{ mount: "/", fsType: "ext4", totalBytes: 100 * GiB, usedBytes: 40 * GiB, freeBytes: 55 * GiB }],
    ...extra,
  };
}

describe.each(backends)("interop sink: $name", (backend) => {
  let temp: TempStore;
  let store: Storage;
  let data: string;
  let sink: InteropSink;

  beforeEach(async (ctx) => {
    if (backend.skipReason !== undefined) ctx.skip(backend.skipReason);
    temp = await backend.make();
    store = temp.store;
    data = mkdtempSync(path.join(os.tmpdir(), "srvutil-sink-"));
    const ingest = new IngestService({
      store,
      dataDir: data,
      receivedMetricsDir: path.join(data, "received_metrics"),
      maxFutureSkewMs: 86_400_000,
      maxRows: 200_000,
      rawStore: "files",
    });
    sink = new InteropSink({ ingest, store });
  });
  afterEach(async () => {
    await temp?.cleanup();
    if (data !== undefined) rmSync(data, { recursive: true, force: true });
  });

  async function rowsOf(server: string): Promise<MetricRow[]> {
    const rows: MetricRow[] = [];
    for await (const r of store.samples({
      servers: [server],
      from: base - 3_600_000,
      to: base + 86_400_000,
    })) {
      rows.push(r);
    }
    return rows;
  }

  it("primes on a server's first reading, then stores busy % over each interval across batches", async () => {
    const first = await sink.accept([group("web-01", 0, 1000, 2000)], "remote_write", { kind: "scrape" });
    expect(first).toMatchObject({ samples: 0, rows: 0, primed: 1 });
    expect(await rowsOf("web-01")).toHaveLength(0);
    // 60 s later: 120 s of CPU time counted, 30 of them idle → 75 % busy.
    const second = await sink.accept(
      [group("web-01", 1, 1030, 2120), group("web-01", 2, 1120, 2240)],
      "remote_write",
      { kind: "scrape" },
    );
    expect(second).toMatchObject({ samples: 2, rows: 2, inserted: 2, servers: ["web-01"] });
    const rows = await rowsOf("web-01");
    expect(rows.map((r) => [r.timestamp - base, r.cpuPercent, r.intervalSeconds])).toEqual([
      [60_000, 75, 60],
      [120_000, 25, 60],
    ]);
    expect(rows[0]).toMatchObject({
      memTotalBytes: 8 * GiB,
      memUsedBytes: 2 * GiB,
      memAvailableBytes: 6 * GiB,
      diskMount: "/",
      diskTotalBytes: 100 * GiB,
      diskUsedBytes: 40 * GiB,
      diskFreeBytes: 55 * GiB,
    });
    // One raw CSV v1 file per server and batch that gave rows.
    const day = new Date(Date.now()).toISOString().slice(0, 10);
    const files = readdirSync(path.join(data, "received_metrics", "web-01", day));
    expect(files).toHaveLength(1);
    expect(readFileSync(path.join(data, "received_metrics", "web-01", day, files[0]!), "utf8")).toMatch(
      /^timestamp,server,cpu_percent,/,
    );
  });

  it("changes nothing when a batch is sent again, and skips an interval over a reset", async () => {
    const batch = [group("db-01", 0, 100, 200), group("db-01", 1, 130, 320)];
    expect(await sink.accept(batch, "otlp", { kind: "scrape" })).toMatchObject({ samples: 1, inserted: 1 });
    const again = await sink.accept(batch, "otlp", { kind: "scrape" });
    expect(again).toMatchObject({ samples: 0, inserted: 0, stale: 2 });
    expect(await rowsOf("db-01")).toHaveLength(1);
    // The counters went down (an exporter restart): that interval is skipped, the next one counts.
    const reset = await sink.accept([group("db-01", 2, 5, 10), group("db-01", 3, 20, 70)], "otlp", {
      kind: "scrape",
    });
    expect(reset).toMatchObject({ samples: 1, primed: 1 });
    expect((await rowsOf("db-01")).map((r) => r.cpuPercent)).toEqual([75, 75]);
    // Another input's baselines are its own: the same server's first OTLP-free reading primes again.
    expect(await sink.accept([group("db-01", 4, 30, 90)], "collectd", { kind: "scrape" })).toMatchObject({
      primed: 1,
      samples: 0,
    });
  });

  it("leaves out a reading split over two requests instead of comparing part of its CPUs with the whole", async () => {
    const whole = (minute: number, idle: number, total: number) => group("split-01", minute, idle, total);
    const part = (minute: number, idle: number, total: number) => {
      const g = group("split-01", minute, idle, total);
      return { ...g, cpuCounters: { ...g.cpuCounters!, series: 8 } };
    };
    await sink.accept([whole(0, 1000, 2000)], "remote_write", { kind: "scrape" });
    // Minute 1 arrives in two halves (8 of the 16 series each): neither is counted.
    const first = await sink.accept([part(1, 520, 1060)], "remote_write", { kind: "scrape" });
    const second = await sink.accept([part(1, 520, 1060)], "remote_write", { kind: "scrape" });
    expect([first.partial, second.partial]).toEqual([1, 1]);
    // Minute 2 is whole again: busy over the two minutes since minute 0 (240 s counted, 60 idle → 75 %).
    const next = await sink.accept([whole(2, 1060, 2240)], "remote_write", { kind: "scrape" });
    expect(next).toMatchObject({ samples: 1, primed: 0 });
    expect((await rowsOf("split-01")).map((r) => [r.cpuPercent, r.intervalSeconds])).toEqual([[75, 120]]);
    // A baseline that was itself partial is replaced by the next whole reading, as after a reset.
    await sink.accept([part(10, 10, 20)], "otlp", { kind: "scrape" });
    expect(await sink.accept([whole(11, 30, 100)], "otlp", { kind: "scrape" })).toMatchObject({ primed: 1 });
  });

  it("reports an overlay root only when it is the one disk left, as the agent does in a container", async () => {
    const overlayRoot = {
      mount: "/",
      fsType: "overlay",
      totalBytes: 50 * GiB,
      usedBytes: 10 * GiB,
      freeBytes: 38 * GiB,
    };
    const data = {
      mount: "/data",
      fsType: "xfs",
      totalBytes: 200 * GiB,
      usedBytes: 20 * GiB,
      freeBytes: 180 * GiB,
    };
    await sink.accept([group("ctr-01", 0, 0, 100, { disks: [overlayRoot] })], "otlp", { kind: "scrape" });
    await sink.accept([group("ctr-01", 1, 10, 200, { disks: [overlayRoot] })], "otlp", { kind: "scrape" });
    await sink.accept([group("ctr-01", 2, 20, 300, { disks: [overlayRoot, data] })], "otlp", {
      kind: "scrape",
    });
    expect((await rowsOf("ctr-01")).map((r) => [(r.timestamp - base) / 60_000, r.diskMount])).toEqual([
      [1, "/"],
      [2, "/data"],
    ]);
  });

  it("takes a rate computed by the source without a baseline (Telegraf)", async () => {
    const { cpuCounters: _none, ...rest } = group("app-01", 0, 0, 0);
    const result = await sink.accept(
      [{ ...rest, cpuBusyPercent: { value: 12.345, intervalSeconds: 10 } }],
      "telegraf",
      { kind: "scrape" },
    );
    expect(result).toMatchObject({ samples: 1, primed: 0 });
    expect((await rowsOf("app-01"))[0]).toMatchObject({ cpuPercent: 12.35, intervalSeconds: 10 });
  });

  it("lets an agent token write its own server only and a relay token its glob, storing nothing of a refused batch", async () => {
    const agentToken = await createAgentToken(store, "web-01");
    const agentId = agentToken.split("_")[1]!;
    const batch = [group("web-01", 0, 0, 100), group("web-01", 1, 10, 200), group("db-01", 1, 10, 200)];
    await expect(
      sink.accept(batch, "remote_write", { kind: "agent", tokenId: agentId, server: "web-01" }),
    ).rejects.toMatchObject({ status: 403, reason: "forbidden_server" });
    await createRelayToken(store, "prom-fra", "web-*");
    await expect(
      sink.accept(batch, "remote_write", { kind: "relay", tokenId: "x", name: "prom-fra", servers: "web-*" }),
    ).rejects.toMatchObject({ status: 403, reason: "forbidden_server" });
    expect(await rowsOf("web-01")).toHaveLength(0);
    // Nothing moved either: the web-01 groups still prime and count as if never sent.
    const ok = await sink.accept(batch.slice(0, 2), "remote_write", {
      kind: "relay",
      tokenId: "x",
      name: "prom-fra",
      servers: "web-*",
    });
    expect(ok).toMatchObject({ samples: 1, primed: 1, servers: ["web-01"] });
    expect(relayAllows("web-*", "web-01")).toBe(true);
    expect(relayAllows("web-*", "webx01")).toBe(false);
    expect(relayAllows("web.*", "web.01")).toBe(true);
    expect(relayAllows("web.*", "webx01")).toBe(false);
    expect(relayAllows("*", "anything")).toBe(true);
  });

  it("refuses a batch that gives no sample, naming the families it lacked", async () => {
    const noMemory = { ...group("web-02", 1, 10, 200) };
    delete noMemory.memory;
    await sink.accept([group("web-02", 0, 0, 100)], "remote_write", { kind: "scrape" });
    const err = await sink
      .accept([noMemory, { ...group("web-02", 2, 20, 300), disks: [] }], "remote_write", { kind: "scrape" })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 400, reason: "missing_families" });
    expect(String((err as Error).message)).toMatch(/lacked memory, disk/);
    expect(await rowsOf("web-02")).toHaveLength(0);
  });

  it("refuses a server name that cannot be one, and a sample older than the ingest horizon, storing nothing", async () => {
    await expect(
      sink.accept([group("../etc", 0, 0, 1)], "remote_write", { kind: "scrape" }),
    ).rejects.toMatchObject({ status: 400, reason: "bad_request" });
    const old = Date.now() - 15 * 31 * 86_400_000;
    const a = { ...group("old-01", 0, 0, 100), timestamp: old };
    const b = { ...group("old-01", 1, 10, 200), timestamp: old + 60_000 };
    const fresh = [group("new-01", 0, 0, 100), group("new-01", 1, 10, 200)];
    await expect(sink.accept([a, b, ...fresh], "remote_write", { kind: "scrape" })).rejects.toMatchObject({
      status: 422,
      reason: "sample_too_old",
    });
    expect(await rowsOf("new-01")).toHaveLength(0);
  });

  it("refuses a batch whose one server breaks a mount cap, storing nothing of the other servers", async () => {
    const disks = Array.from({ length: 65 }, (_, i) => ({
      mount: `/data${i}`,
      fsType: "ext4",
      totalBytes: 100 * GiB,
      usedBytes: 40 * GiB,
      freeBytes: 55 * GiB,
    }));
    // a-01 sorts first: before its file was stored, b-01's 65 mounts (64 at most a sample) were checked.
    const batch = [
      group("a-01", 0, 0, 100),
      group("a-01", 1, 10, 200),
      group("b-01", 0, 0, 100, { disks }),
      group("b-01", 1, 10, 200, { disks }),
    ];
    await expect(sink.accept(batch, "remote_write", { kind: "scrape" })).rejects.toMatchObject({
      status: 400,
      reason: "too_many_mounts",
    });
    expect(await rowsOf("a-01")).toHaveLength(0);
    // The refused batch held no mount back: a-01 alone is stored when sent again.
    await sink.accept(batch.slice(0, 2), "remote_write", { kind: "scrape" });
    expect((await rowsOf("a-01")).map((r) => r.diskMount)).toEqual(["/"]);
  });
});
