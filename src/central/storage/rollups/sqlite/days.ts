import type Database from "better-sqlite3";
import {
  type DayAggregate,
  type DaySpan,
  type HourAggregate,
  hourlyRollupsFit,
} from "../../../aggregate/rows.js";
import { prepared } from "../../sqlite/prepared.js";
import {
  BUCKET_COLUMNS,
  type BucketTuple,
  bucketValues,
  finishDays,
  foldDays,
  hourAggregates,
  MOUNT_COLUMNS,
  type MountTuple,
  missingDayRuns,
  mountValues,
  type TouchedRange,
  zoneDaysCovering,
} from "../buckets.js";
import { readStoredDays } from "./reads.js";
import { BUCKET_PLACEHOLDERS, ensureRollupSchema, MOUNT_PLACEHOLDERS } from "./schema.js";

/** Daily rollups of SQLite: days folded from hour buckets, and the reads of days and hours. */

/** After hours changed: recompute the local days of every registered zone that overlap them. */
export function refreshDailyForRanges(db: Database.Database, ranges: TouchedRange[]): void {
  const zones = prepared(db, "SELECT tz FROM rollup_zones").pluck().all() as string[];
  for (const tz of zones) {
    for (const r of ranges) {
      const span = zoneDaysCovering(tz, r.from, r.to);
      if (!hourlyRollupsFit(span)) continue;
      computeDaily(db, tz, r.server, span);
    }
  }
}

/** One server's hourly buckets (in hour order) and per-mount rows in [from, to). */
function hourlyRows(
  db: Database.Database,
  server: string,
  from: number,
  to: number,
): { hours: [number, ...BucketTuple][]; diskRows: [number, string, ...MountTuple][] } {
  const hours = prepared(
    db,
    `SELECT hour, ${BUCKET_COLUMNS} FROM rollup_hourly WHERE server = ? AND hour >= ? AND hour < ? ORDER BY hour`,
  )
    .raw()
    .all(server, from, to) as [number, ...BucketTuple][];
  const diskRows = prepared(
    db,
    `SELECT hour, mount, ${MOUNT_COLUMNS} FROM rollup_hourly_disk WHERE server = ? AND hour >= ? AND hour < ?`,
  )
    .raw()
    .all(server, from, to) as [number, string, ...MountTuple][];
  return { hours, diskRows };
}

/** Where hourlyRows puts the hour, bucket and mount columns. */
const HOURLY_ROW_LAYOUT = { hourIndex: 0, bucketOffset: 1, diskHourIndex: 0, mountIndex: 1 };

/** Computes (and stores) the days of `span` for one server from hourly buckets. */
function computeDaily(db: Database.Database, tz: string, server: string, span: DaySpan): DayAggregate[] {
  const from = span.dayStarts[0]!;
  const to = span.dayStarts[span.dayStarts.length - 1]!;
  const { hours, diskRows } = hourlyRows(db, server, from, to);
  const n = span.dates.length;
  const days = foldDays(span, hours, diskRows, HOURLY_ROW_LAYOUT);
  const { buckets, mounts } = days;
  // One range delete for the disks, INSERT OR REPLACE for the days: few statements per server.
  prepared(db, "DELETE FROM rollup_daily_disk WHERE tz = ? AND server = ? AND date >= ? AND date <= ?").run(
    tz,
    server,
    span.dates[0],
    span.dates[n - 1],
  );
  const insDay = prepared(
    db,
    `INSERT OR REPLACE INTO rollup_daily (tz, server, date, ${BUCKET_COLUMNS}) VALUES (?, ?, ?, ${BUCKET_PLACEHOLDERS})`,
  );
  const insDisk = prepared(
    db,
    `INSERT INTO rollup_daily_disk (tz, server, date, mount, ${MOUNT_COLUMNS}) VALUES (?, ?, ?, ?, ${MOUNT_PLACEHOLDERS})`,
  );
  for (let i = 0; i < n; i++) {
    const date = span.dates[i]!;
    insDay.run(tz, server, date, ...bucketValues(buckets[i]!));
    for (const [mount, m] of mounts[i]!) insDisk.run(tz, server, date, mount, ...mountValues(m));
  }
  return finishDays(span, days);
}

/**
 * Reads the days of `span` for `servers` in `tz` from the daily rollups,
 * filling (and storing) days not computed yet from the hourly buckets.
 * Requires hourlyRollupsFit(span). Call refreshRollups first.
 */
export function readDailyRollups(
  db: Database.Database,
  tz: string,
  span: DaySpan,
  servers: readonly string[],
): Map<string, DayAggregate[]> {
  if (!hourlyRollupsFit(span))
    throw new Error(`readDailyRollups: days in ${tz} do not start on whole UTC hours`);
  ensureRollupSchema(db);
  if (servers.length === 0) return new Map();
  const stored = readStoredDays(db, tz, span, servers);
  const out = new Map<string, DayAggregate[]>();
  const missing: string[] = [];
  for (const [server, days] of stored) {
    if (days.every((d) => d !== null)) out.set(server, days as DayAggregate[]);
    else missing.push(server);
  }
  if (missing.length > 0) {
    // First use of this zone or these days: compute the missing days from hourly buckets and keep them.
    db.transaction(() => {
      prepared(db, "INSERT OR IGNORE INTO rollup_zones (tz) VALUES (?)").run(tz);
      for (const server of missing) {
        const days = stored.get(server)!;
        for (const run of missingDayRuns(span, (i) => days[i] === null)) {
          computeDaily(db, tz, server, run.span).forEach((d, k) => {
            days[run.first + k] = d;
          });
        }
        out.set(server, days as DayAggregate[]);
      }
    }).immediate();
  }
  return out;
}

/**
 * The hour buckets of one server in [from, to), chronological, from the
 * hourly rollups: the same objects ServerRowAggregator.finishWithHours gives
 * from raw rows. Requires hourlyRollupsFit for the days they belong to.
 */
export function readHourlyRollups(
  db: Database.Database,
  server: string,
  from: number,
  to: number,
): HourAggregate[] {
  const { hours, diskRows } = hourlyRows(db, server, from, to);
  return hourAggregates(hours, diskRows);
}
