import type { DayReport, ServerReport, WeeklyReport } from "./types.js";

/** Columns of the daily CSV attachment (docs/report.md, "Daily CSV"). */
export const DAILY_CSV_COLUMNS = [
  "week",
  "server",
  "status",
  "date",
  "samples",
  "expected_samples",
  "coverage_percent",
  "cpu_avg_percent",
  "cpu_peak_percent",
  "memory_total_bytes",
  "memory_used_avg_bytes",
  "memory_available_avg_bytes",
  "memory_avg_percent",
  "memory_peak_percent",
  "mount",
  "disk_total_bytes",
  "disk_used_bytes",
  "disk_free_bytes",
  "disk_used_percent",
] as const;

/**
 * A cell that a spreadsheet could take for a formula: starts with = + - @
 * (OWASP's list adds tab and carriage return, which some programs strip
 * before looking at the first character).
 */
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * One text cell: prefixed with ' when it could run as a formula (the
 * spreadsheet shows the text as typed), quoted when it holds a comma, a
 * quote or a line break (RFC 4180).
 */
export function csvText(value: string): string {
  const guarded = FORMULA_START.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(guarded) ? `"${guarded.replaceAll('"', '""')}"` : guarded;
}

/** Numbers as plain decimals, rounded for spreadsheets; empty for no data. */
function num(v: number | null | undefined, digits: number): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "";
  return digits === 0 ? String(Math.round(v)) : String(Math.round(v * 10 ** digits) / 10 ** digits);
}

function dayCells(report: WeeklyReport, s: ServerReport, d: DayReport): string[] {
  return [
    csvText(report.week),
    csvText(s.server),
    csvText(s.status),
    csvText(d.date),
    String(d.samples),
    d.expected_samples === undefined ? "" : String(d.expected_samples),
    num(d.coverage === null || d.coverage === undefined ? null : d.coverage * 100, 1),
    num(d.cpu.avg, 2),
    num(d.cpu.peak, 2),
    num(d.memory.total_bytes, 0),
    num(d.memory.used_avg_bytes, 0),
    num(d.memory.available_avg_bytes, 0),
    num(d.memory.percent_avg, 2),
    num(d.memory.percent_peak, 2),
  ];
}

/**
 * The daily figures for spreadsheets: one row per server × day × mount
 * (a day without disk data has one row with empty disk columns). CRLF line
 * ends and a header row, as RFC 4180 and spreadsheet imports expect.
 */
export function dailyCsv(report: WeeklyReport): string {
  const lines: string[] = [DAILY_CSV_COLUMNS.join(",")];
  for (const s of report.servers) {
    for (const d of s.days) {
      const day = dayCells(report, s, d);
      if (d.disks.length === 0) {
        lines.push([...day, "", "", "", "", ""].join(","));
        continue;
      }
      for (const k of d.disks) {
        lines.push(
          [
            ...day,
            csvText(k.mount),
            num(k.total_bytes, 0),
            num(k.used_bytes, 0),
            num(k.free_bytes, 0),
            num(k.percent, 2),
          ].join(","),
        );
      }
    }
  }
  return `${lines.join("\r\n")}\r\n`;
}
