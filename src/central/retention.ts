import { readdir, rm } from "node:fs/promises";
import path from "node:path";
import type { SamplePruneResult } from "./storage/retention-store.js";
import type { RollupPruneResult } from "./storage/rollups/port.js";
import type { Storage } from "./storage/store.js";

/**
 * The retention job: one call prunes everything past its horizon. It knows
 * no backend (storage.retention does the backend's part) and runs where it
 * is called: `central serve`'s scheduler makes sure one instance at a time
 * calls it. Safe to repeat; a run cut short leaves nothing half-done that the
 * next run does not finish.
 */
export interface RetentionSettings {
  /** Days of raw samples kept (SRVUTIL_RETENTION_RAW_DAYS); null keeps them forever. */
  rawDays: number | null;
  /** Days of raw upload files in received_metrics/ kept (SRVUTIL_RETENTION_RECEIVED_METRICS_DAYS); null keeps them. */
  receivedMetricsDays: number | null;
  /** Calendar months of hourly rollups kept (SRVUTIL_RETENTION_HOURLY_MONTHS); null keeps them. Daily rollups are kept forever. */
  hourlyMonths: number | null;
}

export const DEFAULT_RETENTION: Readonly<RetentionSettings> = Object.freeze({
  rawDays: 35,
  receivedMetricsDays: null,
  hourlyMonths: 13,
});

export interface RetentionRun {
  /** Raw samples before this instant are gone (epoch ms, a whole UTC hour); null when kept forever. */
  rawCutoff: number | null;
  samples: SamplePruneResult | null;
  /** Hour buckets deleted, the hours sealed, and the horizons in force now. */
  rollups: RollupPruneResult;
  /** received_metrics/<server>/<day>/ directories removed; null when the files are kept. */
  receivedMetricsDaysRemoved: number | null;
  /** Raw uploads kept in the database (SRVUTIL_RAW_STORE=database) removed by the same setting; null when kept. */
  rawUploadsRemoved: number | null;
  /** store.serverInputs rows of servers no longer known (ServerInputStore.pruneUnknown) removed. */
  serverInputsRemoved: number;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/**
 * The first instant raw samples are kept from: `days` before `now`, floored
 * to the UTC hour, so that every hour is either wholly kept or wholly pruned
 * (an hour's rollup is never computed from a part of its rows).
 */
export function rawCutoff(now: number, days: number): number {
  return Math.floor((now - days * DAY_MS) / HOUR_MS) * HOUR_MS;
}

/** The first hour of hourly rollups kept: `months` calendar months before `now` (UTC), on the hour. */
export function hourlyCutoff(now: number, months: number): number {
  const d = new Date(now);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - months, d.getUTCDate(), d.getUTCHours());
}

/**
 * How far the ingest horizon lies after the hourly-retention cutoff. A late
 * sample is folded into its hour bucket and its local day is recomputed from
 * that day's buckets, so the whole day must still have them: the refresh
 * folds nothing within LATE_FOLD_MARGIN_MS (2 days) of the hourly horizon,
 * and the ingest leaves one day more for that horizon to move on between
 * an upload and its fold.
 */
export const INGEST_HORIZON_MARGIN_MS = 3 * DAY_MS;

/**
 * The oldest sample the central accepts at `now`, and why: three days after
 * the first hour whose bucket hourly retention keeps
 * (SRVUTIL_RETENTION_HOURLY_MONTHS), or after the newest bucket retention
 * has already deleted (`deletedBefore`, RollupHorizons.hourly: it is later
 * when the setting was raised since), whichever is later; null when nothing
 * is too old (hour buckets kept forever, none deleted). Anything older could
 * never appear in a report, so an upload holding it is refused whole,
 * before anything of it is stored.
 */
export function ingestHorizon(
  now: number,
  hourlyMonths: number | null,
  deletedBefore = 0,
): { horizon: number; because: "retention" | "deleted" } | null {
  const kept = hourlyMonths === null ? null : hourlyCutoff(now, hourlyMonths) + INGEST_HORIZON_MARGIN_MS;
  const deleted = deletedBefore > 0 ? deletedBefore + INGEST_HORIZON_MARGIN_MS : null;
  if (deleted !== null && (kept === null || deleted > kept)) return { horizon: deleted, because: "deleted" };
  return kept === null ? null : { horizon: kept, because: "retention" };
}

/**
 * In this order: partitions ahead; rollups caught up, so every hour about to
 * lose its raw rows is folded in first; the rollup side (hour buckets past
 * their retention; the hours about to lose their raw rows sealed, each with
 * the set of timestamps its bucket counted, so late samples for it are
 * folded in once); then the raw samples; then the files; then the
 * server_inputs rows of servers no longer known.
 */
export async function runRetention(
  storage: Storage,
  settings: RetentionSettings,
  options: { now: number; receivedMetricsDir: string },
): Promise<RetentionRun> {
  await storage.retention.maintain(options.now);
  const cutoff = settings.rawDays === null ? null : rawCutoff(options.now, settings.rawDays);
  await storage.rollups.refresh();
  const rollups = await storage.rollups.prune({
    rawBefore: cutoff ?? 0,
    hourlyBefore: settings.hourlyMonths === null ? 0 : hourlyCutoff(options.now, settings.hourlyMonths),
  });
  const samples = cutoff === null ? null : await storage.retention.pruneSamples(cutoff);
  const receivedMetricsDaysRemoved =
    settings.receivedMetricsDays === null
      ? null
      : await pruneReceivedMetrics(
          options.receivedMetricsDir,
          options.now - settings.receivedMetricsDays * DAY_MS,
        );
  // Raw uploads in the database are received_metrics/ kept elsewhere: the same setting applies.
  const rawUploadsRemoved =
    settings.receivedMetricsDays === null
      ? null
      : await storage.rawUploads.pruneBefore(options.now - settings.receivedMetricsDays * DAY_MS);
  // A server is forgotten after the raw horizon (35 days when raw samples are kept forever).
  const serverInputsRemoved = await storage.serverInputs.pruneUnknown(
    options.now - (settings.rawDays ?? DEFAULT_RETENTION.rawDays ?? 35) * DAY_MS,
  );
  return {
    rawCutoff: cutoff,
    samples,
    rollups,
    receivedMetricsDaysRemoved,
    rawUploadsRemoved,
    serverInputsRemoved,
  };
}

/**
 * Removes received_metrics/<server>/<YYYY-MM-DD>/ (the UTC day the central
 * received the files) for every day that ended before `before`. Names that
 * are not a day directory are left alone.
 */
export async function pruneReceivedMetrics(root: string, before: number): Promise<number> {
  const lastKeptDay = new Date(before).toISOString().slice(0, 10); // days < this one ended before `before`
  let removed = 0;
  const servers = await readdir(root, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return [];
    throw err;
  });
  for (const s of servers) {
    if (!s.isDirectory()) continue;
    for (const d of await readdir(path.join(root, s.name), { withFileTypes: true })) {
      if (!d.isDirectory() || !/^\d{4}-\d{2}-\d{2}$/.test(d.name) || d.name >= lastKeptDay) continue;
      await rm(path.join(root, s.name, d.name), { recursive: true, force: true });
      removed++;
    }
  }
  return removed;
}
