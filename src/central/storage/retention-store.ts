/**
 * Retention of the raw samples behind the port, so the retention job
 * (../retention.ts) never needs to know the backend. Each backend prunes in
 * its own way: PostgreSQL drops whole weekly partitions past the horizon and
 * DELETEs the rest of the boundary week; SQLite DELETEs in small batches,
 * each its own short write transaction, so uploads keep being committed in
 * between.
 *
 * Pruning never touches `server_stats` (first and last seen, rows ever
 * stored): a server whose raw rows are all past the horizon is still part of
 * the reports of the weeks it reported in, served from the rollups.
 */
export interface RetentionStore {
  /** Deletes every raw sample with ts < cutoff (epoch ms). Safe while uploads arrive. */
  pruneSamples(cutoff: number, options?: SamplePruneOptions): Promise<SamplePruneResult>;
  /** Upkeep that keeps writes cheap (PostgreSQL: creates the partitions of the weeks ahead). */
  maintain(now: number): Promise<void>;
}

export interface SamplePruneOptions {
  /** Rows per DELETE batch (SQLite) or servers per DELETE statement (PostgreSQL boundary week). */
  batchSize?: number;
}

export interface SamplePruneResult {
  cutoff: number;
  /** Rows removed by DELETE (rows of dropped partitions are not counted: see partitionsDropped). */
  rowsDeleted: number;
  /** Whole partitions dropped (PostgreSQL), by name; always empty on SQLite. */
  partitionsDropped: string[];
}
