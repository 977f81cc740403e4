import { type DayAggregate, type DaySpan, finishDay, type MountLast } from "../../aggregate/rows.js";
import { bucketFromTuple, mountFromTuple } from "./buckets.js";

/**
 * One server's stored days of a span as a backend delivers them packed (one
 * value per server rather than one row per day and mount: see readDailyRows
 * on PostgreSQL and readDailyRollups on SQLite). A 10,000-server report reads
 * ~350,000 days and their mounts; one row each cost more in row decoding and
 * per-row objects than the report itself took.
 */
export interface PackedServerDays {
  /** [day index in the span (0-based), …BUCKET_COLUMN_NAMES], in any order. */
  days: readonly (readonly number[])[];
  /** [day index, …MOUNT_COLUMN_NAMES], in any order; mountNames[k] is the mount of mounts[k]. */
  mounts: readonly (readonly number[])[];
  mountNames: readonly string[];
}

/** finishDay only reads a day's mounts; days without any share this one. */
const NO_MOUNTS: ReadonlyMap<string, MountLast> = new Map();

/**
 * The days of `span` from one server's packed rows: what finishDay gives for
 * the stored bucket and mounts of each day, null for days not stored. Mounts
 * of a day that is not stored are ignored (the day is computed again).
 */
export function unpackDays(span: DaySpan, packed: PackedServerDays | undefined): (DayAggregate | null)[] {
  const n = span.dates.length;
  const out: (DayAggregate | null)[] = new Array<DayAggregate | null>(n).fill(null);
  if (packed === undefined) return out;
  let mounts: (Map<string, MountLast> | undefined)[] | undefined;
  for (let k = 0; k < packed.mounts.length; k++) {
    const row = packed.mounts[k]!;
    const i = row[0]!;
    mounts ??= new Array<Map<string, MountLast> | undefined>(n);
    let day = mounts[i];
    if (day === undefined) {
      day = new Map();
      mounts[i] = day;
    }
    day.set(packed.mountNames[k]!, mountFromTuple(row, 1));
  }
  for (const row of packed.days) {
    const i = row[0]!;
    out[i] = finishDay(span.dates[i]!, bucketFromTuple(row, 1), mounts?.[i] ?? NO_MOUNTS);
  }
  return out;
}
