/**
 * Fuzz: POST /api/v1/prometheus/write (Prometheus remote_write 1.0) on
 * SQLite, against `central serve` as it runs. Random bytes, mutated real
 * bodies (the Prometheus 2.42 capture and generated node_exporter batches,
 * damaged before or after compression), snappy blocks that lie about their
 * length, hostile protobuf (huge declared lengths, long varints, deep
 * nesting, wrong wire types, many tiny series) and well-formed requests with
 * hostile labels and times. The property (harness.ts): a 4xx or a clean 2xx,
 * never a 5xx, bounded answers and memory, nothing stored from a refusal.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeSnappyBlock, snappyDecodedLength } from "../../src/central/ingest/interop/snappy.js";
import { REPO_ROOT } from "../helpers/cli.js";
import {
  encodeWriteRequest,
  field,
  lengthDelimited,
  nodeExporterSeries,
  STALE_NAN_BITS,
  snappyEncode,
  varint,
} from "../helpers/remote-write-encoding.js";
import { hostileString } from "./arbitraries.js";
import { type FuzzCentral, startFuzzCentral } from "./central.js";
import { budgetOf, type Exchange, FUZZ_BUDGET, FuzzRun, fuzzParams } from "./harness.js";

const RUNS = FUZZ_BUDGET["remote-write.test.ts"];
const URL_PATH = "/api/v1/prometheus/write";
const MINUTE = 60_000;

const fixture = readFileSync(path.join(REPO_ROOT, "test/fixtures/interop/remote-write-2.42.bin"));

/** Every answer is 204 with no body, or a refusal with the API's error body. */
function expectCleanAnswer(x: Exchange): void {
  const { answer } = x;
  if (answer.status === 0) return; // a known finding, already recorded by the run
  if (answer.status < 300) {
    expect(answer.status).toBe(204);
    expect(answer.body.length).toBe(0);
    return;
  }
  const json = JSON.parse(answer.body.toString("utf8")) as Record<string, unknown>;
  expect(answer.status).toBeGreaterThanOrEqual(400);
  expect(typeof json.error).toBe("string");
  expect(typeof json.reason).toBe("string");
}

function writeRequest(token: string, body: Uint8Array, headers: Record<string, string> = {}) {
  return {
    method: "POST",
    url: URL_PATH,
    headers: {
      authorization: `Bearer ${token}`,
      "content-type": "application/x-protobuf",
      "content-encoding": "snappy",
      "x-prometheus-remote-write-version": "0.1.0",
      ...headers,
    },
    body: Buffer.from(body),
  };
}

/** A damaged copy: bytes overwritten, cut, inserted or removed at positions picked by `seeds`. */
function mutate(bytes: Uint8Array, kind: number, seeds: readonly number[]): Buffer {
  let out = Buffer.from(bytes);
  for (const seed of seeds) {
    if (out.length === 0) break;
    const at = seed % out.length;
    switch (kind % 4) {
      case 0:
        out[at] = (seed >>> 8) & 0xff;
        break;
      case 1:
        out = out.subarray(0, at);
        break;
      case 2:
        out = Buffer.concat([
          out.subarray(0, at),
          Buffer.from([(seed >>> 8) & 0xff, seed & 0xff]),
          out.subarray(at),
        ]);
        break;
      default:
        out = Buffer.concat([out.subarray(0, at), out.subarray(at + 1 + (seed % 7))]);
    }
  }
  return out;
}

/** A generated node_exporter batch of web-01 (the token's server) at recent minutes. */
const validBatch = fc
  .record({ minutesAgo: fc.integer({ min: 1, max: 600 }), scrapes: fc.integer({ min: 1, max: 3 }) })
  .map(({ minutesAgo, scrapes }) => {
    const t0 = Math.floor((Date.now() - minutesAgo * MINUTE) / 1000) * 1000;
    return encodeWriteRequest(
      nodeExporterSeries(
        "web-01:9100",
        Array.from({ length: scrapes }, (_, i) => t0 + i * 15_000),
      ),
    );
  });

