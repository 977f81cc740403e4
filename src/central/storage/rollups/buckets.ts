import { DateTime } from "luxon";
import {
  type Bucket,
  type DayAggregate,
  type DaySpan,
  emptyBucket,
  finishDay,
  finishHour,
  HOUR_MS,
  type HourAggregate,
  type MountLast,
  mergeBucket,
  mergeMount,
} from "../../aggregate/rows.js";

/**
 * The rollup tables' encoding, shared by both backends: which columns a
 * stored bucket has, how a Bucket/MountLast becomes a row and back, how raw
 * sample rows fold into hour buckets, and how hour buckets fold into days.
 * The SQL around it (transactions, locking, what is dirty) is each
 * backend's own (sqlite/rollups.ts and sqlite/days.ts, postgres/rollups.ts); the arithmetic is
 * here once, so both give the figures of aggregate/rows.ts bit for bit.
 */

/** Bucket columns in the order of bucketValues / bucketFromTuple. */
export const BUCKET_COLUMN_NAMES = [
  "samples",
  "cpu_sum",
  "cpu_peak",
  "mem_used_sum",
  "mem_available_sum",
  "mem_percent_sum",
  "mem_percent_max",
  "last_ts",
  "last_mem_total",
  "interval_sum",
  "interval_count",
  "first_ts",
  "first_mem_total",
  "mem_percent_min",
  "mem_total_min",
  "mem_total_max",
] as const;
export const BUCKET_COLUMNS = BUCKET_COLUMN_NAMES.join(", ");

/** Per-mount columns in the order of mountValues / mountFromTuple. */
export const MOUNT_COLUMN_NAMES = [
  "last_ts",
  "total",
  "used",
  "free",
  "first_ts",
  "first_total",
  "samples",
  "total_min",
  "total_max",
] as const;
export const MOUNT_COLUMNS = MOUNT_COLUMN_NAMES.join(", ");

/** A stored bucket as a row (BUCKET_COLUMN_NAMES order). */
export type BucketTuple = [
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
];

/** A stored mount as a row (MOUNT_COLUMN_NAMES order). */
export type MountTuple = [number, number, number, number, number, number, number, number, number];

/** Raw sample columns in the order the hourly fold reads them. */
export const SAMPLE_FOLD_COLUMNS =
  "ts, mount, cpu_percent, cpu_peak_percent, interval_seconds, mem_total, mem_used, mem_available, disk_total, disk_used, disk_free";

/** One raw sample row in SAMPLE_FOLD_COLUMNS order. */
export type SampleTuple = [
  number,
  string,
  number,
  number | null,
  number | null,
  number,
  number,
  number,
  number,
  number,
  number,
];

/** Empty buckets store 0 for the infinities of emptyBucket (the columns are NOT NULL). */
export function bucketValues(b: Bucket): BucketTuple {
  const empty = b.samples === 0;
  return [
    b.samples,
    b.cpuSum,
    empty ? 0 : b.cpuPeak,
    b.memUsedSum,
    b.memAvailableSum,
    b.memPercentSum,
    empty ? 0 : b.memPercentMax,
    empty ? 0 : b.lastTs,
    b.lastMemTotal,
    b.intervalSum,
    b.intervalCount,
    empty ? 0 : b.firstTs,
    b.firstMemTotal,
    empty ? 0 : b.memPercentMin,
    empty ? 0 : b.memTotalMin,
    empty ? 0 : b.memTotalMax,
  ];
}

/**
 * The bucket stored at `t[offset…offset+15]` (rows usually lead with their key columns).
 * Indexed directly rather than through a helper closure: it runs once per stored day or
 * hour of every report (a million times for 10,000 servers).
 */
export function bucketFromTuple(t: readonly unknown[], offset: number): Bucket {
  const r = t as readonly number[];
  if (r[offset] === 0) return emptyBucket();
  return {
    samples: r[offset]!,
    cpuSum: r[offset + 1]!,
    cpuPeak: r[offset + 2]!,
    memUsedSum: r[offset + 3]!,
    memAvailableSum: r[offset + 4]!,
    memPercentSum: r[offset + 5]!,
    memPercentMax: r[offset + 6]!,
    lastTs: r[offset + 7]!,
    lastMemTotal: r[offset + 8]!,
    intervalSum: r[offset + 9]!,
    intervalCount: r[offset + 10]!,
    firstTs: r[offset + 11]!,
    firstMemTotal: r[offset + 12]!,
    memPercentMin: r[offset + 13]!,
    memTotalMin: r[offset + 14]!,
    memTotalMax: r[offset + 15]!,
  };
}

