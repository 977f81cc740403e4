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
