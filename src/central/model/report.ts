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
  /** Added: status counts and the servers that need action. */
  fleet?: FleetSummary;
  /** Added: the finding thresholds this report was built with. */
  thresholds?: ReportThresholds;
  /** Added: "rollups" or "raw" — where the figures were read from (identical results). */
  source?: "rollups" | "raw";
  /** Added (issue 28): the alerts that fired during the week; absent when none did. */
  alerts?: WeekAlerts;
  /**
   * Added (issue 30): the whole fleet's servers by configured group, as each
   * server was tagged during the week, and a last row for the servers in no
   * group. Only in the whole-fleet report, and only when groups are configured.
   */
  groups?: GroupFigures[];
}

export interface ServerReport {
  server: string;
  status: ServerStatus;
  /** Always seven, Monday to Sunday. */
  days: DayReport[];
  findings: Finding[];
  /** Added: this week's main figures. */
  summary?: WeekFigures;
  /** Added: the previous week's main figures (null when the server has no samples then). */
  previous_week?: WeekFigures | null;
  /** Added: summary − previous_week. */
  week_over_week?: WeekOverWeek | null;
  /** Added: disks expected to fill up, from the stored history. */
  forecasts?: DiskForecast[];
  /** Added: last sample ever received from this server (ISO), null if none. */
  last_seen?: string | null;
  /** Added (issue 16): memory / CPU climbing towards 100 % this week. */
  trends?: UsageTrend[];
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
  /** Added: samples expected that day and the ratio received. */
  expected_samples?: number;
  coverage?: number | null;
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
  /** Added: the disk mount the finding is about, if any. */
  mount?: string;
  /** Added: the local date the finding is about, if any. */
  date?: string;
}

// ---- Additions to v1 (issue 5). Consumers of v1 may ignore them; v1 fields keep their meaning. ----

/** Fields the builder adds to each day beyond the v1 contract. */
export interface DayCoverage {
  /** Samples the day should have had at the server's interval (0 for days still in the future). */
  expected_samples: number;
  /** samples / expected_samples, null when nothing was expected. */
  coverage: number | null;
}

/** A week's main figures for one server (means weighted by samples). */
export interface WeekFigures {
  samples: number;
  expected_samples: number;
  coverage: number | null;
  cpu_avg: number | null;
  cpu_peak: number | null;
  memory_percent_avg: number | null;
  memory_percent_peak: number | null;
  /** Per mount, from the last day with samples. */
  disks: { mount: string; total_bytes: number; used_bytes: number; free_bytes: number; percent: number }[];
}

export interface ReportThresholds {
  /** A day whose CPU average is at least this is sustained high CPU (warning / critical). */
  cpu_day_avg_warning: number;
  cpu_day_avg_critical: number;
  /** Memory pressure: a day's average memory % at least this. */
  memory_day_avg_warning: number;
  memory_day_avg_critical: number;
  /** Disk % (df's view) on the last day at least this. */
  disk_percent_warning: number;
  disk_percent_critical: number;
  /** Forecast: days until full at or below these raise warning / critical; up to horizon → info. */
  disk_full_days_warning: number;
  disk_full_days_critical: number;
  disk_full_days_horizon: number;
  /** Forecast fit needs at least this many daily points and this R². */
  forecast_min_points: number;
  forecast_min_r2: number;
  /** Days of history (before the week's end) the forecast and the baselines look at. */
  history_days: number;
  /** No sample for this long before the end of the week (or now) → stopped reporting. */
  silent_after_hours: number;
  /** A past day with fewer than this share of the expected samples is a coverage gap. */
  coverage_min: number;
  /** Assumed sample interval when agents do not send interval_seconds. */
  default_interval_seconds: number;
  /** Abnormal usage: above mean + k·σ of the same weekday in previous weeks … */
  anomaly_sigma: number;
  /** … and at least this many percentage points above the mean … */
  anomaly_min_delta: number;
  /** … with at least this many previous same weekdays to compare with. */
  anomaly_min_weeks: number;
  /**
   * Memory / CPU trends (issue 16): a least-squares line through the week's
   * daily averages (at least trend_min_points of them), else through hourly
   * averages (at least trend_min_hours), over the stretch since the last
   * restart or RAM change; it must fit with R² ≥ trend_min_r2 and rise by at
   * least trend_min_rise percentage points over that stretch.
   */
  trend_min_points: number;
  trend_min_hours: number;
  trend_min_r2: number;
  trend_min_rise: number;
  /** An hourly memory average this many points below the hour before marks a restart (a new stretch). */
  trend_reset_drop: number;
  /** Days until the line reaches 100 %: ≤ critical / ≤ warning / ≤ horizon (info); beyond, no finding. */
  trend_full_days_critical: number;
  trend_full_days_warning: number;
  trend_full_days_horizon: number;
  /** A RAM or disk total that changes by less than this % is not reported as resized. */
  change_min_percent: number;
}

