import type { DayAggregate, DaySpan, HourAggregate } from "../../aggregate/rows.js";

/**
 * Hourly and daily rollups behind one port, so a report (and the dashboard)
 * reads O(servers × days) rows instead of every sample, on either backend.
 *
 * The figures a rollup gives equal a fresh computation from the raw rows
 * (aggregate/rows.ts) bit for bit: both sides fold the same hour buckets in
 * the same order. (An hour sealed by retention that later takes late samples
 * merges them into its bucket: counts, extremes and last values stay exact,
 * sums equal up to rounding; see prune.) Only spans whose local midnights fall on whole UTC hours
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
  /**
   * Drops and recomputes every rollup from the samples, from the raw
   * horizon on; before it the kept buckets stay, and rows stored there again
   * are folded as late rows of sealed hours (each sample once).
   */
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
  /** The horizons retention recorded (see prune). */
  horizons(): Promise<RollupHorizons>;
  /**
   * Retention, rollup side (daily rollups are kept forever). Deletes the
   * hour buckets, and their seen sets, before `hourlyBefore`, and records
   * the hour after the newest bucket it deleted as the hourly horizon: no
   * refresh folds an hour before it (plus LATE_FOLD_MARGIN_MS), since the
   * local days around such an hour lack buckets to be recomputed from. Records `rawBefore`, rounded up to a whole
   * hour, as the raw horizon: hours before it are sealed (their raw rows are
   * pruned, or about to be). Sealing an hour first folds what is pending for
   * it, then keeps the timestamps counted in its bucket (its seen set), so
   * that later refreshes fold late rows for it exactly once (./sealed-hours.ts).
   * Call it before pruning the raw samples. Both horizons only move forward.
   */
  prune(cutoffs: RollupPruneCutoffs): Promise<RollupPruneResult>;
}

export interface RollupPruneCutoffs {
  /** Raw samples before this instant (epoch ms) are, or are about to be, pruned. */
  rawBefore: number;
  /** Hour buckets before this instant are deleted (13 months by default retention); 0 keeps them. */
  hourlyBefore: number;
}

export interface RollupHorizons {
  /** Hours before this one are sealed (0: none). */
  raw: number;
  /** The hour after the newest hour bucket retention deleted (0: none deleted yet). */
  hourly: number;
}

export interface RollupPruneResult {
  /** Hour buckets (server, hour) deleted. */
  hourlyDeleted: number;
  /** The raw horizon in force now (epoch ms, a whole hour): hours before it are sealed. */
  rawHorizon: number;
  /** The hourly horizon in force now (RollupHorizons.hourly). */
  hourlyHorizon: number;
  /** Seen sets written for the hours this call sealed. */
  hoursSealed: number;
}

/** The hour from which buckets may be recomputed: the first whole hour at or after `rawBefore`. */
export function rawHorizonHour(rawBefore: number): number {
  return Math.ceil(rawBefore / 3_600_000) * 3_600_000;
}

/**
 * A refresh folds no hour before the hourly horizon plus this margin. A
 * refresh recomputes the local days around the hours it folds from their
 * hour buckets; every local day (25 hours at most, in any zone) that touches
 * an hour two days past the horizon still has all its buckets.
 */
export const LATE_FOLD_MARGIN_MS = 2 * 86_400_000;

/** The first sealed hour a refresh may fold, given the hourly horizon recorded by prune (0: none). */
export function lateFoldFloor(hourlyHorizon: number): number {
  return hourlyHorizon > 0 ? hourlyHorizon + LATE_FOLD_MARGIN_MS : 0;
}

/**
 * The first hour a refresh folds: the fold floor, except that hours from the
 * raw horizon on (not sealed: their rows are all there) are always
 * recomputed, whatever the settings put the floor at.
 */
export function foldFrom(horizons: RollupHorizons): number {
  return Math.min(horizons.raw, lateFoldFloor(horizons.hourly));
}

/**
 * How many hours one sealing step takes on when the raw horizon moves by
 * more than an hour (the first retention run over a year of history): about
 * `serverHours` server-hours a step, at least one hour and at most a week,
 * so that a step of a large fleet stays short and a year of a small one does
 * not take hundreds of transactions.
 */
export function sealStepMs(servers: number, serverHours: number): number {
  const hours = Math.max(1, Math.min(168, Math.floor(serverHours / Math.max(1, servers))));
  return hours * 3_600_000;
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
 * Bounds of one refresh, the same on both backends. The two follow new data
 * differently (SQLite: uploads past a watermark; PostgreSQL: dirty
 * (server, hour) marks, see their modules), so each translates the batch
 * size into its own unit of work.
 */
export interface RollupRefreshOptions {
  /** Stop after this many transactions (the caller continues later: `more`). Default: until done. */
  maxBatches?: number;
  /** Work per transaction (RollupBatchSize). Default: large batches, for a catch-up. */
  batchSize?: RollupBatchSize;
}

/**
 * How much one refresh transaction takes on. "serving": a step that holds
 * the event loop for a few milliseconds only, for a process that takes
 * uploads meanwhile (central serve's RollupMaintainer). A number n: at most
 * n units of the backend's work (an upload on SQLite, a dirty server-hour on
 * PostgreSQL), at least one; tests use it to take small steps.
 */
export type RollupBatchSize = "serving" | number;

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
