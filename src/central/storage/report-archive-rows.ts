import type {
  ArchivedPart,
  ArchivedReport,
  ArchivedReportSummary,
  ArchivedServerEntry,
  ArchivedServerRow,
} from "./report-archive-store.js";

/**
 * The rows of the "report_archive" component as both backends return them
 * (PostgreSQL's BIGINTs may come as strings), their mapping to the port's
 * types, and the statements both run, with PostgreSQL's `$N` placeholders
 * (SQLite: fromPg). SQLite: ./sqlite/report-archive.ts, PostgreSQL:
 * ./postgres/report-archive.ts.
 */
const SUMMARY_COLUMNS = "week, group_name, created_at, subject, servers, needing_action";

const PART_COLUMN: Record<ArchivedPart, string> = {
  digest: "digest_html",
  html: "report_html",
  json: "report_json",
  csv: "daily_csv",
};

export interface SummaryRow {
  week: string;
  group_name: string;
  created_at: string | number;
  subject: string;
  servers: number;
  needing_action: number;
}

export const toArchivedSummary = (r: SummaryRow): ArchivedReportSummary => ({
  week: r.week,
  group: r.group_name,
  createdAt: Number(r.created_at),
  subject: r.subject,
  servers: Number(r.servers),
  needingAction: Number(r.needing_action),
});

export interface ServerDbRow {
  week: string;
  group_name: string;
  created_at: string | number;
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

/** A row of ARCHIVE_SQL.serverHistory (a server row with its report's created_at). */
export const toServerEntry = (r: ServerDbRow): ArchivedServerEntry => ({
  ...toServerRow(r),
  week: r.week,
  group: r.group_name,
  createdAt: Number(r.created_at),
});

/** The columns of a report_archive row, in the order of reportValues. */
export const REPORT_COLUMNS = `week, group_name, created_at, subject, servers, needing_action,
  digest_html, report_html, report_json, daily_csv`;

export const reportValues = (r: ArchivedReport): (string | number)[] => [
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
];

export const ARCHIVE_SQL = {
  deleteServers: "DELETE FROM report_archive_servers WHERE week = $1 AND group_name = $2",
  list: `SELECT ${SUMMARY_COLUMNS} FROM report_archive ORDER BY week DESC, group_name LIMIT $1`,
  listWeek: `SELECT ${SUMMARY_COLUMNS} FROM report_archive WHERE week = $1 ORDER BY group_name`,
  part: (part: ArchivedPart) =>
    `SELECT ${PART_COLUMN[part]} AS v FROM report_archive WHERE week = $1 AND group_name = $2`,
  serverRows: "SELECT * FROM report_archive_servers WHERE week = $1 AND group_name = $2 ORDER BY server",
  serverHistory: `SELECT s.*, a.created_at FROM report_archive_servers s
    JOIN report_archive a ON a.week = s.week AND a.group_name = s.group_name
    WHERE s.server = $1 ORDER BY s.week DESC, s.group_name LIMIT $2`,
} as const;
