import type Database from "better-sqlite3";
import type {
  ArchivedPart,
  ArchivedReport,
  ArchivedReportSummary,
  ArchivedServerEntry,
  ArchivedServerRow,
  ReportArchiveStore,
} from "../report-archive-store.js";
import { type Migration, runMigrations } from "./migrate.js";

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

const PART_COLUMN: Record<ArchivedPart, string> = {
  digest: "digest_html",
  html: "report_html",
  json: "report_json",
  csv: "daily_csv",
};

interface SummaryRow {
  week: string;
  group_name: string;
  created_at: number;
  subject: string;
  servers: number;
  needing_action: number;
}
const SUMMARY_COLUMNS = "week, group_name, created_at, subject, servers, needing_action";
export const toArchivedSummary = (r: SummaryRow): ArchivedReportSummary => ({
  week: r.week,
  group: r.group_name,
  createdAt: Number(r.created_at),
  subject: r.subject,
  servers: Number(r.servers),
  needingAction: Number(r.needing_action),
});

interface ServerDbRow {
  week: string;
  group_name: string;
  created_at: number;
  server: string;
  status: ArchivedServerRow["status"];
  reason: string | null;
  findings: string;
  forecasts: string;
}
export const toServerRow = (r: ServerDbRow): ArchivedServerRow => ({
  server: r.server,
  status: r.status,
  reason: r.reason,
  findings: JSON.parse(r.findings) as ArchivedServerRow["findings"],
  forecasts: JSON.parse(r.forecasts) as ArchivedServerRow["forecasts"],
});

export class SqliteReportArchive implements ReportArchiveStore {
  constructor(private readonly db: Database.Database) {}

  async init(): Promise<void> {
    runMigrations(this.db, "report_archive", REPORT_ARCHIVE_MIGRATIONS);
  }

  async save(r: ArchivedReport): Promise<void> {
    this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT OR REPLACE INTO report_archive (week, group_name, created_at, subject, servers, needing_action,
             digest_html, report_html, report_json, daily_csv) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
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
        );
      this.db
        .prepare("DELETE FROM report_archive_servers WHERE week = ? AND group_name = ?")
        .run(r.week, r.group);
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
    return (
      this.db
        .prepare(`SELECT ${SUMMARY_COLUMNS} FROM report_archive ORDER BY week DESC, group_name LIMIT ?`)
        .all(limit) as SummaryRow[]
    ).map(toArchivedSummary);
  }

  async listWeek(week: string): Promise<ArchivedReportSummary[]> {
    return (
      this.db
        .prepare(`SELECT ${SUMMARY_COLUMNS} FROM report_archive WHERE week = ? ORDER BY group_name`)
        .all(week) as SummaryRow[]
    ).map(toArchivedSummary);
  }

  async part(week: string, group: string, part: ArchivedPart): Promise<string | null> {
    const v = this.db
      .prepare(`SELECT ${PART_COLUMN[part]} FROM report_archive WHERE week = ? AND group_name = ?`)
      .pluck()
      .get(week, group) as string | undefined;
    return v ?? null;
  }

  async serverRows(week: string, group: string): Promise<ArchivedServerRow[]> {
    return (
      this.db
        .prepare("SELECT * FROM report_archive_servers WHERE week = ? AND group_name = ? ORDER BY server")
        .all(week, group) as ServerDbRow[]
    ).map(toServerRow);
  }

  async serverHistory(server: string, limit: number): Promise<ArchivedServerEntry[]> {
    return (
      this.db
        .prepare(
          `SELECT s.*, a.created_at FROM report_archive_servers s
           JOIN report_archive a ON a.week = s.week AND a.group_name = s.group_name
           WHERE s.server = ? ORDER BY s.week DESC, s.group_name LIMIT ?`,
        )
        .all(server, limit) as ServerDbRow[]
    ).map((r) => ({ ...toServerRow(r), week: r.week, group: r.group_name, createdAt: Number(r.created_at) }));
  }
}
