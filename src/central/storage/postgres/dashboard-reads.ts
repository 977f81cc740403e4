import type pg from "pg";
import type { DashboardReads, FleetHour, FleetLatest, HourPoint } from "../dashboard-reads.js";
import { withoutJit } from "./without-jit.js";

/**
 * The dashboard's batched reads from the hourly rollup tables (../rollups/postgres/rollups.ts
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
    // (PostgreSQL 15 has no skip scan: the hour range alone would read every server's history),
    // and the mounts one key lookup at each server's newest hour. The answer is one JSON document
    // (per server: name, hours, CPU and memory averages, newest hour's mounts): sending and
    // parsing 25,000 rows of 8 columns cost more than the query, JSON.parse of one value is
    // native. Exact all the same: float8 / int8 is IEEE division, as in JS, and JSON shows a
    // float8 in its shortest exact digits (float8out), which JSON.parse reads back bit for bit.
    // JIT off: the planner cannot see that each range is 24 hours, costs the read high enough
    // to compile it, and compiling cost more than the query (./without-jit.ts).
    const rows = await withoutJit(this.pool, (client) =>
      client.query<{
        fleet: [string, number[], number[], number[], [string, number, number][] | null, number][] | null;
      }>(
        `SELECT json_agg(json_build_array(s.server, h.hours, h.cpu, h.mem, d.disks, h.mem_total) ORDER BY s.server) AS fleet
         FROM server_stats s
         CROSS JOIN LATERAL (
           SELECT max(r.hour) AS newest, json_agg(r.hour ORDER BY r.hour) AS hours,
             json_agg(r.cpu_sum / r.samples ORDER BY r.hour) AS cpu,
             json_agg(r.mem_percent_sum / r.samples ORDER BY r.hour) AS mem,
             (array_agg(r.last_mem_total ORDER BY r.hour DESC))[1] AS mem_total
           FROM rollup_hourly r
           WHERE r.server = s.server AND r.hour >= $1 AND r.hour < $2 AND r.samples > 0
         ) h
         LEFT JOIN LATERAL (
           SELECT json_agg(json_build_array(d.mount, d.used, d.free) ORDER BY d.mount COLLATE "C") AS disks
           FROM rollup_hourly_disk d WHERE d.server = s.server AND d.hour = h.newest
         ) d ON true
         WHERE h.newest IS NOT NULL`,
        [from, to],
      ),
    );
    const out = new Map<string, { hours: FleetHour[]; latest: FleetLatest }>();
    for (const [server, hourList, cpu, mem, disks, memTotal] of rows.rows[0]?.fleet ?? []) {
      const hours = hourList.map((hour, i) => ({ hour, cpuAvg: cpu[i]!, memAvg: mem[i]! }));
      const latest: FleetLatest = {
        ...hours[hours.length - 1]!,
        worstDisk: null,
        memTotalBytes: memTotal > 0 ? memTotal : null,
      };
      // In mount order, as SQLite's key order gives them, so a tie goes to the same mount.
      for (const [mount, used, free] of disks ?? []) {
        const percent = used + free > 0 ? (used / (used + free)) * 100 : 0;
        if (latest.worstDisk === null || percent > latest.worstDisk.percent)
          latest.worstDisk = { mount, percent };
      }
      out.set(server, { hours, latest });
    }
    return out;
  }
}
