import type { DayAggregate, DaySpan, HourAggregate } from "../aggregate/rows.js";

/**
 * Hourly and daily rollups behind one port, so a report (and the dashboard)
 * reads O(servers × days) rows instead of every sample, on either backend.
 *
 * The figures a rollup gives equal a fresh computation from the raw rows
 * (aggregate/rows.ts) bit for bit: both sides fold the same hour buckets in
 * the same order. Only spans whose local midnights fall on whole UTC hours
 * can be served from hour buckets (see `hourlyRollupsFit`); the report reads
 * raw rows for the others (e.g. Asia/Kolkata).
 */
export interface RollupStore {
  /**
   * Keeps the daily rollups of `tz` current from now on (as uploads arrive),
   * so the first report in that zone needs no catch-up.
   */
  registerZone(tz: string): Promise<void>;
  /**
   * Folds what was ingested since the last refresh into the rollups. Safe to
   * run on every central instance at once. Bounded by `options` (`more`
   * says there is work left); without bounds it runs until caught up.
   */
  refresh(options?: RollupRefreshOptions): Promise<RollupRefreshResult>;
  /** Drops and recomputes every rollup from the samples. */
  rebuild(): Promise<RollupRefreshResult>;
  /**
   * The days of `span` for `servers` in `tz`, filling (and keeping) days not
   * computed yet from the hourly buckets. Requires hourlyRollupsFit(span).
   * Call refresh first for figures that include the latest uploads.
   */
  readDaily(tz: string, span: DaySpan, servers: readonly string[]): Promise<Map<string, DayAggregate[]>>;
  /** One server's hour buckets in [from, to), chronological; empty hours are left out. */
  readHourly(server: string, from: number, to: number): Promise<HourAggregate[]>;
  /**
   * readHourly for many servers at once (one round trip per table on
   * PostgreSQL, where a report of 10,000 servers would otherwise pay 20,000).
   * Every requested server is a key of the answer, with [] when it has no hours.
   */
  readHourlyMany(servers: readonly string[], from: number, to: number): Promise<Map<string, HourAggregate[]>>;
  /**
   * Retention, rollup side (daily rollups are kept forever). Deletes the
   * hour buckets before `hourlyBefore`, and records `rawBefore`, the raw
   * samples' retention horizon: from now on no refresh or rebuild recomputes
   * an hour that starts before it (rounded up to a whole hour), because raw
   * rows pruned there would empty a bucket that reports still read. Call it
   * before pruning the raw samples. The horizon only moves forward.
   */
  prune(cutoffs: RollupPruneCutoffs): Promise<RollupPruneResult>;
}

export interface RollupPruneCutoffs {
  /** Raw samples before this instant (epoch ms) are, or are about to be, pruned. */
  rawBefore: number;
  /** Hour buckets before this instant are deleted (13 months by default retention). */
  hourlyBefore: number;
}

export interface RollupPruneResult {
  /** Hour buckets (server, hour) deleted. */
  hourlyDeleted: number;
  /** The horizon in force now (epoch ms, a whole hour): hours before it are never recomputed. */
  rawHorizon: number;
}

/** The hour from which buckets may be recomputed: the first whole hour at or after `rawBefore`. */
export function rawHorizonHour(rawBefore: number): number {
  return Math.ceil(rawBefore / 3_600_000) * 3_600_000;
}

/**
 * The first date (YYYY-MM-DD) of the daily rollups a rebuild redoes when it
 * redoes the hours from `horizon` on: a day early covers every zone's offset
 * (UTC−12 to UTC+14), and the few days before the horizon it takes along
 * refill from their kept hour buckets (hourly retention is far longer).
 */
export function firstDateFrom(horizon: number): string {
  return new Date(horizon - 86_400_000).toISOString().slice(0, 10);
}

/**
 * Bounds of one refresh. The two backends follow new data differently
 * (SQLite: uploads past a watermark; PostgreSQL: dirty (server, hour) rows,
 * see their modules), so each reads the bounds that apply to it; a caller
 * that must stay responsive passes all of them.
 */
export interface RollupRefreshOptions {
  /** Stop after this many transactions (the caller continues later: `more`). Default: until done. */
  maxBatches?: number;
  /** SQLite: uploads folded in per transaction. */
  batchUploads?: number;
  /** SQLite: rows of those uploads per transaction (at least one upload goes in each). Default: no limit. */
  batchRows?: number;
  /** PostgreSQL: dirty (server, hour) buckets recomputed per transaction. */
  batchHours?: number;
}

export interface RollupRefreshResult {
  /** Uploads folded in by this refresh (SQLite; PostgreSQL follows dirty hours, not uploads, and says 0). */
  uploads: number;
  /** Hour buckets (server, hour) recomputed. */
  hours: number;
  /** True when the rollups were rebuilt from scratch (first run or data was cleared). */
  rebuilt: boolean;
  /** True when maxBatches stopped the refresh with work still to do. */
  more: boolean;
}
