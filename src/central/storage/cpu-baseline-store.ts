/**
 * The last CPU counters each foreign input gave per server: busy % over an
 * interval is the difference of two readings, and two readings of one server
 * can arrive in different requests, at different instances. Kept in the
 * database so that any instance, after any restart, computes the next
 * interval. SQLite: ./sqlite/cpu-baselines.ts; PostgreSQL: ./postgres/cpu-baselines.ts.
 */
export interface CpuBaselineStore {
  /** The stored baseline of each of `servers` for `source`, by server (absent: none yet). */
  read(source: string, servers: readonly string[]): Promise<Map<string, CpuBaseline>>;
  /**
   * Stores each server's baseline for `source`, unless the stored one is
   * newer (two instances may store out of order: the newest reading wins).
   */
  advance(source: string, baselines: ReadonlyMap<string, CpuBaseline>): Promise<void>;
}

/** One reading of a server's CPU counters (src/central/ingest/interop/point-group.ts CpuCounters). */
export interface CpuBaseline {
  /** When the counters were read, epoch ms. */
  timestamp: number;
  idle: number;
  total: number;
  /** The counters' start when the input says it (OTLP), else null. */
  start: number | null;
  /** How many counter series the reading summed (CpuCounters.series). */
  series: number;
}