export function mountValues(m: MountLast): MountTuple {
  return [m.lastTs, m.total, m.used, m.free, m.firstTs, m.firstTotal, m.samples, m.totalMin, m.totalMax];
}

/** The mount stored at `t[offset…offset+8]`. */
export function mountFromTuple(t: readonly unknown[], offset = 0): MountLast {
  const r = t as readonly number[];
  return {
    lastTs: r[offset]!,
    total: r[offset + 1]!,
    used: r[offset + 2]!,
    free: r[offset + 3]!,
    firstTs: r[offset + 4]!,
    firstTotal: r[offset + 5]!,
    samples: r[offset + 6]!,
    totalMin: r[offset + 7]!,
    totalMax: r[offset + 8]!,
  };
}

/** The hour buckets of one server, keyed by hour start (epoch ms), with their mounts. */
export type HourBuckets = Map<number, { bucket: Bucket; mounts: Map<string, MountLast> }>;

/**
 * Folds one server's raw rows, ordered by (ts, mount), into hour buckets:
 * the first row of a timestamp (the smallest mount) carries its CPU and
 * memory figures, every row its mount, exactly as aggregate/rows.ts does.
 */
export class HourBucketFolder {
  readonly hours: HourBuckets = new Map();
  private lastTs = Number.NaN;
  private bucketHour = Number.NaN;
  private bucket: Bucket = emptyBucket();
  private mounts: Map<string, MountLast> = new Map();

  add(r: SampleTuple): void {
    const ts = r[0];
    const hour = Math.floor(ts / HOUR_MS) * HOUR_MS;
    if (hour !== this.bucketHour) {
      this.bucketHour = hour;
      this.bucket = emptyBucket();
      this.mounts = new Map();
      this.hours.set(hour, { bucket: this.bucket, mounts: this.mounts });
    }
    if (ts !== this.lastTs) {
      this.lastTs = ts;
      addTuple(this.bucket, r);
    }
    mergeMount(this.mounts, r[1], {
      lastTs: ts,
      total: r[8],
      used: r[9],
      free: r[10],
      firstTs: ts,
      firstTotal: r[8],
      samples: 1,
      totalMin: r[8],
      totalMax: r[8],
    });
  }
}

function addTuple(b: Bucket, r: SampleTuple): void {
  // Mirrors addSample() in aggregate/rows.ts operation for operation.
  const cpu = r[2];
  const peakField = r[3];
  b.samples += 1;
  b.cpuSum += cpu;
  const peak = peakField !== null && peakField > cpu ? peakField : cpu;
  if (peak > b.cpuPeak) b.cpuPeak = peak;
  const total = r[5];
  const used = r[6];
  b.memUsedSum += used;
  b.memAvailableSum += r[7];
  const pct = total > 0 ? (used / total) * 100 : 0;
  b.memPercentSum += pct;
  if (pct > b.memPercentMax) b.memPercentMax = pct;
  if (pct < b.memPercentMin) b.memPercentMin = pct;
  if (total < b.memTotalMin) b.memTotalMin = total;
  if (total > b.memTotalMax) b.memTotalMax = total;
  if (r[0] >= b.lastTs) {
    b.lastTs = r[0];
    b.lastMemTotal = total;
  }
  if (r[0] < b.firstTs) {
    b.firstTs = r[0];
    b.firstMemTotal = total;
  }
  if (r[4] !== null) {
    b.intervalSum += r[4];
    b.intervalCount += 1;
  }
}

/** Hours [from, to) of one server touched by new rows. */
export interface TouchedRange {
  server: string;
  /** First hour (epoch ms) and the exclusive end hour. */
  from: number;
  to: number;
}

/** Per server, overlapping or adjacent hour ranges merged into one; sorted by server, then time. */
export function mergeRanges(ranges: readonly TouchedRange[]): TouchedRange[] {
  const sorted = [...ranges].sort((a, b) =>
    a.server < b.server ? -1 : a.server > b.server ? 1 : a.from - b.from,
  );
  const out: TouchedRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && last.server === r.server && r.from <= last.to) {
      last.to = Math.max(last.to, r.to);
    } else {
      out.push({ ...r });
    }
  }
  return out;
}

/**
 * Spans already computed, by zone and range. A refresh asks for the same few
 * ranges over and over (a fleet's servers all upload the same hours), and
 * each answer costs luxon's time-zone arithmetic: on a 10,000-server fleet it
 * was three quarters of the refresher's own CPU. Cleared when full.
 */
const spanCache = new Map<string, DaySpan>();
const SPAN_CACHE_MAX = 4096;

