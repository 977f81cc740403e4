import type Database from "better-sqlite3";
import {
  SCRAPE_STATUS_COLUMNS as COLUMNS,
  scrapeStatusFromRow as fromRow,
  type ScrapeStatusRow as Row,
  type ScrapeStatus,
  type ScrapeStatusStore,
  storedScrapeStatus,
} from "../scrape-status-store.js";
import { type Migration, runMigrations } from "./migrate.js";

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "scrape state of each scrape target",
    sql: `
      CREATE TABLE scrape_status (
        server TEXT PRIMARY KEY, url TEXT NOT NULL, instance TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('up', 'down')),
        last_success_at INTEGER, down_since INTEGER, last_error TEXT, updated_at INTEGER NOT NULL
      );
    `,
  },
];

/** Scrape states on SQLite, in their own migration component ("scrape_status"). */
export class SqliteScrapeStatusStore implements ScrapeStatusStore {
  private st: ReturnType<typeof prepare> | null = null;

  constructor(private readonly db: Database.Database) {}

  async init(): Promise<void> {
    runMigrations(this.db, "scrape_status", MIGRATIONS);
    this.st = prepare(this.db);
  }

  private get s(): ReturnType<typeof prepare> {
    this.st ??= prepare(this.db);
    return this.st;
  }

  async record(status: ScrapeStatus): Promise<void> {
    const s = storedScrapeStatus(status);
    this.s.upsert.run({
      server: s.server,
      url: s.url,
      instance: s.instance,
      state: s.state,
      lastSuccessAt: s.lastSuccessAt,
      downSince: s.downSince,
      lastError: s.lastError,
      updatedAt: s.updatedAt,
    });
  }

  async list(): Promise<ScrapeStatus[]> {
    return (this.s.list.all() as Row[]).map(fromRow);
  }

  async get(server: string): Promise<ScrapeStatus | null> {
    const row = this.s.get.get(server) as Row | undefined;
    return row === undefined ? null : fromRow(row);
  }

  async forgetOthers(keep: readonly string[]): Promise<number> {
    // json_each: one statement whatever the number of targets (up to 10,000), no variable limit.
    return this.s.forgetOthers.run(JSON.stringify([...keep])).changes;
  }
}

function prepare(db: Database.Database) {
  return {
    // An older write (two instances a moment apart) does not replace a newer one.
    upsert: db.prepare(
      `INSERT INTO scrape_status (server, url, instance, state, last_success_at, down_since, last_error, updated_at)
       VALUES (@server, @url, @instance, @state, @lastSuccessAt, @downSince, @lastError, @updatedAt)
       ON CONFLICT (server) DO UPDATE SET url = excluded.url, instance = excluded.instance, state = excluded.state,
         last_success_at = COALESCE(excluded.last_success_at, scrape_status.last_success_at),
         down_since = CASE WHEN excluded.state = 'down' AND scrape_status.state = 'down'
           THEN COALESCE(scrape_status.down_since, excluded.down_since) ELSE excluded.down_since END,
         last_error = excluded.last_error, updated_at = excluded.updated_at
       WHERE excluded.updated_at >= scrape_status.updated_at`,
    ),
    forgetOthers: db.prepare(
      "DELETE FROM scrape_status WHERE server NOT IN (SELECT value FROM json_each(?))",
    ),
    list: db.prepare(`SELECT ${COLUMNS} FROM scrape_status ORDER BY server`),
    get: db.prepare(`SELECT ${COLUMNS} FROM scrape_status WHERE server = ?`),
  };
}
