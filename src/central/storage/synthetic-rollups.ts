import type { SqliteStore } from "./sqlite/sqlite-store.js";
import type { Storage } from "./store.js";

export interface SyntheticFleet {
  servers: readonly string[];
  /** First and last (exclusive) UTC hour, epoch ms, whole hours. */
  from: number;
  to: number;
  mounts: readonly string[];
}

const HOUR = 3_600_000;

/**
 * Writes hourly rollups (and the per-server summary) for a synthetic fleet
 * straight into the rollup tables, for `npm run bench:dashboard`: 13 months of
 * 1,000 servers is ~9.5 M hour buckets, which would take hours to ingest as
 * samples. Figures are smooth, deterministic per server. SQLite only for now:
 * the PostgreSQL rollup tables are not on this branch yet (their reads
 * compute from raw samples).
 */
export async function seedSyntheticRollups(store: Storage, fleet: SyntheticFleet): Promise<number> {
  if (store.kind !== "sqlite")
    throw new Error("seedSyntheticRollups: SQLite only (PostgreSQL has no rollup tables yet)");
  const db = (store as SqliteStore).db;
  const hourly = db.prepare(
    `INSERT OR REPLACE INTO rollup_hourly (server, hour, samples, cpu_sum, cpu_peak, mem_used_sum, mem_available_sum,
       mem_percent_sum, mem_percent_max, last_ts, last_mem_total, interval_sum, interval_count, first_ts, first_mem_total,
       mem_percent_min, mem_total_min, mem_total_max) VALUES (?, ?, 12, ?, ?, ?, ?, ?, ?, ?, ?, 3600, 12, ?, ?, ?, ?, ?)`,
  );
  const disk = db.prepare(
    `INSERT OR REPLACE INTO rollup_hourly_disk (server, hour, mount, last_ts, total, used, free, first_ts, first_total,
       samples, total_min, total_max) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 12, ?, ?)`,
  );
  const stats = db.prepare(
    "INSERT OR REPLACE INTO server_stats (server, first_seen, last_seen, rows) VALUES (?, ?, ?, ?)",
  );
  const memTotal = 16 * 1024 ** 3;
  const diskTotal = 500 * 1024 ** 3;
  let rows = 0;
  fleet.servers.forEach((server, s) => {
    const cpuBase = 5 + ((s * 37) % 70);
    const memBase = 20 + ((s * 53) % 65);
    db.transaction(() => {
      for (let hour = fleet.from; hour < fleet.to; hour += HOUR) {
        const phase = (hour / HOUR + s) / 24;
        const cpu = Math.max(0, Math.min(100, cpuBase + 10 * Math.sin(phase * 2 * Math.PI)));
        const mem = Math.max(0, Math.min(100, memBase + 5 * Math.sin(phase * Math.PI)));
        const used = (mem / 100) * memTotal;
        const last = hour + 55 * 60_000;
        hourly.run(
          server,
          hour,
          cpu * 12,
          Math.min(100, cpu + 20),
          used * 12,
          (memTotal - used) * 12,
          mem * 12,
          Math.min(100, mem + 3),
          last,
          memTotal,
          hour,
          memTotal,
          Math.max(0, mem - 3),
          memTotal,
          memTotal,
        );
        fleet.mounts.forEach((mount, m) => {
          const share =
            0.3 + (((s + m * 7) * 13) % 60) / 100 + ((hour - fleet.from) / (fleet.to - fleet.from)) * 0.05;
          const dUsed = Math.round(Math.min(0.99, share) * diskTotal);
          disk.run(
            server,
            hour,
            mount,
            last,
            diskTotal,
            dUsed,
            diskTotal - dUsed,
            hour,
            diskTotal,
            diskTotal,
            diskTotal,
          );
        });
        rows++;
      }
      stats.run(
        server,
        fleet.from,
        fleet.to - 5 * 60_000,
        ((fleet.to - fleet.from) / HOUR) * 12 * fleet.mounts.length,
      );
    })();
  });
  return rows;
}
