import type { MetricRow } from "../../protocol/index.js";
import type { DayReport, DiskDay } from "../model/report.js";

/**
 * The aggregation contract (docs/report.md), implemented once over "buckets".
 *
 * A bucket holds the sums, maxima and last values of the distinct timestamps
 * of one server inside one UTC hour (and one local day). Days are built by
 * merging hour buckets in chronological order, both here (directly from raw
 * rows) and in the rollup tables (which store exactly these buckets), so the
 * two paths perform the same floating-point operations in the same order and
 * give bit-identical figures.
 */
export interface Bucket {
  /** Distinct timestamps. */
  samples: number;
  cpuSum: number;
  /** max(cpu_percent, cpu_peak_percent). */
  cpuPeak: number;
  memUsedSum: number;
  memAvailableSum: number;
  /** Sum of used/total×100 per timestamp. */
  memPercentSum: number;
  memPercentMax: number;
  /** Timestamp of the last sample and its mem_total. */
  lastTs: number;
  lastMemTotal: number;
  intervalSum: number;
  intervalCount: number;
  /** Timestamp of the first sample and its mem_total (change detection: RAM resized). */
  firstTs: number;
  firstMemTotal: number;
  /** Lowest memory %, lowest and highest mem_total (whether an hour-level look could find a restart or a RAM change). */
  memPercentMin: number;
  memTotalMin: number;
  memTotalMax: number;
}

/** The last sample of one mount inside a bucket or day, and when the mount was first seen there. */
export interface MountLast {
  lastTs: number;
  total: number;
  used: number;
  free: number;
  /** First sample of the mount in the bucket and its total (change detection: resized, mounted). */
  firstTs: number;
  firstTotal: number;
  /** Samples with this mount, and the range of its totals. */
  samples: number;
  totalMin: number;
  totalMax: number;
}

export const HOUR_MS = 3_600_000;

export function emptyBucket(): Bucket {
  return {
    samples: 0,
    cpuSum: 0,
    cpuPeak: Number.NEGATIVE_INFINITY,
    memUsedSum: 0,
    memAvailableSum: 0,
    memPercentSum: 0,
    memPercentMax: Number.NEGATIVE_INFINITY,
    lastTs: Number.NEGATIVE_INFINITY,
    lastMemTotal: 0,
    intervalSum: 0,
    intervalCount: 0,
    firstTs: Number.POSITIVE_INFINITY,
    firstMemTotal: 0,
    memPercentMin: Number.POSITIVE_INFINITY,
    memTotalMin: Number.POSITIVE_INFINITY,
    memTotalMax: Number.NEGATIVE_INFINITY,
  };
}

/** used/total×100; a machine reporting 0 bytes of memory counts as 0 % rather than NaN. */
export function memoryPercent(used: number, total: number): number {
  return total > 0 ? (used / total) * 100 : 0;
}

/** used/(used+free)×100 as df counts it; 0 for an empty filesystem. */
export function diskPercent(used: number, free: number): number {
  const capacity = used + free;
  return capacity > 0 ? (used / capacity) * 100 : 0;
}

/** Adds one distinct timestamp (its CPU and memory figures) to a bucket. Timestamps must come in order. */
export function addSample(b: Bucket, row: MetricRow): void {
  b.samples += 1;
  b.cpuSum += row.cpuPercent;
  const peak =
    row.cpuPeakPercent !== null && row.cpuPeakPercent > row.cpuPercent ? row.cpuPeakPercent : row.cpuPercent;
  if (peak > b.cpuPeak) b.cpuPeak = peak;
  b.memUsedSum += row.memUsedBytes;
  b.memAvailableSum += row.memAvailableBytes;
  const pct = memoryPercent(row.memUsedBytes, row.memTotalBytes);
  b.memPercentSum += pct;
  if (pct > b.memPercentMax) b.memPercentMax = pct;
  if (pct < b.memPercentMin) b.memPercentMin = pct;
  if (row.memTotalBytes < b.memTotalMin) b.memTotalMin = row.memTotalBytes;
  if (row.memTotalBytes > b.memTotalMax) b.memTotalMax = row.memTotalBytes;
  if (row.timestamp >= b.lastTs) {
    b.lastTs = row.timestamp;
    b.lastMemTotal = row.memTotalBytes;
  }
  if (row.timestamp < b.firstTs) {
    b.firstTs = row.timestamp;
    b.firstMemTotal = row.memTotalBytes;
  }
  if (row.intervalSeconds !== null) {
    b.intervalSum += row.intervalSeconds;
    b.intervalCount += 1;
  }
}

