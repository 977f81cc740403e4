/**
 * POST /v1/metrics over loopback against `central serve` as it runs: the
 * hostmetrics receiver's shape (fixture) in protobuf and JSON, gzip or not;
 * replays; refusals that store nothing; partial_success; the body cap after
 * decompression; families missing.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createRelayToken } from "../../../src/central/auth/tokens.js";
import { createAgentToken } from "../../../src/central/http/app.js";
import { type FuzzCentral, startFuzzCentral } from "../../fuzz/central.js";
import { asString, asVarint, wireFields } from "../../helpers/otlp-encoding.js";
import { findTestPostgres } from "../../helpers/postgres.js";
import { hostmetricsFixture, otlpJsonToProtobuf } from "./otlp-encode.js";
import { gzipBomb, post, samplesOf } from "./push-harness.js";

type Json = Record<string, unknown>;
const PROTOBUF = "application/x-protobuf";
const MAX_BODY = 1024 * 1024;

function withHost(request: Json, host: string): Json {
  for (const rm of request.resourceMetrics as Json[]) {
    const attrs = (rm.resource as Json).attributes as Json[];
    (attrs.find((a) => a.key === "host.name")!.value as Json).stringValue = host;
  }
  return request;
}

/** Adds `seconds` to every CPU's user and idle time: a later pair of cycles than the fixture's own. */
function advanceCpu(request: Json, seconds: number): Json {
  for (const rm of request.resourceMetrics as Json[]) {
    for (const sm of rm.scopeMetrics as Json[]) {
      for (const m of sm.metrics as Json[]) {
        if (m.name !== "system.cpu.time") continue;
        for (const p of (m.sum as Json).dataPoints as Json[]) {
          const state = ((p.attributes as Json[]).find((a) => a.key === "state")!.value as Json).stringValue;
          if (state === "user" || state === "idle") p.asDouble = (p.asDouble as number) + seconds;
        }
      }
    }
  }
  return request;
}

function onlyMetric(request: Json, name: string): Json {
  for (const rm of request.resourceMetrics as Json[]) {
    for (const sm of rm.scopeMetrics as Json[])
      sm.metrics = (sm.metrics as Json[]).filter((m) => m.name === name);
  }
  return request;
}

/** google.rpc.Status of a protobuf error answer. */
function rpcStatus(body: Buffer): { code: bigint; message: string } {
  const fields = [...wireFields(body)];
  return {
    code: asVarint(fields.find((f) => f.field === 1)!, "code"),
    message: asString(fields.find((f) => f.field === 2)!, "message"),
  };
}

const PG = await findTestPostgres();

