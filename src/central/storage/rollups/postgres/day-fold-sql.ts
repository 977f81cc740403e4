import type pg from "pg";
import { type DaySpan, emptyBucket, type MountLast } from "../../../aggregate/rows.js";
import { withoutJit } from "../../postgres/without-jit.js";
import {
  BUCKET_COLUMN_NAMES,
  bucketFromTuple,
  type FoldedDays,
  MOUNT_COLUMN_NAMES,
  mountFromTuple,
} from "../buckets.js";

/**
 * foldDays (../buckets.ts) in SQL: hour buckets merged into the days
 * of each span inside PostgreSQL, so a year of one server comes back as 366
 * day rows and 732 mount rows instead of 8,784 hour rows and 17,568 hour
 * mounts (sending and parsing those rows was most of a first 1-year view).
 *
 * Bit for bit the figures of mergeBucket / mergeMount (aggregate/rows.ts),
 * which merge hours in hour order:
 * - float sums are `sum(x ORDER BY hour) + 0`: sum(float8) is float8pl
 *   applied in input order, the same additions as JS's `+=` from 0, which
 *   differ only in the sign of a zero, and + 0 makes that +0 as in JS (as
 *   ./hour-buckets-sql.ts does); an ordered aggregate is never split across
 *   parallel workers either;
 * - integer sums are cast back to int8 (sum(int8) is numeric);
 * - maxima and minima are order-free;
 * - "the value at the last / first timestamp" takes the hour mergeBucket
 *   keeps: for last_ts (`>=`) the latest hour among equal timestamps, for
 *   first_ts (`<`) and a mount's last_ts / first_ts (`>` / `<`) the earliest.
 * Hours without samples are skipped, as mergeBucket skips them, and a day
 * without any is the empty bucket.
 */
const DAY_BUCKET_SQL: Record<(typeof BUCKET_COLUMN_NAMES)[number], string> = {
  samples: "sum(h.samples)::int8",
  cpu_sum: "sum(h.cpu_sum ORDER BY h.hour) + 0",
  cpu_peak: "max(h.cpu_peak)",
  mem_used_sum: "sum(h.mem_used_sum ORDER BY h.hour) + 0",
  mem_available_sum: "sum(h.mem_available_sum ORDER BY h.hour) + 0",
  mem_percent_sum: "sum(h.mem_percent_sum ORDER BY h.hour) + 0",
  mem_percent_max: "max(h.mem_percent_max)",
  last_ts: "max(h.last_ts)",
  last_mem_total: "(array_agg(h.last_mem_total ORDER BY h.last_ts DESC, h.hour DESC))[1]",
  interval_sum: "sum(h.interval_sum ORDER BY h.hour) + 0",
  interval_count: "sum(h.interval_count)::int8",
  first_ts: "min(h.first_ts)",
  first_mem_total: "(array_agg(h.first_mem_total ORDER BY h.first_ts, h.hour))[1]",
  mem_percent_min: "min(h.mem_percent_min)",
  mem_total_min: "min(h.mem_total_min)",
  mem_total_max: "max(h.mem_total_max)",
};

const DAY_MOUNT_SQL: Record<(typeof MOUNT_COLUMN_NAMES)[number], string> = {
  last_ts: "max(d.last_ts)",
  total: "(array_agg(d.total ORDER BY d.last_ts DESC, d.hour))[1]",
  used: "(array_agg(d.used ORDER BY d.last_ts DESC, d.hour))[1]",
  free: "(array_agg(d.free ORDER BY d.last_ts DESC, d.hour))[1]",
  first_ts: "min(d.first_ts)",
  first_total: "(array_agg(d.first_total ORDER BY d.first_ts, d.hour))[1]",
  samples: "sum(d.samples)::int8",
  total_min: "min(d.total_min)",
  total_max: "max(d.total_max)",
};

/**
 * Every day of every span as parallel arrays: span number, day number,
 * server, [from, to), date; the parameters that `daysInput` unnests.
 */
function dayKeys(spans: readonly { server: string; span: DaySpan }[]): unknown[][] {
  const keys: unknown[][] = [[], [], [], [], [], []];
  spans.forEach((s, n) => {
    s.span.dates.forEach((date, i) => {
      keys[0]!.push(n);
      keys[1]!.push(i);
      keys[2]!.push(s.server);
      keys[3]!.push(s.span.dayStarts[i]);
      keys[4]!.push(s.span.dayStarts[i + 1]);
      keys[5]!.push(date);
    });
  });
  return keys;
}

/**
 * dayKeys' arrays from parameter $first on, as rows k(n, i, server, f, t, date).
 * Each day is joined to its hours by a LATERAL subquery kept apart (OFFSET 0), so it is one
 * primary-key range scan per day whatever the planner thinks: with a small table it hash-joined
 * on the server alone and tested every hour of the server against every day (3.4 M rows
 * filtered, 600 ms, for one server's year in a 5-server bench).
 */
