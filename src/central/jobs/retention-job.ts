import type { AutomationLog } from "../automation-log.js";
import { hourlyCutoff, type RetentionSettings, runRetention } from "../retention.js";
import type { AlertPruneResult } from "../storage/alert-store.js";
import type { Storage } from "../storage/store.js";
import type { ScheduledJob } from "./scheduled-jobs.js";

/** Retention runs once an hour across all instances (the runner's lease makes it once). */
export const RETENTION_EVERY_MS = 60 * 60_000;

/** Sent and failed alert notifications, and ended silences, are kept this long. */
export const ALERT_HISTORY_KEEP_MS = 30 * 24 * 60 * 60_000;

/**
 * The alerts' history retention keeps: resolved episodes as long as the
 * hourly rollups they were judged on (SRVUTIL_RETENTION_HOURLY_MONTHS; kept
 * forever when those are), sent and failed notifications and ended
 * silences 30 days.
 */
export function pruneAlerts(
  store: Storage,
  settings: RetentionSettings,
  now: number,
): Promise<AlertPruneResult> {
  return store.alerts.prune({
    episodesBefore: settings.hourlyMonths === null ? 0 : hourlyCutoff(now, settings.hourlyMonths),
    notificationsBefore: now - ALERT_HISTORY_KEEP_MS,
    silencesBefore: now - ALERT_HISTORY_KEEP_MS,
  });
}

export interface RetentionJobSettings {
  retention: RetentionSettings;
  receivedMetricsDir: string;
}

/**
 * The retention job of `central serve`, run by JobRunner on one instance per
 * period: partitions ahead, rollups caught up and pruned, raw samples, then
 * received_metrics/ and raw uploads in the database (../retention.ts), then
 * the alerts' history (pruneAlerts).
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
      const now = Date.now();
      const run = await runRetention(store, settings.retention, {
        now,
        receivedMetricsDir: settings.receivedMetricsDir,
      });
      const alerts = await pruneAlerts(store, settings.retention, now);
      log?.info("retention", {
        rawCutoff: run.rawCutoff === null ? null : new Date(run.rawCutoff).toISOString(),
        samples: run.samples,
        rollups: run.rollups,
        receivedMetricsDaysRemoved: run.receivedMetricsDaysRemoved,
        rawUploadsRemoved: run.rawUploadsRemoved,
        serverInputsRemoved: run.serverInputsRemoved,
        alertEpisodesRemoved: alerts.episodes,
        alertNotificationsRemoved: alerts.notifications,
        alertSilencesRemoved: alerts.silences,
      });
    },
  };
}