/** Merges `b` into `into`. Callers merge in chronological order (see the file comment). */
export function mergeBucket(into: Bucket, b: Bucket): void {
  if (b.samples === 0) return;
  into.samples += b.samples;
  into.cpuSum += b.cpuSum;
  if (b.cpuPeak > into.cpuPeak) into.cpuPeak = b.cpuPeak;
  into.memUsedSum += b.memUsedSum;
  into.memAvailableSum += b.memAvailableSum;
  into.memPercentSum += b.memPercentSum;
  if (b.memPercentMax > into.memPercentMax) into.memPercentMax = b.memPercentMax;
  if (b.memPercentMin < into.memPercentMin) into.memPercentMin = b.memPercentMin;
  if (b.memTotalMin < into.memTotalMin) into.memTotalMin = b.memTotalMin;
  if (b.memTotalMax > into.memTotalMax) into.memTotalMax = b.memTotalMax;
  if (b.lastTs >= into.lastTs) {
    into.lastTs = b.lastTs;
    into.lastMemTotal = b.lastMemTotal;
  }
  if (b.firstTs < into.firstTs) {
    into.firstTs = b.firstTs;
    into.firstMemTotal = b.firstMemTotal;
  }
  into.intervalSum += b.intervalSum;
  into.intervalCount += b.intervalCount;
}

export function mergeMount(into: Map<string, MountLast>, mount: string, m: MountLast): void {
  const cur = into.get(mount);
  if (cur === undefined) {
    into.set(mount, { ...m });
    return;
  }
  if (m.lastTs > cur.lastTs) {
    cur.lastTs = m.lastTs;
    cur.total = m.total;
    cur.used = m.used;
    cur.free = m.free;
  }
  if (m.firstTs < cur.firstTs) {
    cur.firstTs = m.firstTs;
    cur.firstTotal = m.firstTotal;
  }
  cur.samples += m.samples;
  if (m.totalMin < cur.totalMin) cur.totalMin = m.totalMin;
  if (m.totalMax > cur.totalMax) cur.totalMax = m.totalMax;
}

/** One local day of one server: the contract's figures plus what findings need. */
export interface DayAggregate {
  day: DayReport;
  /** Mean interval_seconds of the day's samples, when agents sent it. */
  intervalAvg: number | null;
  /** Timestamp of the day's last sample. */
  lastTs: number | null;
  /** Internal (not in the JSON): first sample and its mem_total, per mount the first sample and its total. */
  firstTs: number | null;
  firstMemTotal: number | null;
  memPercentMin: number | null;
  memTotalMin: number | null;
  memTotalMax: number | null;
  mountSpans: Map<string, MountSpan>;
}

/** One mount within one day: when it was first and last seen, how often, and its totals. */
export interface MountSpan {
  firstTs: number;
  lastTs: number;
  firstTotal: number;
  samples: number;
  totalMin: number;
  totalMax: number;
}

/**
 * One hour bucket of one server (a bucket never spans two local days), for
 * trends on hourly points and for locating changes to the sample.
 */
export interface HourAggregate {
  samples: number;
  firstTs: number;
  lastTs: number;
  cpuAvg: number;
  memPercentAvg: number;
  firstMemTotal: number;
  lastMemTotal: number;
  /** Per mount, sorted by mount. */
  mounts: { mount: string; firstTs: number; lastTs: number; firstTotal: number; total: number }[];
}

