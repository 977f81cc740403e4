import type Database from "better-sqlite3";
import {
  type DayAggregate,
  type DaySpan,
  HOUR_MS,
  type HourAggregate,
  hourlyRollupsFit,
} from "../../aggregate/rows.js";
import {
  BUCKET_COLUMNS,
  type BucketTuple,
  bucketValues,
  finishDays,
  foldDays,
  HourBucketFolder,
  hourAggregates,
  MOUNT_COLUMNS,
  type MountTuple,
  mergeRanges,
  missingDayRuns,
  mountValues,
  SAMPLE_FOLD_COLUMNS,
  type SampleTuple,
  type TouchedRange,
  zoneDaysCovering,
} from "../rollup-buckets.js";
import {
  firstDateFrom,
  type RollupPruneCutoffs,
  type RollupPruneResult,
  type RollupRefreshOptions,
  type RollupRefreshResult,
  type RollupStore,
  rawHorizonHour,
} from "../rollup-store.js";
import { type Migration, runMigrations } from "./migrate.js";
import { prepared } from "./prepared.js";
import { readStoredDays } from "./rollup-reads.js";

/**
 * Hourly and daily rollups of the samples table, so a report reads
 * O(servers × days) rows instead of every sample.
 *
 * - rollup_hourly / rollup_hourly_disk: one bucket per (server, UTC hour)
 *   and per (server, UTC hour, mount), computed from raw samples in JS with
 *   the same code as the reference aggregation (aggregate/rows.ts), so the
 *   figures are bit-identical.
 * - rollup_daily / rollup_daily_disk: one row per (time zone, server, local
 *   date), merged from the hours of that day. A zone is registered the first
 *   time a report uses it; from then on refreshRollups keeps its days current.
 *   Only zones whose midnights fall on whole UTC hours can use hourly buckets
 *   (the report falls back to raw rows otherwise, e.g. Asia/Kolkata).
 * - rollup_state: the watermark (highest uploads.seq already folded in).
 *
 * Why a watermark is sound here and not on PostgreSQL (which uses dirty
 * (server, hour) marks instead, see ../postgres/rollups.ts): every write to
 * SQLite, from any process, is one IMMEDIATE transaction, and SQLite admits
 * one writer at a time. An upload's seq is assigned inside its transaction
 * and AUTOINCREMENT never goes back, so a transaction that commits later
 * holds larger seqs than every one committed before it: seq order is commit
 * order, and a refresher that has seen seq X has seen every upload up to X.
 * The refresh batch itself is IMMEDIATE too, so it reads the uploads and
 * moves the watermark with no writer in between. Several processes on one
 * file (serve, import, report) may refresh at once; they take turns. A dirty
 * table would add a write per upload to buy nothing SQLite needs.
 *
 * Exactness under late and duplicate rows: every upload records the server
 * and its time range (ts_min, ts_max); a refresh recomputes every hour that
 * range touches from the raw samples, so whatever arrived (late, duplicated,
 * in any order) the buckets equal a fresh computation.
 */
