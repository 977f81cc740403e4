import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ProtoReader } from "../../../src/central/ingest/interop/protobuf.js";
import { decodeWriteRequest } from "../../../src/central/ingest/interop/remote-write.js";
import { decodeSnappyBlock } from "../../../src/central/ingest/interop/snappy.js";
import { InputError } from "../../../src/errors.js";
import { REPO_ROOT } from "../../helpers/cli.js";
import {
  encodeWriteRequest,
  field,
  lengthDelimited,
  STALE_NAN_BITS,
  varint,
} from "../../helpers/remote-write-encoding.js";

const MIB = 2 ** 20;

function refusal(fn: () => unknown): InputError {
  try {
    fn();
  } catch (err) {
    if (err instanceof InputError) return err;
    throw err;
  }
  throw new Error("expected an InputError, nothing was thrown");
}

describe("protobuf wire reader", () => {
  it("reads varints up to 64 bits, negative int64, doubles, strings and nested messages", () => {
    const bytes = Buffer.from([
      ...varint(300),
      ...varint(2 ** 53 - 1),
      ...varint(-1),
      ...varint(-1_700_000_000_000),
      ...varint(2n ** 63n + 5n),
    ]);
    const r = new ProtoReader(bytes);
    expect(r.uint()).toBe(300);
    expect(r.uint()).toBe(2 ** 53 - 1);
    expect(r.int64()).toBe(-1);
    expect(r.int64()).toBe(-1_700_000_000_000);
    expect(r.int64()).toBe(Number(BigInt.asIntN(64, 2n ** 63n + 5n)));
    expect(r.done).toBe(true);

    const d = Buffer.alloc(8);
    d.writeDoubleLE(0.125);
    const msg = new ProtoReader(
      Buffer.from([...field(1, 1), ...d, ...lengthDelimited(2, [...lengthDelimited(1, [0x68, 0x69])])]),
    );
    expect(msg.key()).toEqual({ field: 1, wireType: 1 });
    expect(msg.double()).toBe(0.125);
    expect(msg.key()).toEqual({ field: 2, wireType: 2 });
    const inner = msg.message();
    expect(inner.key()).toEqual({ field: 1, wireType: 2 });
    expect(inner.string()).toBe("hi");
    expect(inner.done && msg.done).toBe(true);
  });

  it("skips unknown fields of every wire type", () => {
    const bytes = Buffer.from([
      ...field(7, 0),
      ...varint(-5),
      ...field(8, 1),
      1,
      2,
      3,
      4,
      5,
      6,
      7,
      8,
      ...lengthDelimited(9, [1, 2, 3]),
      ...field(10, 5),
      1,
      2,
      3,
      4,
      ...field(1, 0),
      ...varint(42),
    ]);
    const r = new ProtoReader(bytes);
    for (let i = 0; i < 4; i++) r.skip(r.key().wireType);
    expect(r.key().field).toBe(1);
    expect(r.uint()).toBe(42);
    expect(r.done).toBe(true);
  });

  it("refuses truncated varints, lengths past the end, groups, field 0 and invalid UTF-8", () => {
    const cases: [() => unknown, RegExp][] = [
      [() => new ProtoReader(Buffer.from([0x80, 0x80])).uint(), /varint at byte 0 is cut off/],
      [() => new ProtoReader(Buffer.alloc(11, 0xff)).uint(), /longer than 10 bytes/],
      [() => new ProtoReader(Buffer.from([...varint(2 ** 60)])).uint(), /too large/],
      [() => new ProtoReader(Buffer.from([...varint(5), 1, 2])).bytes(), /declares 5 bytes, past the end/],
      [() => new ProtoReader(Buffer.from([...varint(2 ** 40), 1])).message(), /past the end of its parent/],
      [() => new ProtoReader(Buffer.from([1, 2, 3])).double(), /cut off/],
      [() => new ProtoReader(Buffer.from([0x00])).key(), /invalid field number 0/],
      [
        () => {
          const r = new ProtoReader(Buffer.from([...field(3, 3)]));
          r.skip(r.key().wireType);
        },
        /wire type 3/,
      ],
      [() => new ProtoReader(Buffer.from([2, 0xc3, 0x28])).string(), /not valid UTF-8/],
      [
        () => {
          const r = new ProtoReader(Buffer.from([...field(2, 5), 1, 2]));
          r.skip(r.key().wireType);
        },
        /cut off/,
      ],
    ];
    for (const [fn, message] of cases) {
      const err = refusal(fn);
      expect(err.reason).toBe("bad_body");
      expect(err.message).toMatch(message);
    }
    // An embedded message cannot read past its own end into its parent's bytes.
    const parent = new ProtoReader(Buffer.from([...lengthDelimited(1, [...varint(300).slice(0, 1)]), 0x02]));
    parent.key();
    const child = parent.message();
    expect(() => child.uint()).toThrow(/cut off/);
  });
});

