import type { DiskForecast, Finding, ServerStatus } from "../model/report.js";

/**
 * The weekly reports as they were sent, one per (week, group): the email's
 * HTML body, the full report (standalone HTML), its Report JSON and daily CSV,
 * plus each server's status, findings and forecasts as rows, so the dashboard
 * reads one server's history of findings without parsing whole reports.
 * Stored in the central's database so every instance serves the archive.
 * SQLite: ./sqlite/report-archive.ts; PostgreSQL: ./postgres/report-archive.ts.
 */
export interface ArchivedReportSummary {
  week: string;
  group: string;
  /** When it was composed (epoch ms); a resend replaces the entry. */
  createdAt: number;
  subject: string;
  servers: number;
  needingAction: number;
}

export interface ArchivedReport extends ArchivedReportSummary {
  /** The email body as sent. */
  digestHtml: string;
  /** The full report, standalone HTML (inline SVG charts). */
  reportHtml: string;
  /** Report JSON (docs/report-json.md). */
  json: string;
  /** Daily figures CSV. */
  csv: string;
  /** One row per server of the report. */
  serverRows: ArchivedServerRow[];
}

export interface ArchivedServerRow {
  server: string;
  status: ServerStatus;
  /** The one-line reason from the fleet summary, when the server needs action. */
  reason: string | null;
  findings: Finding[];
  forecasts: DiskForecast[];
}

export interface ArchivedServerEntry extends ArchivedServerRow {
  week: string;
  group: string;
  createdAt: number;
}

export type ArchivedPart = "digest" | "html" | "json" | "csv";

export interface ReportArchiveStore {
  init(): Promise<void>;
  /** Stores (or replaces) the report of (week, group) and its server rows in one transaction. */
  save(report: ArchivedReport): Promise<void>;
  /** Newest week first, then group. */
  list(limit?: number): Promise<ArchivedReportSummary[]>;
  /** The reports of one week, by group. */
  listWeek(week: string): Promise<ArchivedReportSummary[]>;
  /** One stored file of a report, or null. */
  part(week: string, group: string, part: ArchivedPart): Promise<string | null>;
  /** The server rows of one report. */
  serverRows(week: string, group: string): Promise<ArchivedServerRow[]>;
  /** One server's rows from the newest reports (every group), newest week first. */
  serverHistory(server: string, limit: number): Promise<ArchivedServerEntry[]>;
}
