import type Database from "better-sqlite3";
import {
  SCRAPE_STATUS_COLUMNS as COLUMNS,
  scrapeStatusFromRow as fromRow,
  type ScrapeStatusRow as Row,
  SCRAPE_STATUS_UPSERT,
  type ScrapeStatus,
  type ScrapeStatusStore,
  scrapeStatusParams,
  scrapeStatusTable,
} from "../scrape-status-store.js";
import { type Migration, runMigrations } from "./migrate.js";
import { fromPg } from "./prepared.js";

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "scrape state of each scrape target",
    sql: `${scrapeStatusTable("INTEGER")};`,
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
    this.s.upsert.run(...scrapeStatusParams(status));
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
    upsert: db.prepare(fromPg(SCRAPE_STATUS_UPSERT)),
    forgetOthers: db.prepare(
      "DELETE FROM scrape_status WHERE server NOT IN (SELECT value FROM json_each(?))",
    ),
    list: db.prepare(`SELECT ${COLUMNS} FROM scrape_status ORDER BY server`),
    get: db.prepare(`SELECT ${COLUMNS} FROM scrape_status WHERE server = ?`),
  };
}
