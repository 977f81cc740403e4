import type pg from "pg";
import type { CpuBaseline, CpuBaselineStore } from "../cpu-baseline-store.js";

/** CPU baselines on PostgreSQL (table created by the metrics migrations, ./pg-store.ts). */
export class PgCpuBaselineStore implements CpuBaselineStore {
  constructor(private readonly pool: pg.Pool) {}

  async read(source: string, servers: readonly string[]): Promise<Map<string, CpuBaseline>> {
    const r = await this.pool.query<{
      server: string;
      ts: number;
      idle: number;
      total: number;
      start: number | null;
      series: number;
    }>(
      `SELECT server, ts, idle, total, start, series FROM cpu_baselines
       WHERE source = $1 AND server = ANY($2::text[])`,
      [source, [...new Set(servers)]],
    );
    return new Map(
      r.rows.map((b) => [
        b.server,
        { timestamp: b.ts, idle: b.idle, total: b.total, start: b.start, series: b.series },
      ]),
    );
  }

  async advance(source: string, baselines: ReadonlyMap<string, CpuBaseline>): Promise<void> {
    if (baselines.size === 0) return;
    const rows = [...baselines].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    // One statement; rows in server order so two instances lock them in the same order.
    await this.pool.query(
      `INSERT INTO cpu_baselines (source, server, ts, idle, total, start, series)
       SELECT $1, * FROM unnest($2::text[], $3::bigint[], $4::float8[], $5::float8[], $6::bigint[], $7::int[])
       ON CONFLICT (source, server) DO UPDATE SET ts = excluded.ts, idle = excluded.idle,
         total = excluded.total, start = excluded.start, series = excluded.series
       WHERE excluded.ts > cpu_baselines.ts`,
      [
        source,
        rows.map(([s]) => s),
        rows.map(([, b]) => b.timestamp),
        rows.map(([, b]) => b.idle),
        rows.map(([, b]) => b.total),
        rows.map(([, b]) => b.start),
        rows.map(([, b]) => b.series),
      ],
    );
  }
}