describe("prometheus.WriteRequest", () => {
  const now = Date.now();
  it("gives one PromSample per sample, name from __name__, the other labels, value and timestamp", () => {
    const body = encodeWriteRequest([
      {
        labels: { __name__: "node_memory_MemTotal_bytes", instance: "web-01:9100", job: "node" },
        samples: [
          { value: 8e9, timestampMs: now - 1000 },
          { value: 8.1e9, timestampMs: now },
        ],
      },
      {
        labels: { __name__: "up", instance: "web-01:9100", __proto__x: "1" },
        samples: [{ value: 1, timestampMs: now }],
      },
    ]);
    const batch = decodeWriteRequest(body);
    expect(batch.series).toBe(2);
    expect(batch.samples.map((s) => ({ ...s, labels: { ...s.labels } }))).toEqual([
      {
        name: "node_memory_MemTotal_bytes",
        labels: { instance: "web-01:9100", job: "node" },
        value: 8e9,
        timestampMs: now - 1000,
      },
      {
        name: "node_memory_MemTotal_bytes",
        labels: { instance: "web-01:9100", job: "node" },
        value: 8.1e9,
        timestampMs: now,
      },
      { name: "up", labels: { instance: "web-01:9100", __proto__x: "1" }, value: 1, timestampMs: now },
    ]);
  });

  it("keeps a label called __proto__ as a label", () => {
    const body = Buffer.from(
      lengthDelimited(1, [
        ...lengthDelimited(1, [
          ...lengthDelimited(1, [...Buffer.from("__name__")]),
          ...lengthDelimited(2, [0x78]),
        ]),
        ...lengthDelimited(1, [
          ...lengthDelimited(1, [...Buffer.from("__proto__")]),
          ...lengthDelimited(2, [0x79]),
        ]),
        ...lengthDelimited(2, [...field(2, 0), ...varint(now)]),
      ]),
    );
    const [sample] = decodeWriteRequest(body).samples;
    expect(Object.keys(sample!.labels)).toEqual(["__proto__"]);
    expect(Object.entries(sample!.labels)).toEqual([["__proto__", "y"]]);
    expect(Object.getPrototypeOf(sample!.labels)).toBeNull();
  });

  it("drops stale markers but keeps other NaNs and infinities", () => {
    const body = encodeWriteRequest([
      {
        labels: { __name__: "node_load1", instance: "a" },
        samples: [
          { value: 0.5, timestampMs: now - 2000 },
          { value: { bits: STALE_NAN_BITS }, timestampMs: now - 1000 },
          { value: Number.NaN, timestampMs: now },
          { value: Number.POSITIVE_INFINITY, timestampMs: now + 1 },
        ],
      },
    ]);
    const batch = decodeWriteRequest(body);
    expect(batch.staleMarkers).toBe(1);
    expect(batch.samples.map((s) => s.value)).toEqual([0.5, Number.NaN, Number.POSITIVE_INFINITY]);
  });

  it("metadata-only and empty requests give an empty batch", () => {
    expect(decodeWriteRequest(encodeWriteRequest([], 3))).toEqual({
      samples: [],
      series: 0,
      staleMarkers: 0,
      unnamedSeries: 0,
    });
    expect(decodeWriteRequest(Buffer.alloc(0)).samples).toEqual([]);
  });

  it("ignores series without __name__ and unknown fields (exemplars, histograms, future fields)", () => {
    const base = encodeWriteRequest([
      { labels: { instance: "a" }, samples: [{ value: 1, timestampMs: now }] },
    ]);
    const withExtras = Buffer.concat([
      base,
      Buffer.from(
        lengthDelimited(1, [
          ...lengthDelimited(1, [
            ...lengthDelimited(1, [...Buffer.from("__name__")]),
            ...lengthDelimited(2, [0x6d]),
          ]),
          ...lengthDelimited(3, [1, 2, 3]),
          ...lengthDelimited(4, [...field(1, 0), 5]),
          ...lengthDelimited(2, [
            ...field(2, 0),
            ...varint(now),
            ...field(1, 1),
            0,
            0,
            0,
            0,
            0,
            0,
            0xf0,
            0x3f,
            ...field(9, 0),
            1,
          ]),
        ]),
      ),
      Buffer.from([...field(5, 0), 7]),
    ]);
    const batch = decodeWriteRequest(withExtras);
    expect(batch.unnamedSeries).toBe(1);
    expect(batch.samples).toHaveLength(1);
    expect(batch.samples[0]).toMatchObject({ name: "m", value: 1, timestampMs: now });
  });

  it("refuses hostile requests: wrong wire types, truncation at every byte, too many samples", () => {
    const good = encodeWriteRequest([
      {
        labels: { __name__: "node_load1", instance: "web-01:9100" },
        samples: [{ value: 1.5, timestampMs: now }],
      },
    ]);
    // Every strict prefix but the empty one is cut off somewhere inside a field.
    for (let cut = 1; cut < good.length; cut++) {
      const err = refusal(() => decodeWriteRequest(good.subarray(0, cut)));
      expect(err.reason).toBe("bad_body");
    }
    expect(refusal(() => decodeWriteRequest(Buffer.from([...field(1, 0), 1]))).message).toMatch(
      /WriteRequest.timeseries has wire type 0/,
    );
    const sampleAsVarint = Buffer.from(lengthDelimited(1, [...field(2, 0), 1]));
    expect(refusal(() => decodeWriteRequest(sampleAsVarint)).message).toMatch(/TimeSeries.samples/);
    const many = encodeWriteRequest([
      {
        labels: { __name__: "m" },
        samples: Array.from({ length: 11 }, (_, i) => ({ value: i, timestampMs: now })),
      },
    ]);
    const tooMany = refusal(() => decodeWriteRequest(many, 10));
    expect(tooMany.status).toBe(413);
    expect(tooMany.message).toMatch(/more than 10 samples.*max_samples_per_send/);
    expect(decodeWriteRequest(many, 11).samples).toHaveLength(11);
  });

  /*
   * Captured from /usr/bin/prometheus 2.42 scraping /usr/bin/prometheus-node-exporter
   * 1.5.0 (target 127.0.0.1:19200) every 2 s, remote_write with the keep-list of
   * docs/integrations.md, "Prometheus remote_write": the first request (one scrape, 21 series)
   * and a metadata-only request (no series).
   */
  it("decodes a body captured from the real Prometheus 2.42 (test/fixtures/interop/remote-write-2.42.bin)", () => {
    const file = path.join(REPO_ROOT, "test/fixtures/interop/remote-write-2.42.bin");
    const raw = decodeSnappyBlock(readFileSync(file), 16 * MIB);
    expect(raw.length).toBe(2589);
    const batch = decodeWriteRequest(raw);
    expect(batch.series).toBe(21);
    expect(batch.samples).toHaveLength(21);
    const counts = new Map<string, number>();
    for (const s of batch.samples) counts.set(s.name, (counts.get(s.name) ?? 0) + 1);
    expect(Object.fromEntries(counts)).toEqual({
      node_cpu_seconds_total: 16,
      node_filesystem_avail_bytes: 1,
      node_filesystem_free_bytes: 1,
      node_filesystem_size_bytes: 1,
      node_memory_MemAvailable_bytes: 1,
      node_memory_MemTotal_bytes: 1,
    });
    // One scrape: every sample has its timestamp.
    expect(new Set(batch.samples.map((s) => s.timestampMs))).toEqual(new Set([1796635092864]));
    const total = batch.samples.find((s) => s.name === "node_memory_MemTotal_bytes")!;
    expect(total.value).toBe(25276157952);
    expect({ ...total.labels }).toEqual({ instance: "127.0.0.1:19200", job: "node" });
    const root = batch.samples.find((s) => s.name === "node_filesystem_size_bytes")!;
    expect({ ...root.labels }).toMatchObject({ mountpoint: "/", fstype: "ext4", device: "/dev/vda" });
    const modes = batch.samples.filter((s) => s.name === "node_cpu_seconds_total").map((s) => s.labels.mode);
    expect(new Set(modes)).toEqual(
      new Set(["idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"]),
    );
  });

  it("decodes a metadata-only request captured from Prometheus 2.42 as no samples", () => {
    const file = path.join(REPO_ROOT, "test/fixtures/interop/remote-write-2.42-metadata.bin");
    const raw = decodeSnappyBlock(readFileSync(file), 16 * MIB);
    expect(raw.length).toBe(21398);
    expect(decodeWriteRequest(raw)).toEqual({ samples: [], series: 0, staleMarkers: 0, unnamedSeries: 0 });
  });
});
