import type Database from "better-sqlite3";
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
import { type Migration, runMigrations } from "./migrate.js";
import { fromPg } from "./prepared.js";

/** The "report_archive" migration component. */
export const REPORT_ARCHIVE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "weekly reports as sent, and each server's row of them",
    sql: `
      CREATE TABLE report_archive (
        week TEXT NOT NULL,
        group_name TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        subject TEXT NOT NULL,
        servers INTEGER NOT NULL,
        needing_action INTEGER NOT NULL,
        digest_html TEXT NOT NULL,
        report_html TEXT NOT NULL,
        report_json TEXT NOT NULL,
        daily_csv TEXT NOT NULL,
        PRIMARY KEY (week, group_name)
      );
      CREATE TABLE report_archive_servers (
        week TEXT NOT NULL,
        group_name TEXT NOT NULL,
        server TEXT NOT NULL,
        status TEXT NOT NULL,
        reason TEXT,
        findings TEXT NOT NULL,
        forecasts TEXT NOT NULL,
        PRIMARY KEY (week, group_name, server)
      ) WITHOUT ROWID;
      CREATE INDEX report_archive_servers_server ON report_archive_servers (server, week);
    `,
  },
];

export class SqliteReportArchive implements ReportArchiveStore {
  constructor(private readonly db: Database.Database) {}

  async init(): Promise<void> {
    runMigrations(this.db, "report_archive", REPORT_ARCHIVE_MIGRATIONS);
  }

  async save(r: ArchivedReport): Promise<void> {
    this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT OR REPLACE INTO report_archive (${REPORT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(...reportValues(r));
      this.sql(ARCHIVE_SQL.deleteServers).run(r.week, r.group);
      const ins = this.db.prepare(
        "INSERT INTO report_archive_servers (week, group_name, server, status, reason, findings, forecasts) VALUES (?, ?, ?, ?, ?, ?, ?)",
      );
      for (const s of r.serverRows) {
        ins.run(
          r.week,
          r.group,
          s.server,
          s.status,
          s.reason,
          JSON.stringify(s.findings),
          JSON.stringify(s.forecasts),
        );
      }
    })();
  }

  async list(limit = 1000): Promise<ArchivedReportSummary[]> {
    return (this.sql(ARCHIVE_SQL.list).all(limit) as SummaryRow[]).map(toArchivedSummary);
  }

  async listWeek(week: string): Promise<ArchivedReportSummary[]> {
    return (this.sql(ARCHIVE_SQL.listWeek).all(week) as SummaryRow[]).map(toArchivedSummary);
  }

  async part(week: string, group: string, part: ArchivedPart): Promise<string | null> {
    const v = this.sql(ARCHIVE_SQL.part(part)).pluck().get(week, group) as string | undefined;
    return v ?? null;
  }

  async serverRows(week: string, group: string): Promise<ArchivedServerRow[]> {
    return (this.sql(ARCHIVE_SQL.serverRows).all(week, group) as ServerDbRow[]).map(toServerRow);
  }

  async serverHistory(server: string, limit: number): Promise<ArchivedServerEntry[]> {
    return (this.sql(ARCHIVE_SQL.serverHistory).all(server, limit) as ServerDbRow[]).map(toServerEntry);
  }

  /** A statement of ARCHIVE_SQL, with SQLite's placeholders. */
  private sql(text: string): Database.Statement {
    return this.db.prepare(fromPg(text));
  }
}
