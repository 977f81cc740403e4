import type { AutomationLog } from "../automation-log.js";
import type { Storage } from "../storage/store.js";
import type { ScheduledJob } from "./scheduled-jobs.js";

/** Retention runs once an hour across all instances (the runner's lease makes it once). */
export const RETENTION_EVERY_MS = 60 * 60_000;

/** The retention job of `central serve`, run by JobRunner on one instance per period. */
export function retentionJob(store: Storage, log: AutomationLog | null): ScheduledJob {
  return { name: "retention", everyMs: RETENTION_EVERY_MS, run: () => runRetention(store, log) };
}

/**
 * Prunes what is past retention. The pruning itself (raw samples, hourly
 * rollups, received_metrics/, raw uploads kept in the database) belongs to
 * the storage port's retention part; until that lands this is a no-op, and
 * the runner still records each period as done, once.
 */
export async function runRetention(_store: Storage, _log: AutomationLog | null): Promise<void> {}
