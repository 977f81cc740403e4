import type pg from "pg";
import type {
  ArchivedPart,
  ArchivedReport,
  ArchivedReportSummary,
  ArchivedServerEntry,
  ArchivedServerRow,
  ReportArchiveStore,
} from "../report-archive-store.js";
import { toArchivedSummary, toServerRow } from "../sqlite/report-archive.js";
import { type Migration, runPgMigrations } from "./migrate.js";

/** The "report_archive" migration component; the same tables as ../sqlite/report-archive.ts. */
export const PG_REPORT_ARCHIVE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "weekly reports as sent, and each server's row of them",
    sql: `
      CREATE TABLE report_archive (
        week TEXT NOT NULL, group_name TEXT NOT NULL, created_at BIGINT NOT NULL, subject TEXT NOT NULL,
        servers INTEGER NOT NULL, needing_action INTEGER NOT NULL,
        digest_html TEXT NOT NULL, report_html TEXT NOT NULL, report_json TEXT NOT NULL, daily_csv TEXT NOT NULL,
        PRIMARY KEY (week, group_name)
      );
      CREATE TABLE report_archive_servers (
        week TEXT NOT NULL, group_name TEXT NOT NULL, server TEXT NOT NULL, status TEXT NOT NULL,
        reason TEXT, findings TEXT NOT NULL, forecasts TEXT NOT NULL,
        PRIMARY KEY (week, group_name, server)
      );
      CREATE INDEX report_archive_servers_server ON report_archive_servers (server, week);
    `,
  },
];

const PART_COLUMN: Record<ArchivedPart, string> = {
  digest: "digest_html",
  html: "report_html",
  json: "report_json",
  csv: "daily_csv",
};
const SUMMARY_COLUMNS = "week, group_name, created_at, subject, servers, needing_action";

export class PgReportArchive implements ReportArchiveStore {
  constructor(private readonly pool: pg.Pool) {}

  async init(): Promise<void> {
    await runPgMigrations(this.pool, "report_archive", PG_REPORT_ARCHIVE_MIGRATIONS);
  }

  async save(r: ArchivedReport): Promise<void> {
    const c = await this.pool.connect();
    try {
      await c.query("BEGIN");
      await c.query(
        `INSERT INTO report_archive (week, group_name, created_at, subject, servers, needing_action,
           digest_html, report_html, report_json, daily_csv) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (week, group_name) DO UPDATE SET created_at = excluded.created_at, subject = excluded.subject,
           servers = excluded.servers, needing_action = excluded.needing_action, digest_html = excluded.digest_html,
           report_html = excluded.report_html, report_json = excluded.report_json, daily_csv = excluded.daily_csv`,
        [
          r.week,
          r.group,
          r.createdAt,
          r.subject,
          r.servers,
          r.needingAction,
          r.digestHtml,
          r.reportHtml,
          r.json,
          r.csv,
        ],
      );
      await c.query("DELETE FROM report_archive_servers WHERE week = $1 AND group_name = $2", [
        r.week,
        r.group,
      ]);
      if (r.serverRows.length > 0) {
        await c.query(
          `INSERT INTO report_archive_servers (week, group_name, server, status, reason, findings, forecasts)
           SELECT $1, $2, * FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[])`,
          [
            r.week,
            r.group,
            r.serverRows.map((s) => s.server),
            r.serverRows.map((s) => s.status),
            r.serverRows.map((s) => s.reason),
            r.serverRows.map((s) => JSON.stringify(s.findings)),
            r.serverRows.map((s) => JSON.stringify(s.forecasts)),
          ],
        );
      }
      await c.query("COMMIT");
    } catch (err) {
      await c.query("ROLLBACK").catch(() => {});
      throw err;
    } finally {
      c.release();
    }
  }

  async list(limit = 1000): Promise<ArchivedReportSummary[]> {
    const r = await this.pool.query(
      `SELECT ${SUMMARY_COLUMNS} FROM report_archive ORDER BY week DESC, group_name LIMIT $1`,
      [limit],
    );
    return r.rows.map(toArchivedSummary);
  }

  async listWeek(week: string): Promise<ArchivedReportSummary[]> {
    const r = await this.pool.query(
      `SELECT ${SUMMARY_COLUMNS} FROM report_archive WHERE week = $1 ORDER BY group_name`,
      [week],
    );
    return r.rows.map(toArchivedSummary);
  }

  async part(week: string, group: string, part: ArchivedPart): Promise<string | null> {
    const r = await this.pool.query<{ v: string }>(
      `SELECT ${PART_COLUMN[part]} AS v FROM report_archive WHERE week = $1 AND group_name = $2`,
      [week, group],
    );
    return r.rows[0]?.v ?? null;
  }

  async serverRows(week: string, group: string): Promise<ArchivedServerRow[]> {
    const r = await this.pool.query(
      "SELECT * FROM report_archive_servers WHERE week = $1 AND group_name = $2 ORDER BY server",
      [week, group],
    );
    return r.rows.map(toServerRow);
  }

  async serverHistory(server: string, limit: number): Promise<ArchivedServerEntry[]> {
    const r = await this.pool.query(
      `SELECT s.*, a.created_at FROM report_archive_servers s
       JOIN report_archive a ON a.week = s.week AND a.group_name = s.group_name
       WHERE s.server = $1 ORDER BY s.week DESC, s.group_name LIMIT $2`,
      [server, limit],
    );
    return r.rows.map((row) => ({
      ...toServerRow(row),
      week: row.week as string,
      group: row.group_name as string,
      createdAt: Number(row.created_at),
    }));
  }
}
