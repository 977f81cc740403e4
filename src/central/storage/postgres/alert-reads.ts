import type pg from "pg";
import type { AlertHour, AlertWindow } from "../alert-store.js";
import { PERCENT } from "../rollups/postgres/hour-buckets-sql.js";
import { withoutJit } from "./without-jit.js";

/**
 * The evidence the alert rules read every minute, for the whole fleet at
 * once (10,000 servers), with the figures of ../sqlite/alert-reads.ts. One
 * statement per read, driven from server_stats with LATERAL subqueries: one
 * primary-key range scan per server (PostgreSQL 15 has no skip scan; a range
 * on ts or hour alone would read every server's rows of the partition or
 * history). Servers last seen before the range are left out there. JIT off,
 * as for the dashboard's fleet read (./without-jit.ts).
 */

/**
 * CPU and memory count once per timestamp, from the row of the smallest
 * mount (DISTINCT ON … ORDER BY mount COLLATE "C"), as the report's buckets
 * do; cpu_percent is the figure the report averages, and memory % is the
 * expression of the hour buckets (PERCENT: memoryPercent() of
 * aggregate/rows.ts in float8). One row per server: 10,000 rows a minute.
 */
const RECENT_WINDOW = `
  SELECT st.server, w.samples, w.first_ts, w.last_ts, w.cpu_min, w.mem_min
  FROM server_stats st
  CROSS JOIN LATERAL (
    SELECT count(*) AS samples, min(ts) AS first_ts, max(ts) AS last_ts,
      min(cpu_percent) AS cpu_min, min(${PERCENT}) AS mem_min
    FROM (
      SELECT DISTINCT ON (s.ts) s.ts, s.cpu_percent, s.mem_used, s.mem_total
      FROM samples s WHERE s.server = st.server AND s.ts >= st.last_seen - $1
      ORDER BY s.ts, s.mount COLLATE "C"
    ) AS first_of_ts
  ) AS w
  WHERE w.samples > 0 AND ($2::text[] IS NULL OR st.server = ANY($2::text[]))`;

/** Each server's own last `spanMs` of samples (ts ≥ its last_seen − spanMs). */
export async function readRecentWindow(
  pool: pg.Pool,
  spanMs: number,
  servers?: readonly string[],
): Promise<Map<string, AlertWindow>> {
  const r = await withoutJit(pool, (c) =>
    c.query<{
      server: string;
      samples: number;
      first_ts: number;
      last_ts: number;
      cpu_min: number;
      mem_min: number;
    }>(RECENT_WINDOW, [spanMs, servers === undefined ? null : [...servers]]),
  );
  const out = new Map<string, AlertWindow>();
  for (const x of r.rows) {
    out.set(x.server, {
      samples: x.samples,
      firstTs: x.first_ts,
      lastTs: x.last_ts,
      cpuMin: x.cpu_min,
      memMin: x.mem_min,
    });
  }
  return out;
}

/**
 * Per server, its hours and its mounts' rows as two JSON values
 * ([hour, last_ts, memAvg] and [hour, mount, used, free, total]), each one
 * primary-key range scan (a disk lookup per hour was 12,000 index scans for
 * 500 servers' day); paired up here. 10,000 servers × 24 hours × their
 * mounts as rows would cost node-pg more to parse than the query (the
 * dashboard's fleet read measured it). float8 / int is IEEE division, as in
 * JS, and JSON shows a float8 in its shortest exact digits, which JSON.parse
 * reads back exactly.
 */
const HOURS = `
  SELECT st.server, h.hours, d.disks
  FROM server_stats st
  CROSS JOIN LATERAL (
    SELECT json_agg(json_build_array(r.hour, r.last_ts, r.mem_percent_sum / r.samples, r.cpu_peak, r.mem_percent_max) ORDER BY r.hour) AS hours
    FROM rollup_hourly r
    WHERE r.server = st.server AND r.hour >= $1 AND r.hour < $2 AND r.samples > 0
  ) AS h
  LEFT JOIN LATERAL (
    SELECT json_agg(json_build_array(k.hour, k.mount, k.used, k.free, k.total) ORDER BY k.hour, k.mount COLLATE "C")
      AS disks
    FROM rollup_hourly_disk k
    WHERE k.server = st.server AND k.hour >= $1 AND k.hour < $2
  ) AS d ON true
  WHERE st.last_seen >= $1 AND h.hours IS NOT NULL AND ($3::text[] IS NULL OR st.server = ANY($3::text[]))`;

export async function readAlertHours(
  pool: pg.Pool,
  from: number,
  to: number,
  servers?: readonly string[],
): Promise<Map<string, AlertHour[]>> {
  const r = await withoutJit(pool, (c) =>
    c.query<{
      server: string;
      hours: [number, number, number, number, number][];
      disks: [number, string, number, number, number][] | null;
    }>(HOURS, [from, to, servers === undefined ? null : [...servers]]),
  );
  const out = new Map<string, AlertHour[]>();
  for (const x of r.rows) {
    const hours: AlertHour[] = x.hours.map(([hour, lastTs, memAvg, cpuPeak, memMax]) => ({
      hour,
      lastTs,
      memAvg,
      cpuPeak,
      memMax,
      disks: [],
    }));
    const byHour = new Map(hours.map((h) => [h.hour, h]));
    // Mounts of an hour without a bucket (none with samples) are left out with it.
    for (const [hour, mount, usedBytes, freeBytes, totalBytes] of x.disks ?? []) {
      byHour.get(hour)?.disks.push({ mount, usedBytes, freeBytes, totalBytes });
    }
    out.set(x.server, hours);
  }
  return out;
}
