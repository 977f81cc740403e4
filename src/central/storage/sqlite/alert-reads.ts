import type Database from "better-sqlite3";
import type { AlertHour, AlertWindow } from "../alert-store.js";
import { prepared } from "./prepared.js";

/**
 * The evidence the alert rules read every minute, for the whole fleet at
 * once (10,000 servers): one statement per read. Each is driven from
 * server_stats (`server IN (SELECT …)`), so SQLite seeks each server's key
 * range of samples or rollups instead of scanning the tables; servers last
 * seen before the range are left out there.
 */

/**
 * CPU and memory count once per timestamp, from the row of the smallest
 * mount, as the report's buckets do (aggregate/rows.ts, and the SQL of
 * ../rollups/postgres/hour-buckets-sql.ts): `MIN(mount)` makes SQLite take
 * the other bare columns from that row (BINARY collation: byte order). The
 * CPU figure is cpu_percent, what the report averages. Memory % is
 * memoryPercent() of aggregate/rows.ts, used/total×100 in doubles (0 when
 * total is 0): the same IEEE operations, so the same bits.
 */
const recentWindowSql = (servers: string) => `
  SELECT server, COUNT(*), MIN(ts), MAX(ts), MIN(cpu_percent), MIN(mem) FROM (
    SELECT st.server AS server, s.ts AS ts, MIN(s.mount), s.cpu_percent AS cpu_percent,
      CASE WHEN s.mem_total > 0 THEN (CAST(s.mem_used AS REAL) / CAST(s.mem_total AS REAL)) * 100.0 ELSE 0.0 END AS mem
    -- CROSS JOIN keeps server_stats outside: one key-range seek per server, not a scan of samples.
    FROM server_stats st CROSS JOIN samples s ON s.server = st.server AND s.ts >= st.last_seen - @span
    ${servers}
    GROUP BY st.server, s.ts
  ) GROUP BY server`;
const RECENT_WINDOW = recentWindowSql("");
const RECENT_WINDOW_LISTED = recentWindowSql("WHERE st.server IN (SELECT value FROM json_each(@servers))");

/** Each server's own last `spanMs` of samples (ts ≥ its last_seen − spanMs); with `servers`, only those. */
export function readRecentWindow(
  db: Database.Database,
  spanMs: number,
  servers?: readonly string[],
): Map<string, AlertWindow> {
  const rows = (
    servers === undefined
      ? prepared(db, RECENT_WINDOW).raw().all({ span: spanMs })
      : prepared(db, RECENT_WINDOW_LISTED)
          .raw()
          .all({ span: spanMs, servers: JSON.stringify(servers) })
  ) as [string, number, number, number, number, number][];
  const out = new Map<string, AlertWindow>();
  for (const [server, samples, firstTs, lastTs, cpuMin, memMin] of rows) {
    out.set(server, { samples, firstTs, lastTs, cpuMin, memMin });
  }
  return out;
}

/** The servers the hour reads cover: every server seen since `from`, or those of a JSON array too. */
const SERVERS_SINCE = "server IN (SELECT server FROM server_stats WHERE last_seen >= @from)";
// A list is driven from the list alone: with server_stats in the plan too, SQLite walked all of it per slice.
const SERVERS_LISTED = "server IN (SELECT value FROM json_each(@servers))";

const hoursSql = (servers: string) => `
  SELECT server, hour, last_ts, mem_percent_sum, samples, cpu_peak, mem_percent_max FROM rollup_hourly
   WHERE ${servers}
     AND hour >= @from AND hour < @to AND samples > 0
   ORDER BY server, hour`;
const hourDisksSql = (servers: string) => `
  SELECT server, hour, mount, used, free, total FROM rollup_hourly_disk
   WHERE ${servers}
     AND hour >= @from AND hour < @to
   ORDER BY server, hour, mount`;
const HOURS = hoursSql(SERVERS_SINCE);
const HOUR_DISKS = hourDisksSql(SERVERS_SINCE);
const HOURS_LISTED = hoursSql(SERVERS_LISTED);
const HOUR_DISKS_LISTED = hourDisksSql(SERVERS_LISTED);

export function readAlertHours(
  db: Database.Database,
  from: number,
  to: number,
  servers?: readonly string[],
): Map<string, AlertHour[]> {
  const params = servers === undefined ? { from, to } : { from, to, servers: JSON.stringify(servers) };
  const hours = prepared(db, servers === undefined ? HOURS : HOURS_LISTED)
    .raw()
    .all(params) as [string, number, number, number, number, number, number][];
  const out = new Map<string, AlertHour[]>();
  const byKey = new Map<string, AlertHour>();
  for (const [server, hour, lastTs, memSum, samples, cpuPeak, memMax] of hours) {
    const h: AlertHour = { hour, lastTs, memAvg: memSum / samples, cpuPeak, memMax, disks: [] };
    let list = out.get(server);
    if (list === undefined) {
      list = [];
      out.set(server, list);
    }
    list.push(h);
    byKey.set(`${server}\n${hour}`, h);
  }
  const disks = prepared(db, servers === undefined ? HOUR_DISKS : HOUR_DISKS_LISTED)
    .raw()
    .all(params) as [string, number, string, number, number, number][];
  // Mounts of an hour without a bucket (none with samples) are left out with it.
  for (const [server, hour, mount, used, free, total] of disks) {
    byKey
      .get(`${server}\n${hour}`)
      ?.disks.push({ mount, usedBytes: used, freeBytes: free, totalBytes: total });
  }
  return out;
}