describe.each(["sqlite", "postgres"] as const)("POST /v1/metrics (OTLP/HTTP) on %s", (backend) => {
  let c: FuzzCentral;
  let token: string;
  // Every batch lies in the past: the last one ends 6 minutes after this.
  const lastCycle = Date.now() - 30 * 60_000;
  const boot = lastCycle - 86_400_000;

  beforeAll(async () => {
    if (backend === "postgres" && PG.url === undefined) return;
    const where =
      backend === "sqlite" ? { kind: "sqlite" as const } : { kind: "postgres" as const, url: PG.url! };
    c = await startFuzzCentral(where, { SRVUTIL_MAX_BODY_BYTES: String(MAX_BODY) });
    token = await createAgentToken(c.store, "otel-web-01");
  });
  beforeEach((ctx) => {
    if (backend === "postgres" && PG.url === undefined) ctx.skip(PG.skipReason);
  });
  afterAll(async () => {
    await c?.close();
  });

  const send = (body: Buffer | string, type: string, auth = token, gzip = false) =>
    post(c, "/v1/metrics", body, { authorization: `Bearer ${auth}`, "content-type": type }, { gzip });

  it("stores the hostmetrics shape sent as gzip protobuf: the second cycle is a sample, an empty response", async () => {
    const res = await send(otlpJsonToProtobuf(hostmetricsFixture(lastCycle, boot)), PROTOBUF, token, true);
    expect(res.status).toBe(200);
    expect(res.contentType).toBe(PROTOBUF);
    expect(res.body.length).toBe(0);
    const rows = await samplesOf(c, "otel-web-01");
    // The first cycle primes the CPU baseline; the second: Δbusy 40 of Δtotal 120 s.
    expect(rows.map((r) => [r.timestamp, r.diskMount])).toEqual([
      [lastCycle, "/"],
      [lastCycle, "/boot/efi"],
    ]);
    expect(rows[0]!.cpuPercent).toBe(33.33);
    expect(rows[0]).toMatchObject({
      memTotalBytes: 4_000_000_000,
      memAvailableBytes: 1_700_000_000,
      memUsedBytes: 2_300_000_000,
      diskTotalBytes: 95e9,
      diskUsedBytes: 20e9,
      diskFreeBytes: 70e9,
    });
  });

  it("a replay (now as JSON) answers {} and changes nothing", async () => {
    const before = await c.stored();
    const res = await send(JSON.stringify(hostmetricsFixture(lastCycle, boot)), "application/json");
    expect(res.status).toBe(200);
    expect(res.contentType).toMatch(/^application\/json/);
    expect(JSON.parse(res.body.toString())).toEqual({});
    expect(await c.stored()).toEqual(before);
  });

  it("refuses a malformed body with 400 in the request's encoding, storing nothing", async () => {
    const before = await c.stored();
    const proto = await send(Buffer.from([0x0a, 0x05, 0x01]), PROTOBUF);
    expect(proto.status).toBe(400);
    expect(proto.contentType).toBe(PROTOBUF);
    const status = rpcStatus(proto.body);
    expect(status.code).toBe(3n);
    expect(status.message).toMatch(/SRVUTIL_E_BAD_BODY: malformed protobuf: field 1 claims 5 bytes/);
    const json = await send('{"resourceMetrics": 7}', "application/json");
    expect(json.status).toBe(400);
    expect(JSON.parse(json.body.toString())).toMatchObject({
      reason: "bad_body",
      error: "resourceMetrics must be an array",
    });
    expect(await c.stored()).toEqual(before);
  });

  it("403 for a server the token may not write, nothing stored", async () => {
    const before = await c.stored();
    const res = await send(
      JSON.stringify(withHost(hostmetricsFixture(lastCycle + 120_000, boot), "web-02")),
      "application/json",
    );
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body.toString())).toMatchObject({ reason: "forbidden_server" });
    expect(await c.stored()).toEqual(before);
  });

  it("a body over the cap after decompression is 413 (gzip bomb), nothing stored", async () => {
    const before = await c.stored();
    const res = await post(c, "/v1/metrics", gzipBomb(50 * MAX_BODY), {
      authorization: `Bearer ${token}`,
      "content-type": PROTOBUF,
      "content-encoding": "gzip",
    });
    expect(res.status, rpcStatus(res.body).message).toBe(413);
    expect(rpcStatus(res.body).message).toMatch(
      /SRVUTIL_E_TOO_LARGE: decompressed body exceeds the limit of 1048576 bytes/,
    );
    expect(await c.stored()).toEqual(before);
  });

  it("only system.cpu.time: 400 naming the missing families, nothing stored", async () => {
    const before = await c.stored();
    const res = await send(
      JSON.stringify(
        onlyMetric(advanceCpu(hostmetricsFixture(lastCycle + 240_000, boot), 500), "system.cpu.time"),
      ),
      "application/json",
    );
    expect(res.status, `${res.contentType} ${res.body.toString()}`).toBe(400);
    const body = JSON.parse(res.body.toString()) as { reason: string; error: string };
    expect(body.reason).toBe("missing_families");
    expect(body.error).toMatch(/memory/);
    expect(await c.stored()).toEqual(before);
  });

  it("points of a resource without host.name are refused in partial_success; the rest is stored", async () => {
    const request = advanceCpu(hostmetricsFixture(lastCycle + 360_000, boot), 1000);
    const nameless = structuredClone((request.resourceMetrics as Json[])[0]!);
    (nameless.resource as Json).attributes = [];
    (request.resourceMetrics as Json[]).push(nameless);
    const res = await send(otlpJsonToProtobuf(request), PROTOBUF);
    expect(res.status).toBe(200);
    const [outer] = [...wireFields(res.body)];
    const inner = [...wireFields(outer!.bytes)];
    // 16 system.cpu.time points of the copied resource.
    expect(asVarint(inner.find((f) => f.field === 1)!, "rejected")).toBe(16n);
    expect(asString(inner.find((f) => f.field === 2)!, "message")).toMatch(
      /without the attribute host\.name/,
    );
    const rows = await samplesOf(c, "otel-web-01");
    expect(rows.filter((r) => r.timestamp === lastCycle + 360_000)).toHaveLength(2);
  });

  it("a relay token writes every server its glob allows; one server outside it refuses the whole batch", async () => {
    const relay = await createRelayToken(c.store, "collector", "otel-fleet-*");
    const fleet = (hosts: string[]) => ({
      resourceMetrics: hosts.flatMap(
        (h) => withHost(hostmetricsFixture(lastCycle, boot), h).resourceMetrics as Json[],
      ),
    });
    const before = await c.stored();
    const outside = await send(otlpJsonToProtobuf(fleet(["otel-fleet-a", "web-02"])), PROTOBUF, relay);
    expect(outside.status).toBe(403);
    expect(rpcStatus(outside.body)).toMatchObject({ code: 7n, message: expect.stringMatching(/web-02/) });
    expect(await c.stored()).toEqual(before);
    const basic = `Basic ${Buffer.from(`otelcol:${relay}`).toString("base64")}`;
    const res = await post(c, "/v1/metrics", otlpJsonToProtobuf(fleet(["otel-fleet-a", "otel-fleet-b"])), {
      authorization: basic,
      "content-type": PROTOBUF,
    });
    expect(res.status).toBe(200);
    expect((await samplesOf(c, "otel-fleet-a")).map((r) => r.diskMount)).toEqual(["/", "/boot/efi"]);
    expect((await samplesOf(c, "otel-fleet-b")).map((r) => r.diskMount)).toEqual(["/", "/boot/efi"]);
  });

  it("415 for another media type, 401 without a token", async () => {
    const csv = await send("timestamp,server\n", "text/csv");
    expect(csv.status).toBe(415);
    expect(JSON.parse(csv.body.toString()).error).toMatch(/application\/x-protobuf or application\/json/);
    const anonymous = await post(c, "/v1/metrics", "{}", { "content-type": "application/json" });
    expect(anonymous.status).toBe(401);
  });
});