/** Change of a figure against the previous week: current − previous (percentage points for %). */
export interface WeekOverWeek {
  cpu_avg: number | null;
  cpu_peak: number | null;
  memory_percent_avg: number | null;
  memory_percent_peak: number | null;
  disks: { mount: string; percent: number | null; used_bytes: number | null }[];
}

/** When a disk is expected to be full at its recent growth rate. */
export interface DiskForecast {
  mount: string;
  /** Local date the disk reaches 100 % (df's view: free = 0). */
  full_date: string;
  days_to_full: number;
  /** Least-squares growth of used bytes per day. */
  growth_bytes_per_day: number;
  /** Goodness of the linear fit, 0..1. */
  r2: number;
  /** Daily points the fit used. */
  points: number;
}

/** A memory or CPU climb fitted by least squares (issue 16). */
export interface UsageTrend {
  metric: "memory" | "cpu";
  /** Daily averages, or hourly ones when the stretch has too few days. */
  resolution: "daily" | "hourly";
  /** First sample of the stretch judged (ISO, UTC) and why it starts there. */
  since: string;
  since_reason: "week" | "first_seen" | "restart" | "ram_change";
  /** The fitted line at the first and the last point, percent. */
  from_percent: number;
  to_percent: number;
  /** Slope in percentage points per day. */
  points_per_day: number;
  r2: number;
  points: number;
  /** Local date the line reaches 100 %, and whole days until then from the last point. */
  full_date: string;
  days_to_full: number;
}

/** One row of "By group": a configured group, or (name null) the servers in no group. */
export interface GroupFigures {
  /** The group's name; null for the row of the servers in no group. */
  name: string | null;
  servers: number;
  counts: Record<ServerStatus, number>;
  /** Warning and critical findings of its servers, summed. */
  findings: number;
  /** Its server needing action most (as in fleet.needs_action), or null when all are ok. */
  worst: { server: string; status: ServerStatus; reason: string } | null;
}

export interface FleetSummary {
  counts: Record<ServerStatus, number>;
  /** Servers whose status is not ok, worst first, with the one-line reason. */
  needs_action: { server: string; status: ServerStatus; reason: string }[];
}

/**
 * The alerts of the report's servers that were firing at some point in the
 * week (issue 28, docs/alerts.md). Judged at the report's judged instant,
 * min(built, end of the week), like the findings: a past week says what was
 * firing when it ended, whenever it is rebuilt.
 */
export interface WeekAlerts {
  /** Alerts (episodes) firing at some point in the week. */
  fired: number;
  /** Those of them still firing at the end of the week (or when built, for the current week). */
  still_firing: number;
  /** The most severe and longest first, at most 50. */
  episodes: WeekAlert[];
  /** fired − episodes.length: the alerts not listed. */
  more: number;
}

export interface WeekAlert {
  server: string;
  /** An alert rule's name: server_silent, disk_full_soon, disk_nearly_full, cpu_pressure, memory_pressure, memory_trend. */
  rule: string;
  /** The disk the alert is about; "" for rules not about a disk. */
  mount: string;
  severity: "warning" | "critical";
  /** The alert's last one-line summary. */
  summary: string;
  /** When it started firing (ISO, UTC); may be before the week. */
  fired_at: string;
  /** When it resolved (ISO, UTC); null when it was still firing at the judged instant. */
  resolved_at: string | null;
  /** Milliseconds it fired: until it resolved, or until the judged instant when still firing. */
  firing_ms: number;
  still_firing: boolean;
}
