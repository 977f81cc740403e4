import type pg from "pg";
import {
  SCRAPE_STATUS_COLUMNS as COLUMNS,
  scrapeStatusFromRow as fromRow,
  type ScrapeStatusRow as Row,
  type ScrapeStatus,
  type ScrapeStatusStore,
  storedScrapeStatus,
} from "../scrape-status-store.js";
import { type Migration, runPgMigrations } from "./migrate.js";

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "scrape state of each scrape target",
    sql: `
      CREATE TABLE scrape_status (
        server TEXT PRIMARY KEY, url TEXT NOT NULL, instance TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('up', 'down')),
        last_success_at BIGINT, down_since BIGINT, last_error TEXT, updated_at BIGINT NOT NULL
      );
    `,
  },
];

/** Scrape states on PostgreSQL, in their own migration component ("scrape_status"). */
export class PgScrapeStatusStore implements ScrapeStatusStore {
  constructor(private readonly pool: pg.Pool) {}

  async init(): Promise<void> {
    await runPgMigrations(this.pool, "scrape_status", MIGRATIONS);
  }

  async record(status: ScrapeStatus): Promise<void> {
    const s = storedScrapeStatus(status);
    // An older write (two instances a moment apart) does not replace a newer one.
    await this.pool.query(
      `INSERT INTO scrape_status (server, url, instance, state, last_success_at, down_since, last_error, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (server) DO UPDATE SET url = excluded.url, instance = excluded.instance, state = excluded.state,
         last_success_at = COALESCE(excluded.last_success_at, scrape_status.last_success_at),
         down_since = CASE WHEN excluded.state = 'down' AND scrape_status.state = 'down'
           THEN COALESCE(scrape_status.down_since, excluded.down_since) ELSE excluded.down_since END,
         last_error = excluded.last_error, updated_at = excluded.updated_at
       WHERE excluded.updated_at >= scrape_status.updated_at`,
      [s.server, s.url, s.instance, s.state, s.lastSuccessAt, s.downSince, s.lastError, s.updatedAt],
    );
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
