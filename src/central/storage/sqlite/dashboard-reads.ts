import type Database from "better-sqlite3";
import type { DashboardReads, FleetHour, FleetLatest, HourPoint } from "../dashboard-reads.js";

/**
 * The dashboard's batched reads from the hourly rollup tables
 * (../rollups/sqlite/rollups.ts owns them; this file only reads). One statement per read,
 * seeking the (server, hour) primary key per server, so the fleet page
 * costs O(servers × hours shown), not O(history).
 */
export class SqliteDashboardReads implements DashboardReads {
  constructor(private readonly db: Database.Database) {}

  async hourPoints(server: string, from: number, to: number): Promise<HourPoint[]> {
    const hours = this.db
      .prepare(
        `SELECT hour, samples, cpu_sum, cpu_peak, mem_percent_sum, mem_percent_max FROM rollup_hourly
         WHERE server = ? AND hour >= ? AND hour < ? AND samples > 0 ORDER BY hour`,
      )
      .raw()
      .all(server, from, to) as [number, number, number, number, number, number][];
    const disks = this.db
      .prepare(
        `SELECT hour, mount, used, free, total FROM rollup_hourly_disk
         WHERE server = ? AND hour >= ? AND hour < ? ORDER BY hour, mount`,
      )
      .raw()
      .all(server, from, to) as [number, string, number, number, number][];
    const byHour = new Map<number, HourPoint["disks"]>();
    for (const [hour, mount, used, free, total] of disks) {
      let list = byHour.get(hour);
      if (list === undefined) {
        list = [];
        byHour.set(hour, list);
      }
      list.push({
        mount,
        percent: used + free > 0 ? (used / (used + free)) * 100 : 0,
        usedBytes: used,
        totalBytes: total,
      });
    }
    return hours.map(([hour, samples, cpuSum, cpuPeak, memSum, memMax]) => ({
      hour,
      samples,
      cpuAvg: cpuSum / samples,
      cpuPeak,
      memAvg: memSum / samples,
      memPeak: memMax,
      disks: byHour.get(hour) ?? [],
    }));
  }

  async fleetHours(
    from: number,
    to: number,
  ): Promise<Map<string, { hours: FleetHour[]; latest: FleetLatest }>> {
    // `server IN (SELECT …)` makes SQLite seek each server's key range instead of scanning the table.
    const rows = this.db
      .prepare(
        `SELECT server, hour, samples, cpu_sum, mem_percent_sum, last_mem_total FROM rollup_hourly
         WHERE server IN (SELECT server FROM server_stats) AND hour >= ? AND hour < ? AND samples > 0
         ORDER BY server, hour`,
      )
      .raw()
      .all(from, to) as [string, number, number, number, number, number][];
    const out = new Map<string, { hours: FleetHour[]; latest: FleetLatest }>();
    // 24,000 rows for 1,000 servers: one object per row, each server's newest copied once at the end.
    let hours: FleetHour[] = [];
    let current: string | undefined;
    let memTotal = 0;
    const close = () => {
      if (current === undefined) return;
      out.set(current, {
        hours,
        latest: { ...hours.at(-1)!, worstDisk: null, memTotalBytes: memTotal > 0 ? memTotal : null },
      });
    };
    for (const [server, hour, samples, cpuSum, memSum, lastMemTotal] of rows) {
      if (server !== current) {
        close();
        current = server;
        hours = [];
      }
      hours.push({ hour, cpuAvg: cpuSum / samples, memAvg: memSum / samples });
      memTotal = lastMemTotal;
    }
    close();
    // The disks of each server's newest hour only: point lookups on the (server, hour, mount) key.
    const newest = JSON.stringify([...out].map(([server, e]) => [server, e.latest.hour]));
    const disks = this.db
      .prepare(
        `SELECT d.server, d.mount, d.used, d.free FROM json_each(?) j
         JOIN rollup_hourly_disk d ON d.server = j.value ->> 0 AND d.hour = j.value ->> 1`,
      )
      .raw()
      .all(newest) as [string, string, number, number][];
    for (const [server, mount, used, free] of disks) {
      const latest = out.get(server)?.latest;
      if (latest === undefined) continue;
      const percent = used + free > 0 ? (used / (used + free)) * 100 : 0;
      if (latest.worstDisk === null || percent > latest.worstDisk.percent)
        latest.worstDisk = { mount, percent };
    }
    return out;
  }
}