export const ROLLUP_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "hourly and daily rollups with an uploads.seq watermark",
    sql: `
      CREATE TABLE rollup_hourly (
        server TEXT NOT NULL,
        hour INTEGER NOT NULL,
        samples INTEGER NOT NULL,
        cpu_sum REAL NOT NULL,
        cpu_peak REAL NOT NULL,
        mem_used_sum REAL NOT NULL,
        mem_available_sum REAL NOT NULL,
        mem_percent_sum REAL NOT NULL,
        mem_percent_max REAL NOT NULL,
        last_ts INTEGER NOT NULL,
        last_mem_total INTEGER NOT NULL,
        interval_sum REAL NOT NULL,
        interval_count INTEGER NOT NULL,
        PRIMARY KEY (server, hour)
      ) WITHOUT ROWID;
      CREATE TABLE rollup_hourly_disk (
        server TEXT NOT NULL,
        hour INTEGER NOT NULL,
        mount TEXT NOT NULL,
        last_ts INTEGER NOT NULL,
        total INTEGER NOT NULL,
        used INTEGER NOT NULL,
        free INTEGER NOT NULL,
        PRIMARY KEY (server, hour, mount)
      ) WITHOUT ROWID;
      CREATE TABLE rollup_daily (
        tz TEXT NOT NULL,
        server TEXT NOT NULL,
        date TEXT NOT NULL,
        samples INTEGER NOT NULL,
        cpu_sum REAL NOT NULL,
        cpu_peak REAL NOT NULL,
        mem_used_sum REAL NOT NULL,
        mem_available_sum REAL NOT NULL,
        mem_percent_sum REAL NOT NULL,
        mem_percent_max REAL NOT NULL,
        last_ts INTEGER NOT NULL,
        last_mem_total INTEGER NOT NULL,
        interval_sum REAL NOT NULL,
        interval_count INTEGER NOT NULL,
        PRIMARY KEY (tz, server, date)
      ) WITHOUT ROWID;
      CREATE TABLE rollup_daily_disk (
        tz TEXT NOT NULL,
        server TEXT NOT NULL,
        date TEXT NOT NULL,
        mount TEXT NOT NULL,
        last_ts INTEGER NOT NULL,
        total INTEGER NOT NULL,
        used INTEGER NOT NULL,
        free INTEGER NOT NULL,
        PRIMARY KEY (tz, server, date, mount)
      ) WITHOUT ROWID;
      CREATE TABLE rollup_zones (tz TEXT PRIMARY KEY) WITHOUT ROWID;
      CREATE TABLE rollup_state (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
    `,
  },
  {
    version: 2,
    description: "first sample of each bucket (and its mem_total / disk total) for change detection",
    // Existing buckets lack the new columns: emptying them and the watermark
    // makes the next refresh fold every upload in again (in batches, as usual).
    sql: `
      ALTER TABLE rollup_hourly ADD COLUMN first_ts INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE rollup_hourly ADD COLUMN first_mem_total INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE rollup_daily ADD COLUMN first_ts INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE rollup_daily ADD COLUMN first_mem_total INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE rollup_hourly_disk ADD COLUMN first_ts INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE rollup_hourly_disk ADD COLUMN first_total INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE rollup_daily_disk ADD COLUMN first_ts INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE rollup_daily_disk ADD COLUMN first_total INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE rollup_hourly ADD COLUMN mem_percent_min REAL NOT NULL DEFAULT 0;
      ALTER TABLE rollup_hourly ADD COLUMN mem_total_min INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE rollup_hourly ADD COLUMN mem_total_max INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE rollup_daily ADD COLUMN mem_percent_min REAL NOT NULL DEFAULT 0;
      ALTER TABLE rollup_daily ADD COLUMN mem_total_min INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE rollup_daily ADD COLUMN mem_total_max INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE rollup_hourly_disk ADD COLUMN samples INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE rollup_hourly_disk ADD COLUMN total_min INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE rollup_hourly_disk ADD COLUMN total_max INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE rollup_daily_disk ADD COLUMN samples INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE rollup_daily_disk ADD COLUMN total_min INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE rollup_daily_disk ADD COLUMN total_max INTEGER NOT NULL DEFAULT 0;
      DELETE FROM rollup_hourly; DELETE FROM rollup_hourly_disk; DELETE FROM rollup_daily; DELETE FROM rollup_daily_disk;
      DELETE FROM rollup_state;
    `,
  },
];

export function ensureRollupSchema(db: Database.Database): void {
  runMigrations(db, "rollups", ROLLUP_MIGRATIONS);
}

/**
 * Keeps daily rollups of `tz` current from now on (as uploads arrive), so the
 * first report in that zone needs no catch-up. `central serve` registers the
 * report time zone at start.
 */
export function registerRollupZone(db: Database.Database, tz: string): void {
  ensureRollupSchema(db);
  prepared(db, "INSERT OR IGNORE INTO rollup_zones (tz) VALUES (?)").run(tz);
}

type RefreshResult = RollupRefreshResult;

// Raw sample columns in the order the hourly computation reads them.
/** Ranges up to this long are read with one all() call in recomputeHours. */
const SMALL_RANGE_MS = 2 * 86_400_000;

const SAMPLE_SELECT = `SELECT ${SAMPLE_FOLD_COLUMNS} FROM samples WHERE server = ? AND ts >= ? AND ts < ? ORDER BY ts, mount`;

/** Uploads folded in per transaction, so a large catch-up does not hold the write lock for long. */
const REFRESH_BATCH_UPLOADS = 500;

/**
 * Folds every upload newer than the watermark into the rollups. Cheap when
 * nothing changed (two indexed queries). Call it after ingest (the serve
 * process) and before a report (the report build does). Safe to run from
 * several processes: each batch is one IMMEDIATE transaction that also moves
 * the watermark, so every committed state equals "all uploads up to seq X".
 */
