import type pg from "pg";
import {
  ARCHIVE_SQL,
  REPORT_COLUMNS,
  reportValues,
  type ServerDbRow,
  type SummaryRow,
  toArchivedSummary,
  toServerEntry,
  toServerRow,
} from "../report-archive-rows.js";
import type {
  ArchivedPart,
  ArchivedReport,
  ArchivedReportSummary,
  ArchivedServerEntry,
  ArchivedServerRow,
  ReportArchiveStore,
} from "../report-archive-store.js";
import { type Migration, runPgMigrations } from "./migrate.js";
import { inTransaction } from "./transaction.js";

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

export class PgReportArchive implements ReportArchiveStore {
  constructor(private readonly pool: pg.Pool) {}

  async init(): Promise<void> {
    await runPgMigrations(this.pool, "report_archive", PG_REPORT_ARCHIVE_MIGRATIONS);
  }

  async save(r: ArchivedReport): Promise<void> {
    await inTransaction(this.pool, async (c) => {
      await c.query(
        `INSERT INTO report_archive (${REPORT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (week, group_name) DO UPDATE SET created_at = excluded.created_at, subject = excluded.subject,
           servers = excluded.servers, needing_action = excluded.needing_action, digest_html = excluded.digest_html,
           report_html = excluded.report_html, report_json = excluded.report_json, daily_csv = excluded.daily_csv`,
        reportValues(r),
      );
      await c.query(ARCHIVE_SQL.deleteServers, [r.week, r.group]);
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
    });
  }

  async list(limit = 1000): Promise<ArchivedReportSummary[]> {
    return (await this.pool.query<SummaryRow>(ARCHIVE_SQL.list, [limit])).rows.map(toArchivedSummary);
  }

  async listWeek(week: string): Promise<ArchivedReportSummary[]> {
    return (await this.pool.query<SummaryRow>(ARCHIVE_SQL.listWeek, [week])).rows.map(toArchivedSummary);
  }

  async part(week: string, group: string, part: ArchivedPart): Promise<string | null> {
    const r = await this.pool.query<{ v: string }>(ARCHIVE_SQL.part(part), [week, group]);
    return r.rows[0]?.v ?? null;
  }

  async serverRows(week: string, group: string): Promise<ArchivedServerRow[]> {
    return (await this.pool.query<ServerDbRow>(ARCHIVE_SQL.serverRows, [week, group])).rows.map(toServerRow);
  }

  async serverHistory(server: string, limit: number): Promise<ArchivedServerEntry[]> {
    return (await this.pool.query<ServerDbRow>(ARCHIVE_SQL.serverHistory, [server, limit])).rows.map(
      toServerEntry,
    );
  }
}
