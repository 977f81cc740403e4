import {
  type Bucket,
  emptyBucket,
  HOUR_MS,
  type MountLast,
  mergeBucket,
  mergeMount,
} from "../../aggregate/rows.js";
import { HourBucketFolder, type SampleTuple } from "./buckets.js";
import { SeenSet } from "./seen-set.js";

/**
 * Late samples for sealed hours, the arithmetic both backends share
 * (docs/report.md, Retention). An hour is sealed once it is before the raw
 * retention horizon: its raw rows are pruned, or about to be, so its bucket
 * can no longer be recomputed from them. What was counted in it is kept as a
 * seen set (./seen-set.ts); a late row is folded in only when its timestamp
 * is not in that set, and the set grows with it, so a sample is counted once
 * however often it arrives.
 */

/** What is stored for one sealed (server, hour). */
export interface StoredHour {
  /** The hour bucket, null when there is none. */
  bucket: Bucket | null;
  /** Its mounts (empty without a bucket). */
  mounts: Map<string, MountLast>;
  /** The timestamps counted in it, null when no seen set is stored. */
  seen: SeenSet | null;
}

export interface FoldedHour {
  bucket: Bucket;
  mounts: Map<string, MountLast>;
  seen: SeenSet;
  /** Samples (distinct timestamps) counted by this fold. */
  added: number;
}

/**
 * Folds the rows of one sealed hour (ordered by ts, then mount, as the
 * samples' key orders them) into what is stored for it, or null when every
 * row was counted already.
 *
 * - Nothing stored (no bucket, no seen set): a fresh fold of the rows, the
 *   same figures as any hour (a year-old archive imported late).
 * - Otherwise only rows whose timestamp is not in the seen set count; a
 *   bucket stored without one (sealed before seen sets existed) takes its
 *   first-to-last sample range as seen. The new samples become a bucket of
 *   their own, merged into the stored one: first, last, minima and maxima by
 *   timestamp, whatever the order of arrival. Counts are exact; sums equal a
 *   fresh fold of all rows up to floating-point rounding (they are added in
 *   a different order, which a fresh fold cannot redo without the pruned rows).
 */
export function foldSealedHour(
  hour: number,
  rows: readonly SampleTuple[],
  stored: StoredHour | null,
): FoldedHour | null {
  const seen =
    stored?.seen ??
    (stored?.bucket != null && stored.bucket.samples > 0
      ? SeenSet.range(stored.bucket.firstTs - hour, stored.bucket.lastTs - hour)
      : SeenSet.empty());
  const folder = new HourBucketFolder();
  const added: number[] = [];
  for (const r of rows) {
    const offset = r[0] - hour;
    if (offset < 0 || offset >= HOUR_MS) throw new Error(`row at ${r[0]} is outside hour ${hour}`);
    if (seen.has(offset)) continue;
    if (added[added.length - 1] !== offset) added.push(offset);
    folder.add(r);
  }
  const fresh = folder.hours.get(hour);
  if (fresh === undefined) return null;
  const bucket = { ...(stored?.bucket ?? emptyBucket()) };
  mergeBucket(bucket, fresh.bucket);
  const mounts = new Map<string, MountLast>();
  for (const [mount, m] of stored?.mounts ?? []) mounts.set(mount, { ...m });
  for (const [mount, m] of fresh.mounts) mergeMount(mounts, mount, m);
  return { bucket, mounts, seen: seen.withAdded(added), added: added.length };
}

/** Rows ordered by ts, as runs of one hour each: [hour, rows]. */
export function* hourRuns(rows: readonly SampleTuple[]): Generator<[number, SampleTuple[]]> {
  let hour = Number.NaN;
  let run: SampleTuple[] = [];
  for (const r of rows) {
    const h = r[0] - (r[0] % HOUR_MS);
    if (h !== hour) {
      if (run.length > 0) yield [hour, run];
      hour = h;
      run = [];
    }
    run.push(r);
  }
  if (run.length > 0) yield [hour, run];
}
