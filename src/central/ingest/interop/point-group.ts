/**
 * What a foreign input (node_exporter scrape, Prometheus remote_write, OTLP,
 * Telegraf, collectd) says about one server at one instant, before it
 * becomes CSV v1 rows. Each input's decoder turns its wire format into
 * PointGroups; ./sink.ts turns PointGroups into MetricRows (CPU busy % from
 * counters over the interval, memory used = total − available) and hands
 * them to the one ingest path, one CSV v1 file per server and batch.
 */

/** Where a batch came from: the key of its CPU counter baselines and of its log lines. */
export type InteropSource = "scrape" | "remote_write" | "otlp" | "telegraf" | "collectd";

/** One filesystem of a PointGroup, in srvutil's own meaning (docs/protocol.md). */
export interface DiskPoint {
  mount: string;
  /**
   * The filesystem type when the input says it. Decoders drop pseudo types
   * but for "/" (mayBeReported), which the sink keeps only when it is the
   * one disk left (realDisksOrRoot), as the agent does in a container.
   */
  fsType: string | null;
  totalBytes: number;
  /** blocks − bfree: what the filesystem has used, reserved blocks not counted. */
  usedBytes: number;
  /** bavail: the space an unprivileged user may still write. */
  freeBytes: number;
}

/**
 * CPU as cumulative counters over every CPU of the server (any unit, seconds
 * or ticks, as long as both use the same): `idle` holds every state that is
 * not busy (idle and iowait), `total` every state. busy % over an interval
 * = 100 × (Δtotal − Δidle) / Δtotal. A counter that goes down, or a `start`
 * that changes (OTLP's start time), is a reset: that interval is skipped.
 */
export interface CpuCounters {
  idle: number;
  total: number;
  /** The counters' start (OTLP start_time_unix_nano, in ms), when the input says it; null otherwise. */
  start: number | null;
  /**
   * How many counter series were summed (CPUs × states). A push input may
   * split one reading over two requests (Prometheus does when a scrape is
   * larger than a send): a reading with fewer series than the one before is
   * partial, and its sums must not be compared with a whole one.
   */
  series: number;
}

export interface PointGroup {
  /** The server, already resolved from the input's label (./server-label.ts); validated by the sink. */
  server: string;
  /** The instant, epoch ms. */
  timestamp: number;
  /** CPU counters (node_exporter, remote_write, OTLP cumulative, collectd derive). */
  cpuCounters?: CpuCounters;
  /** CPU busy % already computed by the source over its own interval (Telegraf's cpu-total). */
  cpuBusyPercent?: { value: number; intervalSeconds: number | null };
  memory?: { totalBytes: number; availableBytes: number };
  /** Real filesystems only; may be empty when the input had none. */
  disks: DiskPoint[];
}

/** Who sent a batch, and so which servers it may write. */
export type InteropWriter =
  /** An agent token: its own server only. */
  | { kind: "agent"; tokenId: string; server: string }
  /** A relay token (`token add NAME --role relay --servers GLOB`): every server its glob allows. */
  | { kind: "relay"; tokenId: string; name: string; servers: string }
  /** The central's own scraper: the server its scrape config names. */
  | { kind: "scrape" };
