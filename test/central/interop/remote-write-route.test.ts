/**
 * POST /api/v1/prometheus/write against `central serve` in-process, over
 * loopback, on SQLite and PostgreSQL: what is stored, replays, the refusals
 * (each stores nothing) and the envelope (content type, encoding, auth).
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createRelayToken } from "../../../src/central/auth/tokens.js";
import { type RunningCentral, startCentral } from "../../../src/central/central-process.js";
import { loadCentralConfig } from "../../../src/central/config.js";
import { createAgentToken } from "../../../src/central/http/app.js";
import type { Storage } from "../../../src/central/storage/store.js";
import type { MetricRow } from "../../../src/protocol/index.js";
import { REPO_ROOT } from "../../helpers/cli.js";
import {
  encodeWriteRequest,
  nodeExporterSeries,
  postRemoteWrite,
  STALE_NAN_BITS,
  snappyEncode,
  varint,
} from "../../helpers/remote-write-encoding.js";
import { storeBackends, type TempStore } from "../../helpers/store-backends.js";

const BACKENDS = await storeBackends();
const MAX_BODY_BYTES = 256 * 1024;
const MINUTE = 60_000;

describe.each(BACKENDS)("POST /api/v1/prometheus/write on $name", ({ skipReason, make }) => {
  let t: TempStore;
  let dir: string;
  let central: RunningCentral;
  let bearer: string;
  // Three scrapes a minute apart, ending a minute ago (real clock), whole seconds as Prometheus sends.
  const base = Math.floor((Date.now() - 4 * MINUTE) / 1000) * 1000;
  const times = [base, base + MINUTE, base + 2 * MINUTE];

  beforeEach((ctx) => {
    if (skipReason !== undefined) ctx.skip(skipReason);
  });
  beforeAll(async () => {
    if (skipReason !== undefined) return;
    dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-remote-write-"));
    t = await make();
    const config = loadCentralConfig({
      SRVUTIL_DATA_DIR: dir,
      SRVUTIL_LISTEN: "127.0.0.1:0",
      SRVUTIL_REPORT_CRON: "off",
      SRVUTIL_MAX_BODY_BYTES: String(MAX_BODY_BYTES),
    });
    central = await startCentral(config, { store: t.store });
    bearer = `Bearer ${await createAgentToken(t.store, "web-01")}`;
  }, 60_000);
  afterAll(async () => {
    await central?.close();
    await t?.cleanup();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  const rows = async (store: Storage, server = "web-01"): Promise<MetricRow[]> => {
    const out: MetricRow[] = [];
    for await (const r of store.samples({ from: 0, to: Date.now() + MINUTE, servers: [server] })) out.push(r);
    return out.sort((a, b) => a.timestamp - b.timestamp || a.diskMount.localeCompare(b.diskMount));
  };
  const rawFiles = (): string[] => {
    const root = path.join(dir, "received_metrics");
    return existsSync(root) ? readdirSync(root, { recursive: true }).map(String).sort() : [];
  };
  const firstRawCsv = async (): Promise<string> => {
    if (t.store.kind === "postgres") {
      const [raw] = await t.store.rawUploads.page(null, 1);
      expect(raw).toBeDefined();
      return Buffer.from(raw!.bytes).toString("utf8");
    }
    const files = rawFiles().filter((f) => f.endsWith(".csv"));
    expect(files.length).toBeGreaterThanOrEqual(1);
    return readFileSync(path.join(dir, "received_metrics", files[0]!), "utf8");
  };
  const state = async () => ({
    web01: (await rows(t.store)).length,
    web02: (await rows(t.store, "web-02")).length,
    servers: (await t.store.listServers()).length,
    files: rawFiles().length,
    rawInDatabase: await t.store.rawUploads.count(),
  });
  const post = (
    body: Uint8Array,
    o: Parameters<typeof postRemoteWrite>[3] = {},
    auth: string | null = bearer,
  ) => postRemoteWrite(central.url, auth, body, o);
  const refused = async (res: Response, status: number, reason: string, message?: RegExp) => {
    const body = (await res.json()) as { error: string; reason: string; code: string };
    expect({ status: res.status, reason: body.reason }).toEqual({ status, reason });
    if (message !== undefined) expect(body.error).toMatch(message);
    return body;
  };

  it("stores node_exporter series as CSV v1 rows (204): busy from the counters, memory, real filesystems only", async () => {
    const res = await post(encodeWriteRequest(nodeExporterSeries("web-01:9100", times)));
    expect(res.status, await res.clone().text()).toBe(204);
    expect(await res.text()).toBe("");
    const stored = await rows(t.store);
    // The first scrape primes the CPU counters; every later one is a sample.
    const later = stored.filter((r) => r.timestamp > times[0]!);
    expect(later.map((r) => [r.timestamp, r.diskMount])).toEqual([
      [times[1], "/"],
      [times[2], "/"],
    ]);
    for (const r of later) {
      expect(r).toMatchObject({
        server: "web-01",
        memTotalBytes: 8_000_000_000,
        memAvailableBytes: 6_000_000_000,
        memUsedBytes: 2_000_000_000,
        diskTotalBytes: 100e9,
        diskUsedBytes: 40e9,
        diskFreeBytes: 55e9,
      });
      expect(r.cpuPercent).toBeCloseTo(20, 6);
    }
    // The raw CSV v1 file, as for an agent's upload: in received_metrics/ (SQLite) or the database (PostgreSQL).
    const csv = await firstRawCsv();
    expect(csv.split("\n")[0]).toMatch(/^timestamp,server,cpu_percent/);
    expect(csv).toContain(",web-01,");
  });

  it("answers a replay of the same body 204 and changes nothing", async () => {
    const body = encodeWriteRequest(nodeExporterSeries("web-01:9100", times));
    const before = await state();
    const storedBefore = await rows(t.store);
    const res = await post(body);
    expect(res.status).toBe(204);
    expect(await state()).toEqual(before);
    expect(await rows(t.store)).toEqual(storedBefore);
  });

  it("accepts the token as HTTP Basic's password", async () => {
    const token = bearer.slice("Bearer ".length);
    const basic = `Basic ${Buffer.from(`prometheus:${token}`).toString("base64")}`;
    const next = [times[2]! + MINUTE];
    // The counters go on from the third scrape (index 3), so this reading is an interval of its own.
    const res = await post(
      encodeWriteRequest(nodeExporterSeries("web-01:9100", next, { firstIndex: 3 })),
      {},
      basic,
    );
    expect(res.status).toBe(204);
    const stored = (await rows(t.store)).filter((r) => r.timestamp === next[0]);
    expect(stored.map((r) => r.diskMount)).toEqual(["/"]);
    expect(stored[0]!.cpuPercent).toBeCloseTo(20, 6);
  });

  it("answers a metadata-only request (captured from Prometheus 2.42) 204 and stores nothing", async () => {
    const before = await state();
    const body = readFileSync(path.join(REPO_ROOT, "test/fixtures/interop/remote-write-2.42-metadata.bin"));
    const res = await post(body, { raw: true });
    expect(res.status).toBe(204);
    expect(await state()).toEqual(before);
  });

  it("drops stale markers: a body of stale markers only is 204 and stores nothing", async () => {
    const before = await state();
    const later = times[2]! + 2 * MINUTE;
    const series = nodeExporterSeries("web-01:9100", [later]).map((s) => ({
      ...s,
      samples: s.samples.map((x) => ({ ...x, value: { bits: STALE_NAN_BITS } })),
    }));
    const res = await post(encodeWriteRequest(series));
    expect(res.status, await res.clone().text()).toBe(204);
    expect(await state()).toEqual(before);
  });

  it("refuses a series of a server the token may not write (403) and stores none of the batch", async () => {
    const before = await state();
    const later = [times[2]! + 3 * MINUTE, times[2]! + 4 * MINUTE];
    const series = [...nodeExporterSeries("web-01:9100", later), ...nodeExporterSeries("web-02:9100", later)];
    await refused(await post(encodeWriteRequest(series)), 403, "forbidden_server", /web-02/);
    expect(await state()).toEqual(before);
  });

  it("refuses a remote_write 2.0 body (415) before reading it", async () => {
    const before = await state();
    const res = await post(encodeWriteRequest(nodeExporterSeries("web-01:9100", [times[2]! + 5 * MINUTE])), {
      headers: { "content-type": "application/x-protobuf;proto=io.prometheus.write.v2.Request" },
    });
    await refused(res, 415, "unsupported_media_type", /only 1\.0 \(prometheus\.WriteRequest\)/);
    expect(await state()).toEqual(before);
    // 1.0 named explicitly, as Prometheus 3 does, is accepted.
    const v1 = await post(encodeWriteRequest([]), {
      headers: { "content-type": "application/x-protobuf;proto=prometheus.WriteRequest" },
    });
    expect(v1.status).toBe(204);
  });

  it("refuses malformed bodies (400) with what was wrong, storing nothing", async () => {
    const before = await state();
    const good = encodeWriteRequest(nodeExporterSeries("web-01:9100", [times[2]! + 6 * MINUTE]));
    const cases: [Uint8Array, RegExp][] = [
      // Not snappy at all.
      [Buffer.from("node_load1 0.5\n"), /not valid snappy/],
      // Snappy of a cut-off WriteRequest.
      [snappyEncode(good.subarray(0, good.length - 3)), /not a valid protobuf message/],
      // A snappy block whose copy points before the start.
      [Buffer.from([8, 0, 0x61, 1 | (3 << 2), 9]), /refers 9 bytes back/],
    ];
    for (const [body, message] of cases) {
      await refused(await post(body, { raw: true }), 400, "bad_body", message);
    }
    expect(await state()).toEqual(before);
  });

  it("refuses what is too large (413): on the wire, declared uncompressed, or too many samples", async () => {
    const before = await state();
    await refused(await post(Buffer.alloc(MAX_BODY_BYTES + 1), { raw: true }), 413, "too_large");
    // 1 MiB declared by a 7-byte body: refused on the preamble.
    const declared = Buffer.from([...varint(1 << 20), 0, 0x61]);
    await refused(await post(declared, { raw: true }), 413, "too_large", /SRVUTIL_MAX_BODY_BYTES/);
    expect(await state()).toEqual(before);
  });

  it("refuses the wrong envelope: content type, encoding (415), no or a bad token (401)", async () => {
    const body = encodeWriteRequest(nodeExporterSeries("web-01:9100", [times[2]! + 7 * MINUTE]));
    const before = await state();
    await refused(
      await post(body, { headers: { "content-type": "application/json" } }),
      415,
      "unsupported_media_type",
    );
    await refused(
      await post(body, { headers: { "content-encoding": "gzip" } }),
      415,
      "unsupported_encoding",
      /snappy/,
    );
    await refused(await post(body, {}, null), 401, "unauthorized");
    await refused(await post(body, {}, "Bearer srvu_not-a-token"), 401, "unauthorized");
    expect(await state()).toEqual(before);
  });

  it("ignores families srvutil does not read, and refuses series without the server label (400)", async () => {
    const before = await state();
    const unread = encodeWriteRequest([
      {
        labels: { __name__: "node_load1", instance: "web-01:9100" },
        samples: [{ value: 1, timestampMs: times[2]! }],
      },
    ]);
    expect((await post(unread)).status).toBe(204);
    const unlabelled = nodeExporterSeries("web-01:9100", [times[2]! + 8 * MINUTE]).map((s) => {
      const { instance: _dropped, ...labels } = s.labels;
      return { ...s, labels };
    });
    await refused(await post(encodeWriteRequest(unlabelled)), 400, "bad_request", /no 'instance' label/);
    expect(await state()).toEqual(before);
  });

  it("lets a relay token write every server its glob allows in one batch, and no other", async () => {
    const relay = `Bearer ${await createRelayToken(t.store, "prom-fra", "db-*")}`;
    const two = [times[0]!, times[1]!];
    const fleet = [...nodeExporterSeries("db-01:9100", two), ...nodeExporterSeries("db-02:9100", two)];
    expect((await post(encodeWriteRequest(fleet), {}, relay)).status).toBe(204);
    for (const server of ["db-01", "db-02"]) {
      expect((await rows(t.store, server)).map((r) => [r.timestamp, r.diskMount])).toEqual([[times[1], "/"]]);
    }
    const before = await state();
    const outside = nodeExporterSeries("web-01:9100", [times[2]! + 9 * MINUTE], { firstIndex: 4 });
    await refused(await post(encodeWriteRequest(outside), {}, relay), 403, "forbidden_server");
    expect(await state()).toEqual(before);
  });

  it("refuses a batch older than the ingest horizon (422) and one without the families a sample needs (400)", async () => {
    const before = await state();
    const old = Date.now() - 2 * 365 * 24 * 60 * MINUTE;
    // A server with no CPU baseline yet (web-01's would make these readings replays, skipped).
    const web03 = `Bearer ${await createAgentToken(t.store, "web-03")}`;
    const tooOld = nodeExporterSeries("web-03:9100", [old, old + MINUTE]);
    await refused(await post(encodeWriteRequest(tooOld), {}, web03), 422, "sample_too_old");
    // Memory only, two readings: no sample can be made.
    const later = [times[2]! + 10 * MINUTE, times[2]! + 11 * MINUTE];
    const memoryOnly = nodeExporterSeries("web-01:9100", later).filter((s) =>
      s.labels.__name__!.startsWith("node_memory_"),
    );
    await refused(await post(encodeWriteRequest(memoryOnly)), 400, "missing_families", /cpu|disk/);
    expect(await state()).toEqual(before);
  });
});
