import type { AutomationLog } from "../automation-log.js";
import { type RetentionSettings, runRetention } from "../retention.js";
import type { Storage } from "../storage/store.js";
import type { ScheduledJob } from "./scheduled-jobs.js";

/** Retention runs once an hour across all instances (the runner's lease makes it once). */
export const RETENTION_EVERY_MS = 60 * 60_000;

export interface RetentionJobSettings {
  retention: RetentionSettings;
  receivedMetricsDir: string;
}

/**
 * The retention job of `central serve`, run by JobRunner on one instance per
 * period: partitions ahead, rollups caught up and pruned, raw samples, then
 * received_metrics/ and raw uploads in the database (../retention.ts).
 */
export function retentionJob(
  store: Storage,
  log: AutomationLog | null,
  settings: RetentionJobSettings,
): ScheduledJob {
  return {
    name: "retention",
    everyMs: RETENTION_EVERY_MS,
    run: async () => {
      const run = await runRetention(store, settings.retention, {
        now: Date.now(),
        receivedMetricsDir: settings.receivedMetricsDir,
      });
      log?.info("retention", {
        rawCutoff: run.rawCutoff === null ? null : new Date(run.rawCutoff).toISOString(),
        samples: run.samples,
        rollups: run.rollups,
        receivedMetricsDaysRemoved: run.receivedMetricsDaysRemoved,
        rawUploadsRemoved: run.rawUploadsRemoved,
      });
    },
  };
}
