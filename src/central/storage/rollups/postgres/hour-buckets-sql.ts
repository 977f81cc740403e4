import type pg from "pg";
import { HOUR_MS } from "../../../aggregate/rows.js";
import { BUCKET_COLUMNS, MOUNT_COLUMNS, type TouchedRange } from "../buckets.js";

/**
 * Hour buckets computed by PostgreSQL itself, straight from the samples into
 * the rollup tables: INSERT … SELECT, no sample crosses the wire. Fetching
 * the rows to fold them in JS (what SQLite does, in process) ran at about
 * 40,000 rows/s here, almost all of it node-pg parsing text rows; a four-week
 * fleet of 100 servers would have taken minutes after every import.
 *
 * The SQL mirrors addSample() and the per-mount fold of aggregate/rows.ts
 * operation for operation, so the buckets are bit-identical (the randomized
 * rollup-vs-raw suite checks it on PostgreSQL, with DST weeks and four zones):
 *
 * - CPU and memory count once per timestamp, from the row of the smallest
 *   mount (DISTINCT ON … ORDER BY mount COLLATE "C": byte order, as SQLite).
 * - Sums are float8 sums in timestamp order (`sum(x ORDER BY ts)` applies
 *   float8 addition row by row, as `+=` does), plus 0 so that a sum of
 *   negative zeros is +0 as in JS, where every sum starts at 0.
 * - Memory % is (used::float8 / total::float8) * 100, 0 when total is 0.
 * - "Last" and "first" values are those of the latest and earliest timestamp
 *   (unique per server and mount by the primary key).
 *
 * A change to the arithmetic of aggregate/rows.ts must be made here too.
 * Timestamps are positive epoch ms, so ts - ts % 3600000 is the hour.
 */
export const PERCENT =
  "CASE WHEN mem_total > 0 THEN (mem_used::float8 / mem_total::float8) * 100::float8 ELSE 0::float8 END";

/**
 * The samples of the claimed ranges, one primary-key range scan per range.
 * LATERAL with OFFSET 0 (which keeps the planner from flattening the
 * subquery back into a join) makes that the only plan: with a join it cannot
 * estimate `ts` between two joined columns, takes each range for a large
 * share of its server's rows and, past ~50 ranges (fleets with gaps),
 * hash-joins a sequential scan of the whole week's partition. Measured on a 10,000-server week: 200 ms per
 * batch instead of 10, a 1,690,000-hour catch-up of 850 s instead of ~120 s.
 */
export const RANGES = `unnest($1::text[], $2::int8[], $3::int8[]) AS r(server, f, t)
  CROSS JOIN LATERAL (
    SELECT * FROM samples WHERE samples.server = r.server AND samples.ts >= r.f AND samples.ts < r.t
    OFFSET 0
  ) AS s`;

const INSERT_HOURS = `
  INSERT INTO rollup_hourly (server, hour, ${BUCKET_COLUMNS})
  SELECT server, ts - ts % ${HOUR_MS},
    count(*),
    sum(cpu_percent ORDER BY ts) + 0,
    max(CASE WHEN cpu_peak_percent IS NOT NULL AND cpu_peak_percent > cpu_percent THEN cpu_peak_percent ELSE cpu_percent END),
    sum(mem_used::float8 ORDER BY ts) + 0,
    sum(mem_available::float8 ORDER BY ts) + 0,
    sum(${PERCENT} ORDER BY ts) + 0,
    max(${PERCENT}),
    max(ts),
    (array_agg(mem_total ORDER BY ts DESC))[1],
    coalesce(sum(interval_seconds ORDER BY ts), 0) + 0,
    count(interval_seconds),
    min(ts),
    (array_agg(mem_total ORDER BY ts))[1],
    min(${PERCENT}),
    min(mem_total),
    max(mem_total)
  FROM (
    SELECT DISTINCT ON (s.server, s.ts) s.server, s.ts, s.cpu_percent, s.cpu_peak_percent, s.interval_seconds,
      s.mem_total, s.mem_used, s.mem_available
    FROM ${RANGES}
    ORDER BY s.server, s.ts, s.mount COLLATE "C"
  ) AS first_of_ts
  GROUP BY server, ts - ts % ${HOUR_MS}`;

const INSERT_MOUNTS = `
  INSERT INTO rollup_hourly_disk (server, hour, mount, ${MOUNT_COLUMNS})
  SELECT s.server, s.ts - s.ts % ${HOUR_MS}, s.mount,
    max(s.ts),
    (array_agg(s.disk_total ORDER BY s.ts DESC))[1],
    (array_agg(s.disk_used ORDER BY s.ts DESC))[1],
    (array_agg(s.disk_free ORDER BY s.ts DESC))[1],
    min(s.ts),
    (array_agg(s.disk_total ORDER BY s.ts))[1],
    count(*),
    min(s.disk_total),
    max(s.disk_total)
  FROM ${RANGES}
  GROUP BY s.server, s.ts - s.ts % ${HOUR_MS}, s.mount`;

/** The two statements, for the test that checks their plans (test/central/storage/pg-rollup-plans.test.ts). */
export const HOUR_BUCKET_STATEMENTS = { hours: INSERT_HOURS, mounts: INSERT_MOUNTS } as const;

/**
 * Replaces the hour buckets of `claimed` (the hours of `ranges`, exactly)
 * with buckets computed from the samples; hours without samples are left
 * without a bucket, as in SQLite.
 */
export async function recomputeHoursInSql(
  client: pg.ClientBase,
  claimed: readonly { server: string; hour: number }[],
  ranges: readonly TouchedRange[],
): Promise<void> {
  const keys = [claimed.map((c) => c.server), claimed.map((c) => c.hour)];
  for (const table of ["rollup_hourly", "rollup_hourly_disk"]) {
    await client.query(
      `DELETE FROM ${table} t USING unnest($1::text[], $2::int8[]) AS c(server, hour)
       WHERE t.server = c.server AND t.hour = c.hour`,
      keys,
    );
  }
  const params = [ranges.map((r) => r.server), ranges.map((r) => r.from), ranges.map((r) => r.to)];
  await client.query(INSERT_HOURS, params);
  await client.query(INSERT_MOUNTS, params);
}
