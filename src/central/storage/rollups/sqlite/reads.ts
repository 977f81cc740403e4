import type Database from "better-sqlite3";
import type { DayAggregate, DaySpan } from "../../../aggregate/rows.js";
import { prepared } from "../../sqlite/prepared.js";
import { BUCKET_COLUMNS, MOUNT_COLUMNS } from "../buckets.js";
import { type PackedServerDays, unpackDays } from "../packed-days.js";

/**
 * The stored days of `span` for `servers` in `tz` (null where a day is not
 * stored), two statements for the whole list.
 *
 * Each server's days and mounts come back packed, as JSON built by SQLite
 * (json_group_array), one row per server: better-sqlite3 turning ~500,000 day
 * and mount rows of a 10,000-server report into arrays, value by value, cost
 * more than SQLite building the text and JSON.parse reading it. SQLite writes
 * a REAL in JSON with the digits that read back to the same double (checked
 * field for field against the rows by the rollup tests).
 */
export function readStoredDays(
  db: Database.Database,
  tz: string,
  span: DaySpan,
  servers: readonly string[],
): Map<string, (DayAggregate | null)[]> {
  const dateIndex = new Map(span.dates.map((d, i) => [d, i]));
  const wanted = new Set(servers);
  // Only the key range of the requested servers is read (callers pass chunks of a sorted list).
  // Its bounds come from SQLite, in the column's (byte) order: JavaScript compares UTF-16 code
  // units, which orders some names differently.
  const [lowest, highest] = prepared(db, "SELECT min(value), max(value) FROM json_each(?)")
    .raw()
    .get(JSON.stringify(servers)) as [string, string];
  const range = [tz, lowest, highest, span.dates[0], span.dates[span.dates.length - 1]];
  const where = "tz = ? AND server >= ? AND server <= ? AND date >= ? AND date <= ?";
  /** [date, …columns] rows to [day index, …columns]. */
  const indexed = (json: string): number[][] => {
    const rows = JSON.parse(json) as unknown[][];
    for (const row of rows) row[0] = dateIndex.get(row[0] as string);
    return rows as number[][];
  };
  const found = new Map<string, PackedServerDays>();
  const days = prepared(
    db,
    `SELECT server, json_group_array(json_array(date, ${BUCKET_COLUMNS})) FROM rollup_daily
       WHERE ${where} GROUP BY server`,
  )
    .raw()
    .all(...range) as [string, string][];
  for (const [server, rows] of days) {
    if (wanted.has(server)) found.set(server, { days: indexed(rows), mounts: [], mountNames: [] });
  }
  // Both aggregates of one group step over its rows in the same order, so names and rows pair up.
  const disks = prepared(
    db,
    `SELECT server, json_group_array(mount), json_group_array(json_array(date, ${MOUNT_COLUMNS}))
       FROM rollup_daily_disk WHERE ${where} GROUP BY server`,
  )
    .raw()
    .all(...range) as [string, string, string][];
  for (const [server, names, rows] of disks) {
    const f = found.get(server);
    if (f !== undefined)
      found.set(server, { days: f.days, mounts: indexed(rows), mountNames: JSON.parse(names) });
  }
  const out = new Map<string, (DayAggregate | null)[]>();
  for (const server of wanted) out.set(server, unpackDays(span, found.get(server)));
  return out;
}