export function finishHour(b: Bucket, mounts: Map<string, MountLast>): HourAggregate {
  return {
    samples: b.samples,
    firstTs: b.firstTs,
    lastTs: b.lastTs,
    cpuAvg: b.cpuSum / b.samples,
    memPercentAvg: b.memPercentSum / b.samples,
    firstMemTotal: b.firstMemTotal,
    lastMemTotal: b.lastMemTotal,
    mounts: [...mounts.entries()]
      .sort(([a], [c]) => (a < c ? -1 : a > c ? 1 : 0))
      .map(([mount, m]) => ({
        mount,
        firstTs: m.firstTs,
        lastTs: m.lastTs,
        firstTotal: m.firstTotal,
        total: m.total,
      })),
  };
}

export function finishDay(date: string, b: Bucket, mounts: ReadonlyMap<string, MountLast>): DayAggregate {
  if (b.samples === 0) {
    return {
      day: {
        date,
        samples: 0,
        cpu: { avg: null, peak: null },
        memory: {
          total_bytes: null,
          used_avg_bytes: null,
          available_avg_bytes: null,
          percent_avg: null,
          percent_peak: null,
        },
        disks: [],
      },
      intervalAvg: null,
      lastTs: null,
      firstTs: null,
      firstMemTotal: null,
      memPercentMin: null,
      memTotalMin: null,
      memTotalMax: null,
      mountSpans: new Map(),
    };
  }
  const n = b.samples;
  const disks: DiskDay[] = [...mounts.entries()]
    .sort(([a], [c]) => (a < c ? -1 : a > c ? 1 : 0))
    .map(([mount, m]) => ({
      mount,
      total_bytes: m.total,
      used_bytes: m.used,
      free_bytes: m.free,
      percent: diskPercent(m.used, m.free),
    }));
  return {
    day: {
      date,
      samples: n,
      cpu: { avg: b.cpuSum / n, peak: b.cpuPeak },
      memory: {
        total_bytes: b.lastMemTotal,
        used_avg_bytes: b.memUsedSum / n,
        available_avg_bytes: b.memAvailableSum / n,
        percent_avg: b.memPercentSum / n,
        percent_peak: b.memPercentMax,
      },
      disks,
    },
    intervalAvg: b.intervalCount > 0 ? b.intervalSum / b.intervalCount : null,
    lastTs: b.lastTs,
    firstTs: b.firstTs,
    firstMemTotal: b.firstMemTotal,
    memPercentMin: b.memPercentMin,
    memTotalMin: b.memTotalMin,
    memTotalMax: b.memTotalMax,
    mountSpans: new Map(
      [...mounts.entries()].map(([mount, m]) => [
        mount,
        {
          firstTs: m.firstTs,
          lastTs: m.lastTs,
          firstTotal: m.firstTotal,
          samples: m.samples,
          totalMin: m.totalMin,
          totalMax: m.totalMax,
        },
      ]),
    ),
  };
}

/** Days to aggregate: `dates[i]` runs from `dayStarts[i]` (incl.) to `dayStarts[i + 1]` (excl.). */
export interface DaySpan {
  dates: readonly string[];
  dayStarts: readonly number[];
}

/** Index of the day containing `ts`, or -1 outside the span. */
/**
 * True when every local midnight of the span is a whole UTC hour, so hour
 * buckets (and the rollups built from them) cut its days exactly.
 */
export function hourlyRollupsFit(span: DaySpan): boolean {
  return span.dayStarts.every((t) => t % HOUR_MS === 0);
}

export function dayIndex(span: DaySpan, ts: number): number {
  const starts = span.dayStarts;
  if (ts < starts[0]! || ts >= starts[starts.length - 1]!) return -1;
  let lo = 0;
  let hi = starts.length - 2;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= ts) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * Collects one server's rows (any order, duplicates allowed) and produces its
 * days. Duplicate (timestamp, mount) rows count once; when rows of one
 * timestamp disagree on CPU or memory, the row of the smallest mount wins
 * (the same row the store returns first).
 */