function daysInput(first: number): string {
  const [n, i, server, f, t, date] = [0, 1, 2, 3, 4, 5].map((k) => `$${first + k}`);
  return `unnest(${n}::int4[], ${i}::int4[], ${server}::text[], ${f}::int8[], ${t}::int8[], ${date}::text[]) AS k(n, i, server, f, t, date)`;
}

/** The days of each of `spans` folded from the hour buckets (what foldDays gives from those hours). */
export async function foldDaysInSql(
  db: pg.Pool | pg.ClientBase,
  spans: readonly { server: string; span: DaySpan }[],
): Promise<FoldedDays[]> {
  const params = dayKeys(spans);
  // One client, so one statement after the other (queueing a second query on a busy client is
  // deprecated in node-postgres, and the server runs them in turn anyway).
  const [days, mounts] = await withoutJit(db, async (client) => [
    await client.query({
      text: `SELECT k.n, k.i, ${BUCKET_COLUMN_NAMES.map((c) => DAY_BUCKET_SQL[c]).join(", ")}
        FROM ${daysInput(1)}
        CROSS JOIN LATERAL (
          SELECT * FROM rollup_hourly
          WHERE server = k.server AND hour >= k.f AND hour < k.t AND samples > 0 OFFSET 0
        ) h
        GROUP BY k.n, k.i`,
      values: params,
      rowMode: "array",
    }),
    await client.query({
      text: `SELECT k.n, k.i, d.mount, ${MOUNT_COLUMN_NAMES.map((c) => DAY_MOUNT_SQL[c]).join(", ")}
        FROM ${daysInput(1)}
        CROSS JOIN LATERAL (
          SELECT * FROM rollup_hourly_disk WHERE server = k.server AND hour >= k.f AND hour < k.t OFFSET 0
        ) d
        GROUP BY k.n, k.i, d.mount
        ORDER BY k.n, k.i, d.mount COLLATE "C"`,
      values: params,
      rowMode: "array",
    }),
  ]);
  const out: FoldedDays[] = spans.map((s) => ({
    buckets: s.span.dates.map(() => emptyBucket()),
    mounts: s.span.dates.map(() => new Map<string, MountLast>()),
  }));
  for (const r of days.rows as unknown[][]) {
    out[r[0] as number]!.buckets[r[1] as number] = bucketFromTuple(r, 2);
  }
  for (const r of mounts.rows as unknown[][]) {
    out[r[0] as number]!.mounts[r[1] as number]!.set(r[2] as string, mountFromTuple(r, 3));
  }
  return out;
}

/**
 * A refresh's days, folded and stored without leaving PostgreSQL: the days
 * of each span replace the stored ones of `tz`, as computeDays + writeDays
 * (./rows.ts) store them, with the same folds as foldDaysInSql. A day
 * without hours becomes the empty bucket (every column 0, which is what
 * bucketValues gives an empty bucket), so a day whose hours are gone is
 * emptied. A refresh does not look at the days it writes: sending them to
 * Node and back cost a round trip each way and most of the refresher's own
 * CPU after its zone arithmetic (docs/scaling.md). The caller holds the
 * servers' locks and is in a transaction.
 */
export async function replaceDaysInSql(
  client: pg.ClientBase,
  tz: string,
  spans: readonly { server: string; span: DaySpan }[],
): Promise<void> {
  const params = dayKeys(spans);
  if (params[0]!.length === 0) return;
  const days = daysInput(2);
  const values = [tz, ...params];
  await withoutJit(client, async (c) => {
    for (const table of ["rollup_daily", "rollup_daily_disk"]) {
      await c.query(
        `DELETE FROM ${table} r USING unnest($2::text[], $3::text[]) AS k(server, date)
         WHERE r.tz = $1 AND r.server = k.server AND r.date = k.date`,
        [tz, params[2], params[5]],
      );
    }
    await c.query(
      `INSERT INTO rollup_daily (tz, server, date, ${BUCKET_COLUMN_NAMES.join(", ")})
       SELECT $1, k.server, k.date, ${BUCKET_COLUMN_NAMES.map((col) => `COALESCE(${DAY_BUCKET_SQL[col]}, 0)`).join(", ")}
       FROM ${days}
       LEFT JOIN LATERAL (
         SELECT * FROM rollup_hourly
         WHERE server = k.server AND hour >= k.f AND hour < k.t AND samples > 0 OFFSET 0
       ) h ON true
       GROUP BY k.n, k.i, k.server, k.date`,
      values,
    );
    await c.query(
      `INSERT INTO rollup_daily_disk (tz, server, date, mount, ${MOUNT_COLUMN_NAMES.join(", ")})
       SELECT $1, k.server, k.date, d.mount, ${MOUNT_COLUMN_NAMES.map((col) => DAY_MOUNT_SQL[col]).join(", ")}
       FROM ${days}
       CROSS JOIN LATERAL (
         SELECT * FROM rollup_hourly_disk WHERE server = k.server AND hour >= k.f AND hour < k.t OFFSET 0
       ) d
       GROUP BY k.n, k.i, k.server, k.date, d.mount`,
      values,
    );
  });
}
