import type pg from "pg";
import type { DashboardReads, FleetHour, FleetLatest, HourPoint } from "../dashboard-reads.js";

/**
 * The dashboard's batched reads from the hourly rollup tables (./rollups.ts
 * owns them; this file only reads), with the figures of
 * ../sqlite/dashboard-reads.ts. One statement per read: the hour buckets
 * left-joined with their mounts, both seeking the (server, hour) primary
 * key, so the fleet page costs O(servers × hours shown), not O(history).
 * Mounts are ordered COLLATE "C" to sort as SQLite's BINARY does, whatever
 * the database's collation.
 */
export class PgDashboardReads implements DashboardReads {
  constructor(private readonly pool: pg.Pool) {}

  async hourPoints(server: string, from: number, to: number): Promise<HourPoint[]> {
    // One row per (hour, mount); an hour without mounts comes once, its mount null. The hour
    // range on the disks too lets the planner scan both key ranges once and hash-join them
    // instead of one disk lookup per hour.
    const rows = await this.pool.query<{
      hour: number;
      samples: number;
      cpu_sum: number;
      cpu_peak: number;
      mem_percent_sum: number;
      mem_percent_max: number;
      mount: string | null;
      used: number;
      free: number;
      total: number;
    }>(
      `SELECT h.hour, h.samples, h.cpu_sum, h.cpu_peak, h.mem_percent_sum, h.mem_percent_max,
         d.mount, d.used, d.free, d.total
       FROM rollup_hourly h
       LEFT JOIN rollup_hourly_disk d ON d.server = h.server AND d.hour = h.hour AND d.hour >= $2 AND d.hour < $3
       WHERE h.server = $1 AND h.hour >= $2 AND h.hour < $3 AND h.samples > 0
       ORDER BY h.hour, d.mount COLLATE "C"`,
      [server, from, to],
    );
    const out: HourPoint[] = [];
    for (const r of rows.rows) {
      let point = out[out.length - 1];
      if (point === undefined || point.hour !== r.hour) {
        point = {
          hour: r.hour,
          samples: r.samples,
          cpuAvg: r.cpu_sum / r.samples,
          cpuPeak: r.cpu_peak,
          memAvg: r.mem_percent_sum / r.samples,
          memPeak: r.mem_percent_max,
          disks: [],
        };
        out.push(point);
      }
      if (r.mount === null) continue;
      point.disks.push({
        mount: r.mount,
        percent: r.used + r.free > 0 ? (r.used / (r.used + r.free)) * 100 : 0,
        usedBytes: r.used,
        totalBytes: r.total,
      });
    }
    return out;
  }

  async fleetHours(
    from: number,
    to: number,
  ): Promise<Map<string, { hours: FleetHour[]; latest: FleetLatest }>> {
    // Driving the hour range from server_stats makes it one primary-key range scan per server
    // (PostgreSQL 15 has no skip scan: the hour range alone would read every server's history).
    // Mounts are looked up for each server's newest hour only. OFFSET 0 keeps the lateral
    // subquery from being flattened into a plain join, where `h.hour = h.newest` became a join
    // filter checked after a disk lookup for every hour; kept apart it is a one-time filter that
    // skips the lookup.
    const rows = await this.pool.query<{
      server: string;
      hour: number;
      samples: number;
      cpu_sum: number;
      mem_percent_sum: number;
      mount: string | null;
      used: number;
      free: number;
    }>(
      `WITH h AS (
         SELECT r.server, r.hour, r.samples, r.cpu_sum, r.mem_percent_sum,
           max(r.hour) OVER (PARTITION BY r.server) AS newest
         FROM server_stats s
         JOIN rollup_hourly r ON r.server = s.server AND r.hour >= $1 AND r.hour < $2 AND r.samples > 0
       )
       SELECT h.server, h.hour, h.samples, h.cpu_sum, h.mem_percent_sum, d.mount, d.used, d.free
       FROM h
       LEFT JOIN LATERAL (
         SELECT mount, used, free FROM rollup_hourly_disk
         WHERE h.hour = h.newest AND server = h.server AND hour = h.hour OFFSET 0
       ) d ON true
       ORDER BY h.server, h.hour, d.mount COLLATE "C"`,
      [from, to],
    );
    const out = new Map<string, { hours: FleetHour[]; latest: FleetLatest }>();
    for (const r of rows.rows) {
      let entry = out.get(r.server);
      if (entry === undefined || entry.latest.hour !== r.hour) {
        const h = { hour: r.hour, cpuAvg: r.cpu_sum / r.samples, memAvg: r.mem_percent_sum / r.samples };
        if (entry === undefined) {
          entry = { hours: [], latest: { ...h, worstDisk: null } };
          out.set(r.server, entry);
        }
        entry.hours.push(h);
        entry.latest = { ...h, worstDisk: null };
      }
      if (r.mount === null) continue;
      const percent = r.used + r.free > 0 ? (r.used / (r.used + r.free)) * 100 : 0;
      if (entry.latest.worstDisk === null || percent > entry.latest.worstDisk.percent)
        entry.latest.worstDisk = { mount: r.mount, percent };
    }
    return out;
  }
}
