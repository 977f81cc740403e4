import type { AutomationLog } from "../automation-log.js";
import type { Storage } from "../storage/store.js";
import { type RetentionJobSettings, retentionJob } from "./retention-job.js";
import type { ScheduledJob } from "./scheduled-jobs.js";

/**
 * The once-across-instances jobs of `central serve` (run by JobRunner, see
 * ./scheduled-jobs.ts). A job added here runs once per period however many
 * instances share the database: retention, partition upkeep and the like.
 */
export function serveJobs(
  store: Storage,
  log: AutomationLog | null,
  settings: RetentionJobSettings,
): ScheduledJob[] {
  return [retentionJob(store, log, settings)];
}
