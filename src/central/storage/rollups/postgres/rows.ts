import type pg from "pg";
import { type DayAggregate, type DaySpan, hourlyRollupsFit } from "../../../aggregate/rows.js";
import {
  BUCKET_COLUMN_NAMES,
  BUCKET_COLUMNS,
  bucketValues,
  type FoldedDays,
  finishDays,
  MOUNT_COLUMN_NAMES,
  MOUNT_COLUMNS,
  missingDayRuns,
  mountValues,
  type TouchedRange,
  zoneDaysCovering,
} from "../buckets.js";
import { type PackedServerDays, unpackDays } from "../packed-days.js";
import { foldDaysInSql } from "./day-fold-sql.js";

/**
 * The PostgreSQL side of the rollup encoding (column types, parallel-array
 * parameters: one unnest per multi-row write) and the daily rollups: reading
 * them set-based, folding missing days from the hour buckets, writing them.
 */

/** Bucket columns holding sums, maxima and percentages (floating point); the rest are counts and epoch ms. */
const FLOAT_BUCKET_COLUMNS = new Set<string>([
  "cpu_sum",
  "cpu_peak",
  "mem_used_sum",
  "mem_available_sum",
  "mem_percent_sum",
  "mem_percent_max",
  "interval_sum",
  "mem_percent_min",
]);

export function bucketColumnsDdl(): string {
  return BUCKET_COLUMN_NAMES.map(
    (c) => `${c} ${FLOAT_BUCKET_COLUMNS.has(c) ? "DOUBLE PRECISION" : "BIGINT"} NOT NULL`,
  ).join(", ");
}

export function mountColumnsDdl(): string {
  return MOUNT_COLUMN_NAMES.map((c) => `${c} BIGINT NOT NULL`).join(", ");
}

/** SQL array types of the bucket columns, in BUCKET_COLUMN_NAMES order (for unnest). */
export const BUCKET_ARRAY_TYPES = BUCKET_COLUMN_NAMES.map((c) =>
  FLOAT_BUCKET_COLUMNS.has(c) ? "float8[]" : "int8[]",
);
export const MOUNT_ARRAY_TYPES = MOUNT_COLUMN_NAMES.map(() => "int8[]");

/** `$first::type, $first+1::type, …` for an unnest of parallel arrays. */
export function arrayParams(types: readonly string[], first: number): string {
  return types.map((t, i) => `$${first + i}::${t}`).join(", ");
}

/** One server's days of a span: the ones found (or computed), null where missing. */
export interface ServerDays {
  server: string;
  span: DaySpan;
  days: (DayAggregate | null)[];
}

/**
 * The stored days of `span` for `servers` in `tz`, read set-based (two
 * queries for the whole chunk of servers, whatever its size): servers with
 * every day stored, and the others with what was found.
 *
 * Each server's days and mounts come back packed, one row per server: a
 * float8[][] of [day index, …columns] as text, which is JSON once its braces
 * are brackets, and the mount names as a JSON array. One row per day and
 * mount (a million for a 10,000-server report) spent more time in
 * node-postgres's row decoding and per-value parsing than PostgreSQL took to
 * find them. Every column fits a float8 exactly (counts, epoch ms and byte
 * counts are below 2^53), and float8 text is the shortest exact form (PG 12+,
 * extra_float_digits ≥ 1), as for the rows before.
 */