export class ServerRowAggregator {
  /** timestamp → the row whose CPU/memory figures count, and per mount the first row seen. */
  private readonly byTs = new Map<number, { row: MetricRow; mounts: Map<string, MetricRow> }>();

  constructor(
    readonly server: string,
    private readonly span: DaySpan,
  ) {}

  add(row: MetricRow): void {
    if (dayIndex(this.span, row.timestamp) < 0) return;
    const entry = this.byTs.get(row.timestamp);
    if (entry === undefined) {
      this.byTs.set(row.timestamp, { row, mounts: new Map([[row.diskMount, row]]) });
      return;
    }
    if (!entry.mounts.has(row.diskMount)) entry.mounts.set(row.diskMount, row);
    if (row.diskMount < entry.row.diskMount) entry.row = row;
  }

  finish(): DayAggregate[] {
    return this.finishWithHours(Number.POSITIVE_INFINITY).days;
  }

  /** The days, and the hour buckets that start at or after `hoursFrom` (chronological). */
  finishWithHours(hoursFrom: number): { days: DayAggregate[]; hours: HourAggregate[] } {
    const dayCount = this.span.dates.length;
    const days = Array.from({ length: dayCount }, () => ({
      bucket: emptyBucket(),
      mounts: new Map<string, MountLast>(),
    }));
    const hours: HourAggregate[] = [];
    const timestamps = [...this.byTs.keys()].sort((a, b) => a - b);
    // Hour buckets within a day, merged in order (the rollup path does the same).
    let hourBucket = emptyBucket();
    let hourMounts = new Map<string, MountLast>();
    let hourKey = Number.NaN;
    let hourDay = -1;
    const flush = (): void => {
      if (hourDay >= 0) {
        mergeBucket(days[hourDay]!.bucket, hourBucket);
        if (hourKey * HOUR_MS >= hoursFrom) hours.push(finishHour(hourBucket, hourMounts));
      }
      hourBucket = emptyBucket();
      hourMounts = new Map();
    };
    for (const ts of timestamps) {
      const entry = this.byTs.get(ts)!;
      const di = dayIndex(this.span, ts);
      const hk = Math.floor(ts / HOUR_MS);
      if (hk !== hourKey || di !== hourDay) {
        flush();
        hourKey = hk;
        hourDay = di;
      }
      addSample(hourBucket, entry.row);
      const keepHour = hk * HOUR_MS >= hoursFrom;
      for (const [mount, r] of entry.mounts) {
        const m: MountLast = {
          lastTs: ts,
          total: r.diskTotalBytes,
          used: r.diskUsedBytes,
          free: r.diskFreeBytes,
          firstTs: ts,
          firstTotal: r.diskTotalBytes,
          samples: 1,
          totalMin: r.diskTotalBytes,
          totalMax: r.diskTotalBytes,
        };
        mergeMount(days[di]!.mounts, mount, m);
        if (keepHour) mergeMount(hourMounts, mount, m);
      }
    }
    flush();
    this.byTs.clear();
    return { days: days.map((d, i) => finishDay(this.span.dates[i]!, d.bucket, d.mounts)), hours };
  }
}

/**
 * The reference implementation of the aggregation contract over raw rows:
 * per server, one DayReport per day of `span`. Rows may come in any order and
 * repeat. Servers without rows in the span are absent from the result.
 */
export function aggregateRows(rows: Iterable<MetricRow>, span: DaySpan): Map<string, DayReport[]> {
  const byServer = new Map<string, ServerRowAggregator>();
  for (const row of rows) {
    let agg = byServer.get(row.server);
    if (agg === undefined) {
      agg = new ServerRowAggregator(row.server, span);
      byServer.set(row.server, agg);
    }
    agg.add(row);
  }
  const out = new Map<string, DayReport[]>();
  for (const server of [...byServer.keys()].sort()) {
    const days = byServer.get(server)!.finish();
    if (days.some((d) => d.day.samples > 0))
      out.set(
        server,
        days.map((d) => d.day),
      );
  }
  return out;
}
