import type Database from "better-sqlite3";
import type { CpuBaseline, CpuBaselineStore } from "../cpu-baseline-store.js";

interface BaselineRow {
  server: string;
  ts: number;
  idle: number;
  total: number;
  start: number | null;
  series: number;
}

/** CPU baselines on SQLite (table created by the metrics migrations, ./schema.ts). */
export class SqliteCpuBaselineStore implements CpuBaselineStore {
  private statements: ReturnType<typeof prepare> | null = null;

  constructor(private readonly db: Database.Database) {}

  /** Prepares the statements; called by SqliteStore.init once the table exists. */
  prepare(): void {
    this.statements = prepare(this.db);
  }

  private st(): ReturnType<typeof prepare> {
    if (this.statements === null) throw new Error("SqliteStore.init() must be called before use");
    return this.statements;
  }

  async read(source: string, servers: readonly string[]): Promise<Map<string, CpuBaseline>> {
    const found = new Map<string, CpuBaseline>();
    const { get } = this.st();
    for (const server of new Set(servers)) {
      const r = get.get(source, server) as BaselineRow | undefined;
      if (r !== undefined) {
        found.set(server, {
          timestamp: r.ts,
          idle: r.idle,
          total: r.total,
          start: r.start,
          series: r.series,
        });
      }
    }
    return found;
  }

  async advance(source: string, baselines: ReadonlyMap<string, CpuBaseline>): Promise<void> {
    const { upsert } = this.st();
    this.db.transaction(() => {
      for (const [server, b] of baselines) {
        upsert.run(source, server, b.timestamp, b.idle, b.total, b.start, b.series);
      }
    })();
  }
}

function prepare(db: Database.Database) {
  return {
    get: db.prepare(
      "SELECT server, ts, idle, total, start, series FROM cpu_baselines WHERE source = ? AND server = ?",
    ),
    upsert: db.prepare(
      `INSERT INTO cpu_baselines (source, server, ts, idle, total, start, series) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (source, server) DO UPDATE SET ts = excluded.ts, idle = excluded.idle,
         total = excluded.total, start = excluded.start, series = excluded.series
       WHERE excluded.ts > cpu_baselines.ts`,
    ),
  };
}
