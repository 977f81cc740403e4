/**
 * The timestamps already counted in one sealed hour bucket (docs/report.md,
 * Retention): what lets an hour whose raw rows are pruned take late samples
 * without counting any twice. Kept per (server, hour) in rollup_hour_seen,
 * as bytes in the one format below on both backends (a BLOB on SQLite, a
 * bytea on PostgreSQL, where SQL writes the same bytes: ./postgres/seen-sql.ts).
 *
 * Format: a flags byte, then unsigned LEB128 varints.
 *
 * - flags bit 0 (1): the offsets are whole seconds (every timestamp of the
 *   hour falls on a whole second, as agents send them), else milliseconds;
 * - flags bit 1 (2): a range follows (two varints, first and last offset in
 *   ms, inclusive): every timestamp in it counts as seen. Only buckets sealed
 *   before seen sets existed have one (their timestamps are unknown, so
 *   everything between their first and last sample is taken as counted);
 * - then the offsets within the hour, ascending and distinct, as deltas in
 *   that unit (the first from 0).
 *
 * Exact (milliseconds when needed) and small: a sample a minute costs one
 * byte (60 s deltas), about 61 bytes an hour.
 */

const WHOLE_SECONDS = 1;
const HAS_RANGE = 2;

export class SeenSet {
  private constructor(
    /** Offsets within the hour (ms), ascending and distinct. */
    readonly offsets: readonly number[],
    /** Legacy range [first, last] (ms offsets, inclusive), or null. */
    readonly range: readonly [number, number] | null,
  ) {}

  static empty(): SeenSet {
    return new SeenSet([], null);
  }

  /** Offsets in any order, duplicates allowed. */
  static of(offsets: Iterable<number>): SeenSet {
    return new SeenSet(sortedDistinct(offsets), null);
  }

  /**
   * For a bucket sealed without a seen set (before they existed): every
   * timestamp between its first and last sample counts as seen, so nothing
   * it may hold is counted again (late samples outside that range still are).
   */
  static range(first: number, last: number): SeenSet {
    return new SeenSet([], [first, last]);
  }

  get size(): number {
    return this.offsets.length;
  }

  has(offset: number): boolean {
    if (this.range !== null && offset >= this.range[0] && offset <= this.range[1]) return true;
    let lo = 0;
    let hi = this.offsets.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = this.offsets[mid]!;
      if (v === offset) return true;
      if (v < offset) lo = mid + 1;
      else hi = mid - 1;
    }
    return false;
  }

  withAdded(offsets: Iterable<number>): SeenSet {
    return new SeenSet(sortedDistinct([...this.offsets, ...offsets]), this.range);
  }

  encode(): Uint8Array {
    const whole = this.offsets.every((o) => o % 1000 === 0);
    const unit = whole ? 1000 : 1;
    const out: number[] = [(whole ? WHOLE_SECONDS : 0) | (this.range !== null ? HAS_RANGE : 0)];
    if (this.range !== null) {
      pushVarint(out, this.range[0]);
      pushVarint(out, this.range[1]);
    }
    let prev = 0;
    for (const o of this.offsets) {
      const v = o / unit;
      pushVarint(out, v - prev);
      prev = v;
    }
    return Uint8Array.from(out);
  }

  static decode(bytes: Uint8Array): SeenSet {
    if (bytes.length === 0) throw new Error("seen set: empty encoding");
    const flags = bytes[0]!;
    if ((flags & ~(WHOLE_SECONDS | HAS_RANGE)) !== 0) throw new Error(`seen set: unknown flags ${flags}`);
    const unit = flags & WHOLE_SECONDS ? 1000 : 1;
    const pos = { i: 1 };
    let range: [number, number] | null = null;
    if (flags & HAS_RANGE) range = [readVarint(bytes, pos), readVarint(bytes, pos)];
    const offsets: number[] = [];
    let v = 0;
    while (pos.i < bytes.length) {
      v += readVarint(bytes, pos);
      offsets.push(v * unit);
    }
    return new SeenSet(offsets, range);
  }
}

function sortedDistinct(values: Iterable<number>): number[] {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.filter((v, i) => i === 0 || v !== sorted[i - 1]);
}

function pushVarint(out: number[], value: number): void {
  if (!Number.isInteger(value) || value < 0 || value >= 2 ** 28) {
    throw new Error(`seen set: offset delta out of range: ${value}`);
  }
  let v = value;
  while (v >= 128) {
    out.push((v & 127) | 128);
    v >>>= 7;
  }
  out.push(v);
}

function readVarint(bytes: Uint8Array, pos: { i: number }): number {
  let value = 0;
  let shift = 0;
  for (;;) {
    if (pos.i >= bytes.length || shift > 21) throw new Error("seen set: truncated varint");
    const b = bytes[pos.i++]!;
    value += (b & 127) * 2 ** shift;
    if (b < 128) return value;
    shift += 7;
  }
}
