/**
 * POST /api/v1/collectd over loopback against `central serve` as it runs,
 * with the body the real collectd 5.12 sent (fixture, moved to the real
 * clock): stored, replayed, refusals that store nothing, the body cap after
 * decompression, families missing.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAgentToken } from "../../../src/central/http/app.js";
import { type FuzzCentral, startFuzzCentral } from "../../fuzz/central.js";
import { gzipBomb, post, samplesOf } from "./push-harness.js";

const FIXTURE = path.join(import.meta.dirname, "../../fixtures/interop/collectd-5.12.json");
const MAX_BODY = 1024 * 1024;
type ValueList = Record<string, unknown> & { time: number; host: string; plugin: string };

/**
 * The real body with its first value list at `startSeconds`, every host
 * renamed, and `jiffies` added to every CPU's user and idle counters (a later
 * body than the fixture's own: counters that went down would be a reset).
 */
function realBody(startSeconds: number, host = "collectd-web-01", jiffies = 0): ValueList[] {
  const lists = JSON.parse(readFileSync(FIXTURE, "utf8")) as ValueList[];
  const shift = startSeconds - Math.min(...lists.map((v) => v.time));
  return lists.map((v) => {
    const later = v.plugin === "cpu" && (v.type_instance === "user" || v.type_instance === "idle");
    const values = later ? (v.values as number[]).map((n) => n + jiffies) : v.values;
    return { ...v, host, values, time: Math.round((v.time + shift) * 1000) / 1000 };
  });
}

describe("POST /api/v1/collectd", () => {
  let c: FuzzCentral;
  let token: string;
  const start = Math.floor((Date.now() - 30 * 60_000) / 1000);

  beforeAll(async () => {
    c = await startFuzzCentral({ kind: "sqlite" }, { SRVUTIL_MAX_BODY_BYTES: String(MAX_BODY) });
    token = await createAgentToken(c.store, "collectd-web-01");
  });
  afterAll(async () => {
    await c?.close();
  });

  const send = (body: string | Buffer, gzip = false, type = "application/json") =>
    post(c, "/api/v1/collectd", body, { authorization: `Bearer ${token}`, "content-type": type }, { gzip });

  it("stores the real body: the second CPU cycle primes, the third and fourth are samples", async () => {
    const res = await send(JSON.stringify(realBody(start)), true);
    expect(res.status).toBe(200);
    const result = JSON.parse(res.body.toString()) as { samples: number; primed: number; servers: string[] };
    expect(result).toMatchObject({ servers: ["collectd-web-01"], primed: 1, stale: 0, incompleteCount: 2 });
    const rows = await samplesOf(c, "collectd-web-01");
    const third = rows.find((r) => r.diskMount === "/" && r.timestamp === (start + 3.96) * 1000)!;
    // The fixture's third cycle (3.96 s after its first value): memory and df as collectd read them.
    expect(third).toMatchObject({
      memTotalBytes: 25276157952,
      memAvailableBytes: 23352483840,
      memUsedBytes: 25276157952 - 23352483840,
      diskTotalBytes: 270553174016,
      diskUsedBytes: 34374451200,
      diskFreeBytes: 74569842688,
    });
    expect(third.cpuPercent).toBeGreaterThan(0);
    expect(third.cpuPercent).toBeLessThanOrEqual(100);
  });

  it("a replay changes nothing; malformed, another host, a gzip bomb, no memory: refused, nothing stored", async () => {
    const before = await c.stored();
    const replay = await send(JSON.stringify(realBody(start)));
    expect(replay.status).toBe(200);
    expect(JSON.parse(replay.body.toString())).toMatchObject({ inserted: 0 });
    expect(await c.stored()).toEqual(before);

    const malformed = await send('[{"plugin": "cpu", "host": "collectd-web-01"}]');
    expect(malformed.status).toBe(400);
    expect(JSON.parse(malformed.body.toString())).toMatchObject({
      reason: "bad_body",
      error: "[0].type must be a string",
    });
    const forbidden = await send(JSON.stringify(realBody(start + 60, "web-02")));
    expect(forbidden.status).toBe(403);
    expect(JSON.parse(forbidden.body.toString())).toMatchObject({ reason: "forbidden_server" });
    const bomb = await post(c, "/api/v1/collectd", gzipBomb(50 * MAX_BODY), {
      authorization: `Bearer ${token}`,
      "content-type": "application/json",
      "content-encoding": "gzip",
    });
    expect(bomb.status).toBe(413);
    const noMemory = realBody(start + 120, "collectd-web-01", 10_000).filter((v) => v.plugin !== "memory");
    const missing = await send(JSON.stringify(noMemory));
    expect(missing.status).toBe(400);
    const body = JSON.parse(missing.body.toString()) as { reason: string; error: string };
    expect(body.reason).toBe("missing_families");
    expect(body.error).toMatch(/memory/);
    const csv = await send("[]", false, "text/csv");
    expect(csv.status).toBe(415);
    expect(await c.stored()).toEqual(before);
  });
});