/** Protobuf a decoder must survive: huge declared lengths, long varints, deep nesting, wrong wire types. */
const hostileProtobuf: fc.Arbitrary<Buffer> = fc.oneof(
  // A field declaring far more bytes than follow (up to 2^62).
  fc
    .record({
      f: fc.integer({ min: 1, max: 5 }),
      len: fc.bigInt({ min: 1n, max: 2n ** 62n }),
      tail: fc.uint8Array({ maxLength: 20 }),
    })
    .map(({ f, len, tail }) => Buffer.from([...field(f, 2), ...varint(len), ...tail])),
  // Varints of 10 bytes and more, cut off, or a key with field 0.
  fc.integer({ min: 1, max: 40 }).map((n) => Buffer.from([...Array(n).fill(0xff), 0x01])),
  fc.constantFrom(
    Buffer.from([0x0a]),
    Buffer.from([0x0a, 0x80]),
    Buffer.from([0x00, 0x01]),
    Buffer.from([0x0b]),
    Buffer.from([0x0f]),
  ),
  // Length-delimited fields nested thousands deep (unknown fields inside a series: skipped, not parsed).
  fc.integer({ min: 1, max: 3000 }).map((depth) => {
    let inner: number[] = [...field(1, 0), 1];
    for (let i = 0; i < depth; i++) inner = lengthDelimited(i % 2 === 0 ? 1 : 9, inner);
    return Buffer.from(inner);
  }),
  // Many tiny series, samples or labels (empty messages).
  fc.integer({ min: 1, max: 50_000 }).map((n) => Buffer.from(new Array(n).fill([0x0a, 0x00]).flat())),
  fc
    .integer({ min: 1, max: 40_000 })
    .map((n) => Buffer.from(lengthDelimited(1, new Array(n).fill([0x12, 0x00]).flat()))),
  fc
    .integer({ min: 1, max: 20_000 })
    .map((n) => Buffer.from(lengthDelimited(1, new Array(n).fill([0x0a, 0x02, 0x0a, 0x00]).flat()))),
  // A label or name of up to 200 KB.
  fc.integer({ min: 1, max: 200_000 }).map((n) =>
    encodeWriteRequest([
      {
        labels: { __name__: "node_memory_MemTotal_bytes", instance: `${"w".repeat(n)}:9100` },
        samples: [{ value: 1, timestampMs: Date.now() }],
      },
    ]),
  ),
  // Known fields with the wrong wire type, groups, fixed32.
  fc
    .record({
      f: fc.integer({ min: 1, max: 4 }),
      w: fc.integer({ min: 0, max: 7 }),
      tail: fc.uint8Array({ maxLength: 30 }),
    })
    .map(({ f, w, tail }) => Buffer.from(lengthDelimited(1, [...field(f, w), ...tail]))),
  // Random bytes inside a valid series envelope.
  fc.uint8Array({ maxLength: 400 }).map((b) => Buffer.from(lengthDelimited(1, [...b]))),
);

