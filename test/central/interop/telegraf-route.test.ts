/**
 * POST /api/v1/telegraf over loopback against `central serve` as it runs:
 * the JSON serializer's batch as Telegraf's outputs.http sends it (text/plain
 * by default, gzip with content_encoding = "gzip"), replays, refusals that
 * store nothing, the body cap after decompression, families missing.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAgentToken } from "../../../src/central/http/app.js";
import { type FuzzCentral, startFuzzCentral } from "../../fuzz/central.js";
import { gzipBomb, post, samplesOf, todayInReport } from "./push-harness.js";
import { telegrafBatch } from "./telegraf-payload.js";

const MAX_BODY = 1024 * 1024;

describe("POST /api/v1/telegraf", () => {
  let c: FuzzCentral;
  let token: string;
  const seconds = Math.floor((Date.now() - 30 * 60_000) / 1000);

  beforeAll(async () => {
    c = await startFuzzCentral(
      { kind: "sqlite" },
      { SRVUTIL_MAX_BODY_BYTES: String(MAX_BODY), SRVUTIL_REPORT_TZ: "UTC" },
    );
    token = await createAgentToken(c.store, "tg-01");
  });
  afterAll(async () => {
    await c?.close();
  });

  const send = (
    body: string | Buffer,
    type = "text/plain; charset=utf-8",
    gzip = false,
    auth = `Bearer ${token}`,
  ) => post(c, "/api/v1/telegraf", body, { authorization: auth, "content-type": type }, { gzip });

  it("stores a gzip text/plain batch: cpu-total busy, mem, the real disks", async () => {
    const res = await send(JSON.stringify(telegrafBatch("tg-01", seconds)), undefined, true);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body.toString())).toMatchObject({
      samples: 1,
      rows: 1,
      inserted: 1,
      servers: ["tg-01"],
      incomplete: [],
    });
    expect(await samplesOf(c, "tg-01")).toEqual([
      expect.objectContaining({
        timestamp: (seconds + 1) * 1000,
        cpuPercent: 25,
        memTotalBytes: 8e9,
        memAvailableBytes: 6e9,
        memUsedBytes: 2e9,
        diskMount: "/",
        diskTotalBytes: 100e9,
        diskUsedBytes: 25e9,
        diskFreeBytes: 70e9,
      }),
    ]);
  });

  it("a replay as application/json (Basic auth, token as password) is 200 and changes nothing", async () => {
    const before = await c.stored();
    const basic = `Basic ${Buffer.from(`telegraf:${token}`).toString("base64")}`;
    const res = await send(JSON.stringify(telegrafBatch("tg-01", seconds)), "application/json", false, basic);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body.toString())).toMatchObject({ samples: 1, inserted: 0 });
    expect(await c.stored()).toEqual(before);
  });

  it("malformed → 400, another server → 403, gzip bomb → 413, mem and disk only → 400 missing_families; nothing stored", async () => {
    const before = await c.stored();
    const malformed = await send(
      '{"metrics": [{"name": "mem", "fields": {"total": 1}, "tags": {"host": "tg-01"}, "timestamp": "now"}]}',
    );
    expect(malformed.status).toBe(400);
    expect(JSON.parse(malformed.body.toString())).toMatchObject({
      reason: "bad_body",
      error: "metrics[0].timestamp must be seconds since the epoch",
    });
    const forbidden = await send(JSON.stringify(telegrafBatch("web-02", seconds + 60)));
    expect(forbidden.status).toBe(403);
    const bomb = await post(c, "/api/v1/telegraf", gzipBomb(50 * MAX_BODY), {
      authorization: `Bearer ${token}`,
      "content-type": "text/plain",
      "content-encoding": "gzip",
    });
    expect(bomb.status).toBe(413);
    const noCpu = telegrafBatch("tg-01", seconds + 120).metrics.filter(
      (m) => (m as { name: string }).name !== "cpu",
    );
    const missing = await send(JSON.stringify({ metrics: noCpu }));
    expect(missing.status).toBe(400);
    const body = JSON.parse(missing.body.toString()) as { reason: string; error: string };
    expect(body.reason).toBe("missing_families");
    expect(body.error).toMatch(/cpu/);
    expect(await c.stored()).toEqual(before);
  });

  it("415 for another media type", async () => {
    const res = await send("cpu usage_idle=1", "application/x-protobuf");
    expect(res.status).toBe(415);
    expect(JSON.parse(res.body.toString()).error).toMatch(/text\/plain or application\/json/);
  });

  it("the weekly report names the server with today's figures", async () => {
    const now = Math.floor(Date.now() / 1000) - 120;
    expect((await send(JSON.stringify(telegrafBatch("tg-01", now)))).status).toBe(200);
    const today = await todayInReport(c, "tg-01");
    expect(today, "tg-01 today in the report").toBeDefined();
    expect(today!.cpu.avg).toBe(25);
    expect(today!.memory.total_bytes).toBe(8e9);
    expect(today!.disks).toEqual([
      expect.objectContaining({ mount: "/", total_bytes: 100e9, used_bytes: 25e9, free_bytes: 70e9 }),
    ]);
  }, 30_000);
});
