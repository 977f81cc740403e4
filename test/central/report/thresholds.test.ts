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
