/**
 * The writing side of remote_write for tests: a snappy block encoder (with
 * literals and all three kinds of copy, so a round trip exercises each
 * element the decoder reads) and a WriteRequest encoder. Written from the
 * formats' specifications, independently of the decoders under test.
 */

/** Stale marker bits (prometheus/model/value.StaleNaN). */
export const STALE_NAN_BITS = 0x7ff0_0000_0000_0002n;

export interface SeriesSpec {
  labels: Record<string, string>;
  /** `value` as a number, or as raw IEEE-754 bits (a NaN payload). */
  samples: { value: number | { bits: bigint }; timestampMs: number }[];
}

export function varint(n: number | bigint): number[] {
  // int64 negatives are their two's complement, 10 bytes.
  let v = BigInt.asUintN(64, BigInt(n));
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

export function field(number: number, wireType: number): number[] {
  return varint(number * 8 + wireType);
}

export function lengthDelimited(number: number, bytes: Uint8Array | number[]): number[] {
  return [...field(number, 2), ...varint(bytes.length), ...bytes];
}

function text(s: string): number[] {
  return [...Buffer.from(s, "utf8")];
}

function doubleBits(value: number | { bits: bigint }): number[] {
  const b = Buffer.alloc(8);
  if (typeof value === "number") b.writeDoubleLE(value);
  else b.writeBigUInt64LE(value.bits);
  return [...b];
}

/** A prometheus.WriteRequest; `metadata` adds that many MetricMetadata entries (field 3). */
export function encodeWriteRequest(series: readonly SeriesSpec[], metadata = 0): Buffer {
  const out: number[] = [];
  for (const s of series) {
    const ts: number[] = [];
    for (const [name, value] of Object.entries(s.labels)) {
      ts.push(...lengthDelimited(1, [...lengthDelimited(1, text(name)), ...lengthDelimited(2, text(value))]));
    }
    for (const sample of s.samples) {
      ts.push(
        ...lengthDelimited(2, [
          ...field(1, 1),
          ...doubleBits(sample.value),
          ...field(2, 0),
          ...varint(sample.timestampMs),
        ]),
      );
    }
    out.push(...lengthDelimited(1, ts));
  }
  for (let i = 0; i < metadata; i++) {
    // MetricMetadata { type = 1 (enum), metric_family_name = 2, help = 4, unit = 5 }
    out.push(
      ...lengthDelimited(3, [
        ...field(1, 0),
        1,
        ...lengthDelimited(2, text(`family_${i}`)),
        ...lengthDelimited(4, text("help")),
      ]),
    );
  }
  return Buffer.from(out);
}

function literal(out: number[], bytes: Uint8Array): void {
  const n = bytes.length - 1;
  if (n < 60) out.push(n << 2);
  else if (n < 0x100) out.push(60 << 2, n);
  else if (n < 0x10000) out.push(61 << 2, n & 0xff, n >> 8);
  else if (n < 0x1000000) out.push(62 << 2, n & 0xff, (n >> 8) & 0xff, n >> 16);
  else out.push(63 << 2, n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, n >>> 24);
  for (const b of bytes) out.push(b);
}

function copy(out: number[], offset: number, length: number): void {
  while (length > 0) {
    const len = Math.min(length, 64);
    if (len >= 4 && len <= 11 && offset < 2048)
      out.push(1 | ((len - 4) << 2) | ((offset >> 8) << 5), offset & 0xff);
    else if (offset < 0x10000) out.push(2 | ((len - 1) << 2), offset & 0xff, offset >> 8);
    else
      out.push(
        3 | ((len - 1) << 2),
        offset & 0xff,
        (offset >> 8) & 0xff,
        (offset >> 16) & 0xff,
        offset >>> 24,
      );
    length -= len;
  }
}

/** Snappy block format: greedy 4-byte matches through a hash table, literals between them. */
export function snappyEncode(input: Uint8Array): Buffer {
  const out: number[] = varint(input.length);
  const table = new Map<number, number>();
  let literalStart = 0;
  let i = 0;
  while (i + 4 <= input.length) {
    const key = (input[i]! | (input[i + 1]! << 8) | (input[i + 2]! << 16)) + input[i + 3]! * 2 ** 24;
    const candidate = table.get(key);
    table.set(key, i);
    if (candidate === undefined) {
      i++;
      continue;
    }
    let length = 4;
    while (i + length < input.length && input[candidate + length] === input[i + length]) length++;
    if (literalStart < i) literal(out, input.subarray(literalStart, i));
    copy(out, i - candidate, length);
    i += length;
    literalStart = i;
  }
  if (literalStart < input.length) literal(out, input.subarray(literalStart));
  return Buffer.from(out);
}
