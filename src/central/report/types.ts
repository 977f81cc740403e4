/**
 * Report JSON v1: the weekly report as data, the contract other tools consume.
 * Field names are snake_case because they are the JSON wire format.
 * See docs/report-json.md.
 */
export type ServerStatus = "ok" | "warning" | "critical" | "silent";
export type Severity = "info" | "warning" | "critical";

export interface WeeklyReport {
  /** ISO week, e.g. "2026-W47". */
  week: string;
  /** IANA time zone the days are cut in. */
  timezone: string;
  /** Local Monday 00:00 as ISO 8601 with offset. */
  from: string;
  /** The next local Monday 00:00 (exclusive). */
  to: string;
  generated_at: string;
  servers: ServerReport[];
}

export interface ServerReport {
  server: string;
  status: ServerStatus;
  /** Always seven, Monday to Sunday. */
  days: DayReport[];
  findings: Finding[];
}

export interface DayReport {
  /** Local date, YYYY-MM-DD. */
  date: string;
  /** Distinct timestamps received that day. */
  samples: number;
  cpu: { avg: number | null; peak: number | null };
  memory: {
    total_bytes: number | null;
    used_avg_bytes: number | null;
    available_avg_bytes: number | null;
    percent_avg: number | null;
    percent_peak: number | null;
  };
  /** Sorted by mount; empty on a day without samples. */
  disks: DiskDay[];
}

export interface DiskDay {
  mount: string;
  total_bytes: number;
  used_bytes: number;
  free_bytes: number;
  /** used / (used + free) × 100, as df counts it. */
  percent: number;
}

export interface Finding {
  severity: Severity;
  kind: string;
  message: string;
}