export function refreshRollups(db: Database.Database, opts: RollupRefreshOptions = {}): RefreshResult {
  ensureRollupSchema(db);
  const batchUploads = opts.batchUploads ?? REFRESH_BATCH_UPLOADS;
  const batchRows = opts.batchRows ?? Number.POSITIVE_INFINITY;
  const total: RefreshResult = { uploads: 0, hours: 0, rebuilt: false, more: false };
  const batch = db.transaction((): boolean => {
    const watermark = stateGet(db, "upload_seq");
    const seenCount = stateGet(db, "upload_count");
    // The upload the watermark names is gone only when the store was cleared
    // (seq is AUTOINCREMENT, never reused). One index lookup: counting the
    // uploads up to the watermark instead grew with history, on every batch.
    const stillThere =
      watermark === 0 ||
      prepared(db, "SELECT 1 FROM uploads WHERE seq = ?").pluck().get(watermark) !== undefined;
    if (!stillThere) {
      // Uploads were deleted (the store was cleared for a rebuild): start over.
      const maxSeq = (prepared(db, "SELECT MAX(seq) FROM uploads").pluck().get() as number | null) ?? 0;
      const r = rebuildAll(db, maxSeq);
      total.uploads += r.uploads;
      total.hours += r.hours;
      total.rebuilt = true;
      return false;
    }
    const fetched = prepared(
      db,
      "SELECT seq, server, ts_min, ts_max, rows FROM uploads WHERE seq > ? ORDER BY seq LIMIT ?",
    )
      .raw()
      .all(watermark, batchUploads) as [number, string, number | null, number | null, number][];
    if (fetched.length === 0) return false;
    // A 10,000-row backlog file costs as much as 500 small ones: bound the rows too.
    let take = 0;
    for (
      let rows = 0;
      take < fetched.length && (take === 0 || rows + fetched[take]![4] <= batchRows);
      take++
    ) {
      rows += fetched[take]![4];
    }
    const uploads = fetched.slice(0, take);
    // Hours before the raw retention horizon are never recomputed (their raw rows are pruned).
    const horizon = stateGet(db, "raw_horizon");
    const ranges = mergeRanges(
      uploads
        .filter((u) => u[2] !== null && u[3] !== null)
        .map(([, server, tsMin, tsMax]) => ({
          server,
          from: Math.max(horizon, Math.floor(tsMin! / HOUR_MS) * HOUR_MS),
          to: Math.floor(tsMax! / HOUR_MS) * HOUR_MS + HOUR_MS,
        }))
        .filter((r) => r.from < r.to),
    );
    for (const r of ranges) total.hours += recomputeHours(db, r);
    refreshDailyForRanges(db, ranges);
    const lastSeq = uploads[uploads.length - 1]![0];
    stateSet(db, "upload_seq", lastSeq);
    stateSet(db, "upload_count", seenCount + uploads.length);
    total.uploads += uploads.length;
    return fetched.length === batchUploads || take < fetched.length;
  });
  // Bounded: each round consumes up to batchUploads uploads that existed when it ran.
  const maxBatches = opts.maxBatches ?? 1_000_000;
  for (let round = 0; round < maxBatches; round++) {
    total.more = batch.immediate();
    if (!total.more) break;
  }
  return total;
}

/** Drops and recomputes every rollup from the samples table. */
export function rebuildRollups(db: Database.Database): RefreshResult {
  ensureRollupSchema(db);
  return db
    .transaction((): RefreshResult => {
      const maxSeq = (prepared(db, "SELECT MAX(seq) FROM uploads").pluck().get() as number | null) ?? 0;
      return { ...rebuildAll(db, maxSeq), rebuilt: true, more: false };
    })
    .immediate();
}

function rebuildAll(db: Database.Database, maxSeq: number): { uploads: number; hours: number } {
  // Past the raw retention horizon the kept buckets are all there is: only the hours after it are redone.
  const horizon = stateGet(db, "raw_horizon");
  const firstDate = horizon > 0 ? firstDateFrom(horizon) : "";
  for (const table of ["rollup_hourly", "rollup_hourly_disk"]) {
    prepared(db, `DELETE FROM ${table} WHERE hour >= ?`).run(horizon);
  }
  for (const table of ["rollup_daily", "rollup_daily_disk"]) {
    prepared(db, `DELETE FROM ${table} WHERE date >= ?`).run(firstDate);
  }
  const spans = prepared(db, "SELECT server, MIN(ts), MAX(ts) FROM samples WHERE ts >= ? GROUP BY server")
    .raw()
    .all(horizon) as [string, number, number][];
  let hours = 0;
  for (const [server, min, max] of spans) {
    hours += recomputeHours(db, {
      server,
      from: Math.max(horizon, Math.floor(min / HOUR_MS) * HOUR_MS),
      to: Math.floor(max / HOUR_MS) * HOUR_MS + HOUR_MS,
    });
  }
  const count = prepared(db, "SELECT COUNT(*) FROM uploads WHERE seq <= ?").pluck().get(maxSeq) as number;
  stateSet(db, "upload_seq", maxSeq);
  stateSet(db, "upload_count", count);
  return { uploads: count, hours };
}

