import { ConfigError } from "../../errors.js";
import type { ReportThresholds } from "./types.js";

/** Defaults chosen for general-purpose Linux/Windows servers; see docs/report.md. */
export const DEFAULT_THRESHOLDS: Readonly<ReportThresholds> = Object.freeze({
  cpu_day_avg_warning: 75,
  cpu_day_avg_critical: 90,
  memory_day_avg_warning: 85,
  memory_day_avg_critical: 95,
  disk_percent_warning: 85,
  disk_percent_critical: 95,
  disk_full_days_warning: 30,
  disk_full_days_critical: 7,
  disk_full_days_horizon: 90,
  forecast_min_points: 5,
  forecast_min_r2: 0.7,
  history_days: 28,
  silent_after_hours: 24,
  coverage_min: 0.9,
  default_interval_seconds: 60,
  anomaly_sigma: 3,
  anomaly_min_delta: 10,
  anomaly_min_weeks: 3,
});

/** Thresholds that contradict each other (SRVUTIL_REPORT_<THRESHOLD>, read by loadCentralConfig). */
export class ThresholdConfigError extends ConfigError {}

export function resolveThresholds(overrides: Partial<ReportThresholds> = {}): ReportThresholds {
  const t = { ...DEFAULT_THRESHOLDS, ...overrides };
  if (t.cpu_day_avg_critical < t.cpu_day_avg_warning || t.disk_percent_critical < t.disk_percent_warning) {
    throw new ThresholdConfigError("report thresholds: a critical threshold is below its warning threshold");
  }
  if (!Number.isInteger(t.history_days) || t.history_days < 7 || t.history_days > 366) {
    throw new ThresholdConfigError("report thresholds: history_days must be a whole number from 7 to 366");
  }
  return t;
}
