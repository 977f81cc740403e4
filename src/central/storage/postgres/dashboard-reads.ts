import type pg from "pg";
import type { DashboardReads, FleetHour, FleetLatest, HourPoint } from "../dashboard-reads.js";

/**
 * The dashboard's batched reads on PostgreSQL, grouped by hour from the raw
 * samples in SQL: the PostgreSQL rollup tables are being written (until then
 * the rollup port there also reads raw rows), and these reads only cover what
 * raw retention keeps (a month of hours; longer charts use the daily rollups).
 * The representative row of a timestamp is its first mount, as in
 * aggregate/rows.ts. Once PostgreSQL has hourly rollup tables, these two
 * queries should read them instead, like ../sqlite/dashboard-reads.ts.
 */
export class PgDashboardReads implements DashboardReads {
  constructor(private readonly pool: pg.Pool) {}

  async hourPoints(server: string, from: number, to: number): Promise<HourPoint[]> {
    const hours = await this.pool.query<{
      hour: number;
      samples: number;
      cpu_avg: number;
      cpu_peak: number;
      mem_avg: number;
      mem_peak: number;
    }>(
      `WITH t AS (
         SELECT DISTINCT ON (ts) ts, cpu_percent,
           GREATEST(cpu_percent, COALESCE(cpu_peak_percent, cpu_percent)) AS peak,
           CASE WHEN mem_total > 0 THEN mem_used::float8 / mem_total * 100 ELSE 0 END AS mem
         FROM samples WHERE server = $1 AND ts >= $2 AND ts < $3 ORDER BY ts, mount)
       SELECT (ts / 3600000) * 3600000 AS hour, COUNT(*)::int AS samples, AVG(cpu_percent) AS cpu_avg,
         MAX(peak) AS cpu_peak, AVG(mem) AS mem_avg, MAX(mem) AS mem_peak
       FROM t GROUP BY 1 ORDER BY 1`,
      [server, from, to],
    );
    const disks = await this.pool.query<{
      hour: number;
      mount: string;
      used: number;
      free: number;
      total: number;
    }>(
      `SELECT DISTINCT ON ((ts / 3600000), mount) (ts / 3600000) * 3600000 AS hour, mount,
         disk_used AS used, disk_free AS free, disk_total AS total
       FROM samples WHERE server = $1 AND ts >= $2 AND ts < $3 ORDER BY (ts / 3600000), mount, ts DESC`,
      [server, from, to],
    );
    const byHour = new Map<number, HourPoint["disks"]>();
    for (const d of disks.rows) {
      let list = byHour.get(Number(d.hour));
      if (list === undefined) {
        list = [];
        byHour.set(Number(d.hour), list);
      }
      const used = Number(d.used);
      const free = Number(d.free);
      list.push({
        mount: d.mount,
        percent: used + free > 0 ? (used / (used + free)) * 100 : 0,
        usedBytes: used,
        totalBytes: Number(d.total),
      });
    }
    return hours.rows.map((h) => ({
      hour: Number(h.hour),
      samples: h.samples,
      cpuAvg: h.cpu_avg,
      cpuPeak: h.cpu_peak,
      memAvg: h.mem_avg,
      memPeak: h.mem_peak,
      disks: byHour.get(Number(h.hour)) ?? [],
    }));
  }

  async fleetHours(
    from: number,
    to: number,
  ): Promise<Map<string, { hours: FleetHour[]; latest: FleetLatest }>> {
    const rows = await this.pool.query<{ server: string; hour: number; cpu_avg: number; mem_avg: number }>(
      `WITH t AS (
         SELECT DISTINCT ON (server, ts) server, ts, cpu_percent,
           CASE WHEN mem_total > 0 THEN mem_used::float8 / mem_total * 100 ELSE 0 END AS mem
         FROM samples WHERE ts >= $1 AND ts < $2 ORDER BY server, ts, mount)
       SELECT server, (ts / 3600000) * 3600000 AS hour, AVG(cpu_percent) AS cpu_avg, AVG(mem) AS mem_avg
       FROM t GROUP BY 1, 2 ORDER BY 1, 2`,
      [from, to],
    );
    const out = new Map<string, { hours: FleetHour[]; latest: FleetLatest }>();
    for (const r of rows.rows) {
      const h = { hour: Number(r.hour), cpuAvg: r.cpu_avg, memAvg: r.mem_avg };
      const entry = out.get(r.server);
      if (entry === undefined) out.set(r.server, { hours: [h], latest: { ...h, worstDisk: null } });
      else {
        entry.hours.push(h);
        entry.latest = { ...h, worstDisk: null };
      }
    }
    const disks = await this.pool.query<{
      server: string;
      mount: string;
      used: number;
      free: number;
      hour: number;
    }>(
      `SELECT DISTINCT ON (server, mount) server, mount, disk_used AS used, disk_free AS free,
         (ts / 3600000) * 3600000 AS hour
       FROM samples WHERE ts >= $1 AND ts < $2 ORDER BY server, mount, ts DESC`,
      [from, to],
    );
    for (const d of disks.rows) {
      const latest = out.get(d.server)?.latest;
      // Only mounts seen in the server's newest hour count, as on SQLite.
      if (latest === undefined || Number(d.hour) !== latest.hour) continue;
      const used = Number(d.used);
      const free = Number(d.free);
      const percent = used + free > 0 ? (used / (used + free)) * 100 : 0;
      if (latest.worstDisk === null || percent > latest.worstDisk.percent)
        latest.worstDisk = { mount: d.mount, percent };
    }
    return out;
  }
}