/** Recomputes the hour buckets of one server in [from, to) from raw samples; returns how many exist now. */
function recomputeHours(db: Database.Database, range: TouchedRange): number {
  const folder = new HourBucketFolder();
  // A refresh touches a few hours per server: fetching them in one call is
  // cheaper than the per-row iterator. A rebuild spans whole histories and
  // streams them instead.
  const select = prepared(db, SAMPLE_SELECT).raw();
  const rows =
    range.to - range.from <= SMALL_RANGE_MS
      ? select.all(range.server, range.from, range.to)
      : select.iterate(range.server, range.from, range.to);
  for (const raw of rows) folder.add(raw as SampleTuple);
  prepared(db, "DELETE FROM rollup_hourly WHERE server = ? AND hour >= ? AND hour < ?").run(
    range.server,
    range.from,
    range.to,
  );
  prepared(db, "DELETE FROM rollup_hourly_disk WHERE server = ? AND hour >= ? AND hour < ?").run(
    range.server,
    range.from,
    range.to,
  );
  const insertHour = prepared(
    db,
    `INSERT INTO rollup_hourly (server, hour, ${BUCKET_COLUMNS}) VALUES (?, ?, ${BUCKET_PLACEHOLDERS})`,
  );
  const insertDisk = prepared(
    db,
    `INSERT INTO rollup_hourly_disk (server, hour, mount, ${MOUNT_COLUMNS}) VALUES (?, ?, ?, ${MOUNT_PLACEHOLDERS})`,
  );
  for (const [hour, { bucket, mounts }] of folder.hours) {
    insertHour.run(range.server, hour, ...bucketValues(bucket));
    for (const [mount, m] of mounts) insertDisk.run(range.server, hour, mount, ...mountValues(m));
  }
  return folder.hours.size;
}

const BUCKET_PLACEHOLDERS = BUCKET_COLUMNS.split(",")
  .map(() => "?")
  .join(", ");
const MOUNT_PLACEHOLDERS = MOUNT_COLUMNS.split(",")
  .map(() => "?")
  .join(", ");

/** After hours changed: recompute the local days of every registered zone that overlap them. */
function refreshDailyForRanges(db: Database.Database, ranges: TouchedRange[]): void {
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

/** Retention, rollup side: see RollupStore.prune. */
export function pruneRollups(db: Database.Database, cutoffs: RollupPruneCutoffs): RollupPruneResult {
  ensureRollupSchema(db);
  return db
    .transaction((): RollupPruneResult => {
      const rawHorizon = Math.max(stateGet(db, "raw_horizon"), rawHorizonHour(cutoffs.rawBefore));
      stateSet(db, "raw_horizon", rawHorizon);
      const hourlyDeleted = prepared(db, "DELETE FROM rollup_hourly WHERE hour < ?").run(
        cutoffs.hourlyBefore,
      ).changes;
      prepared(db, "DELETE FROM rollup_hourly_disk WHERE hour < ?").run(cutoffs.hourlyBefore);
      return { hourlyDeleted, rawHorizon };
    })
    .immediate();
}

function stateGet(db: Database.Database, key: string): number {
  return (
    (prepared(db, "SELECT value FROM rollup_state WHERE key = ?").pluck().get(key) as number | undefined) ?? 0
  );
}

function stateSet(db: Database.Database, key: string, value: number): void {
  prepared(
    db,
    "INSERT INTO rollup_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
  ).run(key, value);
}

/**
 * The rollup port on one SQLite connection. better-sqlite3 is synchronous:
 * each call runs to completion on the calling thread, so callers that must
 * keep the event loop free (the serve-time refresher) pass small bounds.
 */
export class SqliteRollupStore implements RollupStore {
  constructor(private readonly db: Database.Database) {}

  async registerZone(tz: string): Promise<void> {
    registerRollupZone(this.db, tz);
  }

  async refresh(options?: RollupRefreshOptions): Promise<RollupRefreshResult> {
    return refreshRollups(this.db, options);
  }

  async rebuild(): Promise<RollupRefreshResult> {
    return rebuildRollups(this.db);
  }

  async readDaily(
    tz: string,
    span: DaySpan,
    servers: readonly string[],
  ): Promise<Map<string, DayAggregate[]>> {
    return readDailyRollups(this.db, tz, span, servers);
  }

  async readHourly(server: string, from: number, to: number): Promise<HourAggregate[]> {
    return readHourlyRollups(this.db, server, from, to);
  }

  async readHourlyMany(
    servers: readonly string[],
    from: number,
    to: number,
  ): Promise<Map<string, HourAggregate[]>> {
    // In-process reads cost no round trip: one primary-key seek per server is the fast way here.
    return new Map(servers.map((server) => [server, readHourlyRollups(this.db, server, from, to)]));
  }

  async prune(cutoffs: RollupPruneCutoffs): Promise<RollupPruneResult> {
    return pruneRollups(this.db, cutoffs);
  }
}
