import { describe, expect, it } from "vitest";
import { loadCentralConfig } from "../../../src/central/config.js";
import {
  DEFAULT_THRESHOLDS,
  resolveThresholds,
  ThresholdConfigError,
} from "../../../src/central/report/index.js";

const thresholdsFromEnv = (env: Record<string, string>) => loadCentralConfig(env).thresholds;

describe("report thresholds", () => {
  it("reads SRVUTIL_REPORT_<NAME> overrides and ignores empty ones", () => {
    expect(
      thresholdsFromEnv({ SRVUTIL_REPORT_DISK_PERCENT_WARNING: "80", SRVUTIL_REPORT_SILENT_AFTER_HOURS: "" }),
    ).toEqual({ disk_percent_warning: 80 });
    expect(resolveThresholds({ disk_percent_warning: 80 })).toEqual({
      ...DEFAULT_THRESHOLDS,
      disk_percent_warning: 80,
    });
  });

  it("names the variable that is not a number", () => {
    expect(() => thresholdsFromEnv({ SRVUTIL_REPORT_CPU_DAY_AVG_WARNING: "high" })).toThrow(
      /SRVUTIL_REPORT_CPU_DAY_AVG_WARNING: expected a non-negative number, got 'high'/,
    );
  });

  it("refuses inconsistent thresholds", () => {
    expect(() => resolveThresholds({ disk_percent_warning: 99, disk_percent_critical: 90 })).toThrow(
      ThresholdConfigError,
    );
    expect(() => resolveThresholds({ history_days: 3 })).toThrow(/history_days/);
  });
});

describe("trend and change thresholds (issue 16)", () => {
  it("are read from SRVUTIL_REPORT_TREND_* / SRVUTIL_REPORT_CHANGE_MIN_PERCENT", () => {
    expect(
      thresholdsFromEnv({
        SRVUTIL_REPORT_TREND_MIN_R2: "0.9",
        SRVUTIL_REPORT_TREND_MIN_RISE: "15",
        SRVUTIL_REPORT_CHANGE_MIN_PERCENT: "2",
      }),
    ).toEqual({ trend_min_r2: 0.9, trend_min_rise: 15, change_min_percent: 2 });
  });

  it("refuses day limits out of order and trends on fewer than two points", () => {
    expect(() => resolveThresholds({ trend_full_days_critical: 40 })).toThrow(/trend_full_days_critical/);
    expect(() => resolveThresholds({ trend_full_days_horizon: 10 })).toThrow(/trend_full_days_horizon/);
    expect(() => resolveThresholds({ trend_min_hours: 1 })).toThrow(/at least 2 points/);
  });
});