export async function readDailyRows(
  db: pg.Pool | pg.ClientBase,
  tz: string,
  span: DaySpan,
  servers: readonly string[],
): Promise<{ complete: Map<string, DayAggregate[]>; missing: ServerDays[] }> {
  const firstDate = span.dates[0]!;
  const lastDate = span.dates[span.dates.length - 1]!;
  const params = [tz, servers, firstDate, lastDate, span.dates];
  const where = `tz = $1 AND ${serversIn("$2")} AND date >= $3 AND date <= $4`;
  const dayIndex = "array_position($5::text[], date::text) - 1";
  const [days, disks] = await Promise.all([
    db.query({
      text: `SELECT server, array_agg(ARRAY[${dayIndex}, ${BUCKET_COLUMNS}]::float8[])::text
        FROM rollup_daily WHERE ${where} GROUP BY server`,
      values: params,
      rowMode: "array",
    }),
    db.query({
      text: `SELECT server, json_agg(mount)::text, array_agg(ARRAY[${dayIndex}, ${MOUNT_COLUMNS}]::float8[])::text
        FROM rollup_daily_disk WHERE ${where} GROUP BY server`,
      values: params,
      rowMode: "array",
    }),
  ]);
  const found = new Map<string, PackedServerDays>();
  for (const [server, rows] of days.rows as [string, string][]) {
    found.set(server, { days: parseFloatMatrix(rows), mounts: [], mountNames: [] });
  }
  // Both aggregates of one group read its rows in the same order, so names and rows pair up.
  for (const [server, names, rows] of disks.rows as [string, string, string][]) {
    const f = found.get(server);
    if (f !== undefined)
      found.set(server, { days: f.days, mounts: parseFloatMatrix(rows), mountNames: JSON.parse(names) });
  }
  const complete = new Map<string, DayAggregate[]>();
  const missing: ServerDays[] = [];
  for (const server of new Set(servers)) {
    const dayList = unpackDays(span, found.get(server));
    if (dayList.every((d) => d !== null)) complete.set(server, dayList as DayAggregate[]);
    else missing.push({ server, span, days: dayList });
  }
  return { complete, missing };
}

/**
 * `server = ANY(param)`, with the key range of the list as well. Without the
 * range, a table whose statistics do not yet know its size (daily rollups just
 * filled by a first build or a catch-up, before autovacuum analyzed them) got
 * a plan that walked the index over every server of the zone and filtered:
 * 332,500 rows read and dropped per 500-server chunk at 10,000 servers, so a
 * report read O(fleet²) rows. The bounds are computed in SQL, in the column's
 * collation, so they hold whatever order the caller sorted the list in.
 */
export function serversIn(param: string): string {
  return `server >= (SELECT min(s) FROM unnest(${param}::text[]) AS s) AND server <= (SELECT max(s) FROM unnest(${param}::text[]) AS s) AND server = ANY(${param}::text[])`;
}

/** A float8[][] in PostgreSQL's text form ({{1,2.5},{3,4}}) as number[][]: its numbers are JSON numbers. */
export function parseFloatMatrix(text: string): number[][] {
  return JSON.parse(text.replaceAll("{", "[").replaceAll("}", "]")) as number[][];
}

/** Replaces the stored days (and their mounts) of each entry in `tz`. The caller holds the servers' locks. */
export async function writeDays(
  client: pg.ClientBase,
  tz: string,
  entries: readonly { server: string; span: DaySpan; days: FoldedDays }[],
): Promise<void> {
  const keyServers: string[] = [];
  const keyDates: string[] = [];
  const dayCols: unknown[][] = [];
  const diskCols: unknown[][] = [];
  for (const e of entries) {
    e.span.dates.forEach((date, i) => {
      keyServers.push(e.server);
      keyDates.push(date);
      dayCols.push([e.server, date, ...bucketValues(e.days.buckets[i]!)]);
      for (const [mount, m] of e.days.mounts[i]!) diskCols.push([e.server, date, mount, ...mountValues(m)]);
    });
  }
  if (keyServers.length === 0) return;
  for (const table of ["rollup_daily", "rollup_daily_disk"]) {
    await client.query(
      `DELETE FROM ${table} t USING unnest($2::text[], $3::text[]) AS k(server, date)
       WHERE t.tz = $1 AND t.server = k.server AND t.date = k.date`,
      [tz, keyServers, keyDates],
    );
  }
  await client.query(
    `INSERT INTO rollup_daily (tz, server, date, ${BUCKET_COLUMNS})
     SELECT $1, * FROM unnest($2::text[], $3::text[], ${arrayParams(BUCKET_ARRAY_TYPES, 4)})`,
    [tz, ...columns(dayCols, 2 + BUCKET_ARRAY_TYPES.length)],
  );
  if (diskCols.length > 0) {
    await client.query(
      `INSERT INTO rollup_daily_disk (tz, server, date, mount, ${MOUNT_COLUMNS})
       SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], ${arrayParams(MOUNT_ARRAY_TYPES, 5)})`,
      [tz, ...columns(diskCols, 3 + MOUNT_ARRAY_TYPES.length)],
    );
  }
}

