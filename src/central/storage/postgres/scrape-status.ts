import type pg from "pg";
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
import { type Migration, runPgMigrations } from "./migrate.js";

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "scrape state of each scrape target",
    sql: `${scrapeStatusTable("BIGINT")};`,
  },
];

/** Scrape states on PostgreSQL, in their own migration component ("scrape_status"). */
export class PgScrapeStatusStore implements ScrapeStatusStore {
  constructor(private readonly pool: pg.Pool) {}

  async init(): Promise<void> {
    await runPgMigrations(this.pool, "scrape_status", MIGRATIONS);
  }

  async record(status: ScrapeStatus): Promise<void> {
    await this.pool.query(SCRAPE_STATUS_UPSERT, scrapeStatusParams(status));
  }

  async forgetOthers(keep: readonly string[]): Promise<number> {
    const r = await this.pool.query("DELETE FROM scrape_status WHERE NOT (server = ANY($1::text[]))", [
      [...keep],
    ]);
    return r.rowCount ?? 0;
  }

  async list(): Promise<ScrapeStatus[]> {
    const r = await this.pool.query<Row>(`SELECT ${COLUMNS} FROM scrape_status ORDER BY server COLLATE "C"`);
    return r.rows.map(fromRow);
  }

  async get(server: string): Promise<ScrapeStatus | null> {
    const r = await this.pool.query<Row>(`SELECT ${COLUMNS} FROM scrape_status WHERE server = $1`, [server]);
    return r.rows[0] === undefined ? null : fromRow(r.rows[0]);
  }
}