/** The local days of `tz` that overlap [from, to), as a DaySpan (shared between callers, so frozen). */
export function zoneDaysCovering(tz: string, from: number, to: number): DaySpan {
  const key = `${tz}|${from}|${to}`;
  let span = spanCache.get(key);
  if (span === undefined) {
    if (spanCache.size >= SPAN_CACHE_MAX) spanCache.clear();
    const { dates, dayStarts } = computeZoneDays(tz, from, to);
    span = Object.freeze({ dates: Object.freeze(dates), dayStarts: Object.freeze(dayStarts) });
    spanCache.set(key, span);
  }
  return span;
}

function computeZoneDays(tz: string, from: number, to: number): { dates: string[]; dayStarts: number[] } {
  const first = DateTime.fromMillis(from, { zone: tz }).startOf("day");
  const last = DateTime.fromMillis(to - 1, { zone: tz }).startOf("day");
  const dates: string[] = [];
  const dayStarts: number[] = [];
  for (let d = first; d <= last; d = d.plus({ days: 1 }).startOf("day")) {
    dates.push(d.toISODate()!);
    dayStarts.push(d.toMillis());
  }
  dayStarts.push(last.plus({ days: 1 }).startOf("day").toMillis());
  return { dates, dayStarts };
}

/** The days of `span` as merged buckets and mounts, ready to store or finish. */
export interface FoldedDays {
  buckets: Bucket[];
  mounts: Map<string, MountLast>[];
}

/**
 * Merges stored hour buckets into the days of `span`. `hours` must be in
 * hour order (that is the order of the merge, as in aggregate/rows.ts).
 * `layout` says where the hour, the bucket and the mount columns sit in the
 * rows the backend delivered.
 */
export function foldDays(
  span: DaySpan,
  hours: Iterable<readonly unknown[]>,
  diskRows: Iterable<readonly unknown[]>,
  layout: { hourIndex: number; bucketOffset: number; diskHourIndex: number; mountIndex: number },
): FoldedDays {
  const n = span.dates.length;
  const buckets = Array.from({ length: n }, () => emptyBucket());
  const mounts = Array.from({ length: n }, () => new Map<string, MountLast>());
  let di = 0;
  for (const h of hours) {
    const hour = h[layout.hourIndex] as number;
    while (hour >= span.dayStarts[di + 1]!) di++;
    mergeBucket(buckets[di]!, bucketFromTuple(h, layout.bucketOffset));
  }
  for (const row of diskRows) {
    const hour = row[layout.diskHourIndex] as number;
    let d = 0;
    while (hour >= span.dayStarts[d + 1]!) d++;
    mergeMount(mounts[d]!, row[layout.mountIndex] as string, mountFromTuple(row, layout.mountIndex + 1));
  }
  return { buckets, mounts };
}

export function finishDays(span: DaySpan, days: FoldedDays): DayAggregate[] {
  return span.dates.map((date, i) => finishDay(date, days.buckets[i]!, days.mounts[i]!));
}

/**
 * Hour buckets as HourAggregates (what ServerRowAggregator.finishWithHours
 * gives from raw rows): `hours` rows are [hour, …bucket], `diskRows`
 * [hour, mount, …mount columns]; empty hours are left out.
 */
export function hourAggregates(
  hours: Iterable<readonly unknown[]>,
  diskRows: Iterable<readonly unknown[]>,
): HourAggregate[] {
  const mountsByHour = new Map<number, Map<string, MountLast>>();
  for (const row of diskRows) {
    const hour = row[0] as number;
    let mounts = mountsByHour.get(hour);
    if (mounts === undefined) {
      mounts = new Map();
      mountsByHour.set(hour, mounts);
    }
    mounts.set(row[1] as string, mountFromTuple(row, 2));
  }
  const out: HourAggregate[] = [];
  for (const h of hours) {
    if ((h[1] as number) > 0) {
      out.push(finishHour(bucketFromTuple(h, 1), mountsByHour.get(h[0] as number) ?? new Map()));
    }
  }
  return out;
}

/**
 * The runs of consecutive days of `span` that `missing(i)` says are missing,
 * each as its own span starting at day index `first`. A read fills only
 * these from the hour buckets: days stored already stay as they are (past
 * hourly retention they are all there is).
 */
export function missingDayRuns(
  span: DaySpan,
  missing: (i: number) => boolean,
): { first: number; span: DaySpan }[] {
  const runs: { first: number; span: DaySpan }[] = [];
  let i = 0;
  while (i < span.dates.length) {
    if (!missing(i)) {
      i++;
      continue;
    }
    let j = i;
    while (j < span.dates.length && missing(j)) j++;
    runs.push({
      first: i,
      span: { dates: span.dates.slice(i, j), dayStarts: span.dayStarts.slice(i, j + 1) },
    });
    i = j;
  }
  return runs;
}