/** Rows to parallel column arrays (what unnest takes). */
function columns(rows: readonly unknown[][], width: number): unknown[][] {
  const out: unknown[][] = Array.from({ length: width }, () => new Array(rows.length));
  rows.forEach((row, i) => {
    for (let c = 0; c < width; c++) out[c]![i] = row[c];
  });
  return out;
}

/**
 * Per server, the local days of `tz` that the ranges touch, each day once
 * (two ranges of one server may fall on the same day). Zones whose days do
 * not start on whole UTC hours are not kept (the report reads raw rows there).
 */
export function daysAround(tz: string, ranges: readonly TouchedRange[]): ServerDays[] {
  const byServer = new Map<string, Map<string, [number, number]>>();
  for (const r of ranges) {
    const span = zoneDaysCovering(tz, r.from, r.to);
    if (!hourlyRollupsFit(span)) return [];
    let days = byServer.get(r.server);
    if (days === undefined) {
      days = new Map();
      byServer.set(r.server, days);
    }
    for (let i = 0; i < span.dates.length; i++) {
      days.set(span.dates[i]!, [span.dayStarts[i]!, span.dayStarts[i + 1]!]);
    }
  }
  const out: ServerDays[] = [];
  for (const [server, days] of byServer) {
    const sorted = [...days.entries()].sort((a, b) => a[1][0] - b[1][0]);
    // Days that do not follow each other are separate spans (a span's days must be contiguous).
    let dates: string[] = [];
    let starts: number[] = [];
    const push = (): void => {
      if (dates.length === 0) return;
      out.push({ server, span: { dates, dayStarts: starts }, days: dates.map(() => null) });
    };
    for (const [date, [start, end]] of sorted) {
      if (starts.length > 0 && starts[starts.length - 1] !== start) {
        push();
        dates = [];
        starts = [];
      }
      if (starts.length > 0) starts.pop();
      dates.push(date);
      starts.push(start, end);
    }
    push();
  }
  return out;
}

/**
 * Computes the days not given in each `wanted[i].days` (null) from the hour
 * buckets, stores them, and returns them per server in date order. The
 * caller holds the servers' locks. `store`: true stores every server's days
 * (days whose hours are gone become empty; a refresh does this without the
 * round trip, with replaceDaysInSql, which test/central/storage/
 * pg-day-fold.test.ts holds to this path's rows), "withHours" only those of
 * servers with an hour in the runs (a first read), false none.
 */
export async function computeDays(
  client: pg.Pool | pg.ClientBase,
  tz: string,
  wanted: readonly ServerDays[],
  store: boolean | "withHours" = true,
): Promise<{ days: Map<string, DayAggregate[]>; withHours: Set<string> }> {
  // Per server, the runs of consecutive missing days: each is a sub-span folded on its own.
  const runs = wanted.flatMap((w) =>
    missingDayRuns(w.span, (i) => w.days[i] === null).map((run) => ({ server: w.server, span: run.span })),
  );
  // Folded in SQL (./day-fold-sql.ts): a day comes back as one row, not as its 24 hours.
  const foldedDays = await foldDaysInSql(client, runs);
  const folded: { server: string; span: DaySpan; days: FoldedDays }[] = runs.map((r, i) => ({
    ...r,
    days: foldedDays[i]!,
  }));
  const withHours = new Set(
    folded.filter((f) => f.days.buckets.some((b) => b.samples > 0)).map((f) => f.server),
  );
  if (store !== false) {
    const toStore = store === "withHours" ? folded.filter((f) => withHours.has(f.server)) : folded;
    await writeDays(client as pg.ClientBase, tz, toStore);
  }
  const out = new Map<string, DayAggregate[]>();
  for (const f of folded) {
    let list = out.get(f.server);
    if (list === undefined) {
      list = [];
      out.set(f.server, list);
    }
    list.push(...finishDays(f.span, f.days));
  }
  return { days: out, withHours };
}