describe("fuzz: Prometheus remote_write (SQLite)", () => {
  let c: FuzzCentral;
  let run: FuzzRun;
  beforeAll(async () => {
    c = await startFuzzCentral({ kind: "sqlite" });
    run = new FuzzRun(c, "remote-write (sqlite)");
  });
  afterAll(async () => {
    await c?.close();
  });

  it(`random bytes, raw and snappy-compressed (${RUNS.bytes})`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 2000 }), fc.boolean(), async (bytes, compress) => {
        const body = compress ? snappyEncode(bytes) : bytes;
        const x = await run.exchange(writeRequest(c.agentToken, body));
        expectCleanAnswer(x);
        // Random bytes that happen to decode give no series of a read family: nothing stored either way.
        expect(x.after.samples).toBe(x.before.samples);
      }),
      fuzzParams("remote-write/bytes", RUNS.bytes),
    );
  }, 180_000);

  it(`real and generated bodies damaged before or after compression (${RUNS.mutations})`, async () => {
    const fixtureRaw = decodeSnappyBlock(fixture, 16 * 2 ** 20);
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.constant(fixtureRaw), validBatch),
        fc.boolean(),
        fc.nat(),
        fc.array(fc.nat(), { minLength: 1, maxLength: 4 }),
        async (raw, afterCompression, kind, seeds) => {
          const body = afterCompression
            ? mutate(snappyEncode(raw), kind, seeds)
            : snappyEncode(mutate(raw, kind, seeds));
          expectCleanAnswer(await run.exchange(writeRequest(c.agentToken, body)));
        },
      ),
      fuzzParams("remote-write/mutations", RUNS.mutations),
    );
  }, 180_000);

  it(`snappy blocks lying about their length (${RUNS.lengths})`, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.integer({ min: 0, max: 2 ** 32 - 1 }),
          fc.integer({ min: 0, max: 64 }),
          fc.constantFrom(16 * 2 ** 20, 16 * 2 ** 20 + 1, 2 ** 31, 2 ** 32 - 1),
        ),
        fc.oneof(
          validBatch,
          fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
        ),
        async (declared, raw) => {
          // The real elements behind a preamble that declares another length.
          const real = snappyEncode(raw);
          const elements = real.subarray(snappyDecodedLength(real).preambleBytes);
          const body = Buffer.concat([Buffer.from(varint(declared)), elements]);
          const x = await run.exchange(writeRequest(c.agentToken, body));
          expectCleanAnswer(x);
          if (declared > 16 * 2 ** 20) expect(x.answer.status).toBe(413);
        },
      ),
      fuzzParams("remote-write/lengths", RUNS.lengths),
    );
  }, 180_000);

  it(`hostile protobuf: huge lengths, long varints, deep nesting, wrong wire types (${RUNS.fields})`, async () => {
    await fc.assert(
      fc.asyncProperty(hostileProtobuf, async (raw) => {
        const x = await run.exchange(writeRequest(c.agentToken, snappyEncode(raw)));
        expectCleanAnswer(x);
      }),
      fuzzParams("remote-write/fields", RUNS.fields),
    );
  }, 300_000);

  it(`well-formed requests with hostile labels, values, times and envelopes (${RUNS.labels})`, async () => {
    const instance = fc.oneof(
      fc.constantFrom(
        "web-01:9100",
        "web-02:9100",
        "web-01",
        "[::1]:9100",
        "",
        ":9100",
        "WEB-01:9100",
        "web-01:abc",
      ),
      hostileString(60),
    );
    const value = fc.oneof(
      fc.double(),
      fc.constantFrom<number | { bits: bigint }>(-1, 0, 2 ** 64, Number.NaN, { bits: STALE_NAN_BITS }),
    );
    const time = fc.oneof(
      fc.integer({ min: -600, max: 10 }).map((m) => Date.now() + m * MINUTE),
      fc.constantFrom(0, -1, 2 ** 53, -(2 ** 53), Date.UTC(1999, 0, 1)),
    );
    const envelope = fc.constantFrom<Record<string, string>>(
      {},
      {},
      {},
      { "content-type": "application/x-protobuf;proto=io.prometheus.write.v2.Request" },
      { "content-type": "application/x-protobuf; proto=prometheus.WriteRequest" },
      { "content-encoding": "gzip" },
      { "content-encoding": "" },
      { "content-type": "application/octet-stream" },
      { authorization: "Bearer srvu_bogus" },
    );
    await fc.assert(
      fc.asyncProperty(
        instance,
        fc.array(fc.tuple(hostileString(20), hostileString(30)), { maxLength: 4 }),
        fc.array(fc.record({ value, timestampMs: time }), { minLength: 1, maxLength: 4 }),
        envelope,
        async (inst, extra, samples, headers) => {
          const base = nodeExporterSeries(inst, [samples[0]!.timestampMs]);
          const series = base.map((s, i) => ({
            labels: { ...Object.fromEntries(extra), ...s.labels },
            samples: i % 5 === 0 ? samples : s.samples,
          }));
          const x = await run.exchange(
            writeRequest(c.agentToken, snappyEncode(encodeWriteRequest(series)), headers),
          );
          expectCleanAnswer(x);
          if (x.answer.status === 204) expect(x.after.samples).toBeGreaterThanOrEqual(x.before.samples!);
        },
      ),
      fuzzParams("remote-write/labels", RUNS.labels),
    );
  }, 180_000);

  it("still serves, sent its budget, kept memory bounded, left no unhandled rejection", async () => {
    await run.finish(budgetOf("remote-write.test.ts"));
  });
});
