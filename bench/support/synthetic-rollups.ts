import { PgStore } from "../../src/central/storage/postgres/pg-store.js";
import { copyIn } from "../../src/central/storage/postgres/sample-insert.js";
import { inTransaction } from "../../src/central/storage/postgres/transaction.js";
import { SqliteStore } from "../../src/central/storage/sqlite/sqlite-store.js";
import type { Storage } from "../../src/central/storage/store.js";

export interface SyntheticFleet {
  servers: readonly string[];
  /** First and last (exclusive) UTC hour, epoch ms, whole hours. */
  from: number;
  to: number;
  mounts: readonly string[];
}

const HOUR = 3_600_000;

/** rollup_hourly columns after (server, hour), in the order of SyntheticServer.hours' tuples. */
const HOURLY_COLUMNS =
  "samples, cpu_sum, cpu_peak, mem_used_sum, mem_available_sum, mem_percent_sum, mem_percent_max, last_ts, " +
  "last_mem_total, interval_sum, interval_count, first_ts, first_mem_total, mem_percent_min, mem_total_min, mem_total_max";
/** rollup_hourly_disk columns after (server, hour, mount), in the order of SyntheticServer.disks' tuples. */
const DISK_COLUMNS = "last_ts, total, used, free, first_ts, first_total, samples, total_min, total_max";

/** One server's rows: [hour, …HOURLY_COLUMNS] and [hour, mount, …DISK_COLUMNS]. */
interface SyntheticServer {
  hours: number[][];
  disks: [number, string, ...number[]][];
  stats: { firstSeen: number; lastSeen: number; rows: number };
}

/**
 * Writes hourly rollups (and the per-server summary) for a synthetic fleet
 * straight into the rollup tables, for `npm run bench:dashboard`: 13 months of
 * 1,000 servers is ~9.5 M hour buckets, which would take hours to ingest as
 * samples. Figures are smooth, deterministic per server, and the same on
 * both backends. No dirty marks are written: the buckets are final, so a
 * refresh afterwards has nothing to do. Bench support, not product code: it
 * writes the backends' tables through their raw handles (SqliteStore.db,
 * PgStore.pool), which only storage/ and benchmarks use.
 */
export async function seedSyntheticRollups(store: Storage, fleet: SyntheticFleet): Promise<number> {
  const write = writerFor(store);
  let rows = 0;
  for (const [s, server] of fleet.servers.entries()) {
    const data = syntheticServer(s, fleet);
    await write.server(server, data);
    rows += data.hours.length;
  }
  await write.done();
  return rows;
}

function syntheticServer(s: number, fleet: SyntheticFleet): SyntheticServer {
  const memTotal = 16 * 1024 ** 3;
  const diskTotal = 500 * 1024 ** 3;
  const cpuBase = 5 + ((s * 37) % 70);
  const memBase = 20 + ((s * 53) % 65);
  const out: SyntheticServer = {
    hours: [],
    disks: [],
    stats: {
      firstSeen: fleet.from,
      lastSeen: fleet.to - 5 * 60_000,
      rows: ((fleet.to - fleet.from) / HOUR) * 12 * fleet.mounts.length,
    },
  };
  for (let hour = fleet.from; hour < fleet.to; hour += HOUR) {
    const phase = (hour / HOUR + s) / 24;
    const cpu = Math.max(0, Math.min(100, cpuBase + 10 * Math.sin(phase * 2 * Math.PI)));
    const mem = Math.max(0, Math.min(100, memBase + 5 * Math.sin(phase * Math.PI)));
    const used = (mem / 100) * memTotal;
    const last = hour + 55 * 60_000;
    out.hours.push([
      hour,
      12,
      cpu * 12,
      Math.min(100, cpu + 20),
      used * 12,
      (memTotal - used) * 12,
      mem * 12,
      Math.min(100, mem + 3),
      last,
      memTotal,
      3600,
      12,
      hour,
      memTotal,
      Math.max(0, mem - 3),
      memTotal,
      memTotal,
    ]);
    fleet.mounts.forEach((mount, m) => {
      const share =
        0.3 + (((s + m * 7) * 13) % 60) / 100 + ((hour - fleet.from) / (fleet.to - fleet.from)) * 0.05;
      const dUsed = Math.round(Math.min(0.99, share) * diskTotal);
      out.disks.push([
        hour,
        mount,
        last,
        diskTotal,
        dUsed,
        diskTotal - dUsed,
        hour,
        diskTotal,
        12,
        diskTotal,
        diskTotal,
      ]);
    });
  }
  return out;
}

interface SyntheticWriter {
  server(server: string, data: SyntheticServer): Promise<void>;
  done(): Promise<void>;
}

function writerFor(store: Storage): SyntheticWriter {
  if (store instanceof SqliteStore) return sqliteWriter(store);
  if (store instanceof PgStore) return pgWriter(store);
  throw new Error(`seedSyntheticRollups: no writer for a ${store.kind} store`);
}

function sqliteWriter(store: SqliteStore): SyntheticWriter {
  const db = store.db;
  const marks = (n: number) => Array.from({ length: n }, () => "?").join(", ");
  const hourly = db.prepare(
    `INSERT OR REPLACE INTO rollup_hourly (server, hour, ${HOURLY_COLUMNS}) VALUES (?, ${marks(17)})`,
  );
  const disk = db.prepare(
    `INSERT OR REPLACE INTO rollup_hourly_disk (server, hour, mount, ${DISK_COLUMNS}) VALUES (?, ${marks(11)})`,
  );
  const stats = db.prepare(
    "INSERT OR REPLACE INTO server_stats (server, first_seen, last_seen, rows) VALUES (?, ?, ?, ?)",
  );
  return {
    async server(server, data) {
      db.transaction(() => {
        for (const h of data.hours) hourly.run(server, ...h);
        for (const d of data.disks) disk.run(server, ...d);
        stats.run(server, data.stats.firstSeen, data.stats.lastSeen, data.stats.rows);
      })();
    },
    async done() {},
  };
}

/** COPY per server and table (the rows are known new: the bench seeds an empty schema). */
function pgWriter(store: PgStore): SyntheticWriter {
  return {
    async server(server, data) {
      if (/[\\\t\n\r]/.test(server) || data.disks.some((d) => /[\\\t\n\r]/.test(d[1])))
        throw new Error("seedSyntheticRollups: names must not need COPY escapes");
      await inTransaction(store.pool, async (client) => {
        await copyIn(
          client,
          `COPY rollup_hourly (server, hour, ${HOURLY_COLUMNS}) FROM STDIN`,
          data.hours.map((h) => `${server}\t${h.join("\t")}\n`).join(""),
        );
        await copyIn(
          client,
          `COPY rollup_hourly_disk (server, hour, mount, ${DISK_COLUMNS}) FROM STDIN`,
          data.disks.map((d) => `${server}\t${d.join("\t")}\n`).join(""),
        );
        await client.query(
          `INSERT INTO server_stats (server, first_seen, last_seen, rows) VALUES ($1, $2, $3, $4)
           ON CONFLICT (server) DO UPDATE SET first_seen = excluded.first_seen, last_seen = excluded.last_seen, rows = excluded.rows`,
          [server, data.stats.firstSeen, data.stats.lastSeen, data.stats.rows],
        );
      });
    },
    async done() {
      // Statistics and the visibility map of a database that has been running a while, not of a fresh bulk load.
      await store.pool.query("VACUUM (ANALYZE) rollup_hourly, rollup_hourly_disk, server_stats");
    },
  };
}
