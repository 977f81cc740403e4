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

/** Appends one by one: a spread into push() overflows the stack for a 200 KB label. */
function append(out: number[], bytes: readonly number[]): void {
  for (const b of bytes) out.push(b);
}

/** A prometheus.WriteRequest; `metadata` adds that many MetricMetadata entries (field 3). */
export function encodeWriteRequest(series: readonly SeriesSpec[], metadata = 0): Buffer {
  const out: number[] = [];
  for (const s of series) {
    const ts: number[] = [];
    for (const [name, value] of Object.entries(s.labels)) {
      append(ts, lengthDelimited(1, [...lengthDelimited(1, text(name)), ...lengthDelimited(2, text(value))]));
    }
    for (const sample of s.samples) {
      append(
        ts,
        lengthDelimited(2, [
          ...field(1, 1),
          ...doubleBits(sample.value),
          ...field(2, 0),
          ...varint(sample.timestampMs),
        ]),
      );
    }
    append(out, lengthDelimited(1, ts));
  }
  for (let i = 0; i < metadata; i++) {
    // MetricMetadata { type = 1 (enum), metric_family_name = 2, help = 4, unit = 5 }
    append(
      out,
      lengthDelimited(3, [
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

/**
 * What node_exporter 1.5 gives for one server at each of `timestamps`, as
 * remote_write series: two CPUs whose counters move so that every interval
 * is `busyPercent` busy (iowait counted idle, steal busy), memory, a real
 * filesystem and a tmpfs (ignored), plus a family srvutil does not read.
 */
export function nodeExporterSeries(
  instance: string,
  timestamps: readonly number[],
  o: { busyPercent?: number; memTotal?: number; memAvailable?: number; firstIndex?: number } = {},
): SeriesSpec[] {
  const busy = o.busyPercent ?? 20;
  const first = o.firstIndex ?? 0;
  const series: SeriesSpec[] = [];
  // Counters at step `first + i`: a later batch goes on where an earlier one stopped.
  const at = (value: (i: number) => number) =>
    timestamps.map((timestampMs, i) => ({ value: value(first + i), timestampMs }));
  const labels = (extra: Record<string, string>) => ({ instance, job: "node", ...extra });
  // Per CPU and step: 10 s in all, busy/10 of it split over user and steal, the rest over idle and iowait.
  const busySeconds = busy / 10;
  const modes: Record<string, (i: number) => number> = {
    idle: (i) => 1000 + i * (10 - busySeconds - 1),
    iowait: (i) => 50 + i * 1,
    user: (i) => 300 + i * (busySeconds - 0.5),
    steal: (i) => 7 + i * 0.5,
    system: () => 120,
    nice: () => 3,
    irq: () => 0,
    softirq: () => 4,
  };
  for (const cpu of ["0", "1"]) {
    for (const [mode, value] of Object.entries(modes)) {
      series.push({
        labels: { __name__: "node_cpu_seconds_total", ...labels({ cpu, mode }) },
        samples: at(value),
      });
    }
  }
  const memTotal = o.memTotal ?? 8_000_000_000;
  const memAvailable = o.memAvailable ?? 6_000_000_000;
  series.push({
    labels: { __name__: "node_memory_MemTotal_bytes", ...labels({}) },
    samples: at(() => memTotal),
  });
  series.push({
    labels: { __name__: "node_memory_MemAvailable_bytes", ...labels({}) },
    samples: at(() => memAvailable),
  });
  const fs = [
    { mountpoint: "/", fstype: "ext4", device: "/dev/vda1", size: 100e9, free: 60e9, avail: 55e9 },
    { mountpoint: "/run", fstype: "tmpfs", device: "tmpfs", size: 1e9, free: 1e9, avail: 1e9 },
  ];
  for (const f of fs) {
    const l = labels({ mountpoint: f.mountpoint, fstype: f.fstype, device: f.device });
    series.push({ labels: { __name__: "node_filesystem_size_bytes", ...l }, samples: at(() => f.size) });
    series.push({ labels: { __name__: "node_filesystem_free_bytes", ...l }, samples: at(() => f.free) });
    series.push({ labels: { __name__: "node_filesystem_avail_bytes", ...l }, samples: at(() => f.avail) });
  }
  series.push({ labels: { __name__: "node_load1", ...labels({}) }, samples: at(() => 0.5) });
  return series;
}

/** POSTs a remote_write body (snappy-compressed here unless `raw`) as Prometheus 2.42 does. */
export function postRemoteWrite(
  baseUrl: string,
  authorization: string | null,
  body: Uint8Array,
  o: { headers?: Record<string, string>; raw?: boolean } = {},
): Promise<Response> {
  return fetch(`${baseUrl}/api/v1/prometheus/write`, {
    method: "POST",
    headers: {
      "content-type": "application/x-protobuf",
      "content-encoding": "snappy",
      "x-prometheus-remote-write-version": "0.1.0",
      "user-agent": "Prometheus/2.42.0+ds",
      ...(authorization === null ? {} : { authorization }),
      ...o.headers,
    },
    body: o.raw === true ? body : snappyEncode(body),
  });
}
