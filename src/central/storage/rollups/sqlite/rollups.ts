import type Database from "better-sqlite3";
import {
  type Bucket,
  type DayAggregate,
  type DaySpan,
  HOUR_MS,
  type HourAggregate,
  type MountLast,
} from "../../../aggregate/rows.js";
import { prepared } from "../../sqlite/prepared.js";
import {
  BUCKET_COLUMNS,
  type BucketTuple,
  bucketFromTuple,
  bucketValues,
  HourBucketFolder,
  MOUNT_COLUMNS,
  type MountTuple,
  mergeRanges,
  mountFromTuple,
  mountValues,
  SAMPLE_FOLD_COLUMNS,
  type SampleTuple,
  type TouchedRange,
} from "../buckets.js";
import {
  firstDateFrom,
  foldFrom,
  lateFoldFloor,
  type RollupHorizons,
  type RollupPruneCutoffs,
  type RollupPruneResult,
  type RollupRefreshOptions,
  type RollupRefreshResult,
  type RollupStore,
  rawHorizonHour,
  sealStepMs,
} from "../port.js";
import { foldSealedHour, hourRuns, type StoredHour } from "../sealed-hours.js";
import { SeenSet } from "../seen-set.js";
import { readDailyRollups, readHourlyRollups, refreshDailyForRanges } from "./days.js";
import {
  BUCKET_PLACEHOLDERS,
  ensureRollupSchema,
  MOUNT_PLACEHOLDERS,
  registerRollupZone,
  stateGet,
  stateSet,
} from "./schema.js";

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
 * - rollup_state: the watermark (highest uploads.seq already folded in) and
 *   the horizons retention recorded (raw_horizon, hourly_horizon).
 * - rollup_hour_seen: per sealed hour (before raw_horizon), the timestamps
 *   its bucket counted (../seen-set.ts, ../sealed-hours.ts).
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
 * in any order) the buckets equal a fresh computation. Hours before the raw
 * horizon are sealed (their raw rows pruned): there a refresh folds only the
 * rows whose timestamps the hour's seen set does not list, each sample once.
 *
 * Tables and migrations: ./schema.ts; daily folds and reads: ./days.ts.
 */

type RefreshResult = RollupRefreshResult;

/** Ranges up to this long are read with one all() call in recomputeHours. */
const SMALL_RANGE_MS = 2 * 86_400_000;

const SAMPLE_SELECT = `SELECT ${SAMPLE_FOLD_COLUMNS} FROM samples WHERE server = ? AND ts >= ? AND ts < ? ORDER BY ts, mount`;

/** Uploads folded in per transaction, so a large catch-up does not hold the write lock for long. */
const REFRESH_BATCH_UPLOADS = 500;
/** Uploads folded in per "serving" step (about 5-10 ms of work on a busy fleet)… */
const SERVING_BATCH_UPLOADS = 50;
/** …and at most this many of their rows (one backlog file can hold 10,000). */
const SERVING_BATCH_ROWS = 5_000;

/** SQLite's bounds of one refresh: what RollupRefreshOptions translate to here. */
export interface SqliteRefreshLimits {
  /** Stop after this many transactions. Default: until done. */
  maxBatches?: number;
  /** Uploads folded in per transaction. */
  batchUploads?: number;
  /** Rows of those uploads per transaction (at least one upload goes in each). Default: no limit. */
  batchRows?: number;
}

/** The port's neutral bounds in SQLite's units: uploads, and rows of them. */
export function sqliteRefreshLimits(options: RollupRefreshOptions = {}): SqliteRefreshLimits {
  const size = options.batchSize;
  return {
    ...(options.maxBatches !== undefined ? { maxBatches: options.maxBatches } : {}),
    ...(size === "serving"
      ? { batchUploads: SERVING_BATCH_UPLOADS, batchRows: SERVING_BATCH_ROWS }
      : size !== undefined
        ? { batchUploads: Math.max(1, Math.floor(size)) }
        : {}),
  };
}

/**
 * Server-hours sealed per transaction when the raw horizon moves by more
 * than an hour (sealStepMs): about a second of holding the write lock;
 * uploads get it between steps.
 */
const SEAL_STEP_SERVER_HOURS = 5_000;

/**
 * Folds every upload newer than the watermark into the rollups. Cheap when
 * nothing changed (two indexed queries). Call it after ingest (the serve
 * process) and before a report (the report build does). Safe to run from
 * several processes: each batch is one IMMEDIATE transaction that also moves
 * the watermark, so every committed state equals "all uploads up to seq X".
 */
export function refreshRollups(db: Database.Database, opts: SqliteRefreshLimits = {}): RefreshResult {
  ensureRollupSchema(db);
  const batchUploads = opts.batchUploads ?? REFRESH_BATCH_UPLOADS;
  const batchRows = opts.batchRows ?? Number.POSITIVE_INFINITY;
  const total: RefreshResult = { uploads: 0, hours: 0, rebuilt: false, more: false };
  const batch = db.transaction((): boolean => refreshBatch(db, batchUploads, batchRows, total));
  // Bounded: each round consumes up to batchUploads uploads that existed when it ran.
  const maxBatches = opts.maxBatches ?? 1_000_000;
  for (let round = 0; round < maxBatches; round++) {
    total.more = batch.immediate();
    if (!total.more) break;
  }
  return total;
}

/**
 * One refresh batch, inside the caller's write transaction: folds up to
 * `batchUploads` uploads past the watermark (and `batchRows` of their rows)
 * and moves the watermark. True when more uploads wait.
 */
function refreshBatch(
  db: Database.Database,
  batchUploads: number,
  batchRows: number,
  total: RefreshResult,
): boolean {
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
  for (let rows = 0; take < fetched.length && (take === 0 || rows + fetched[take]![4] <= batchRows); take++) {
    rows += fetched[take]![4];
  }
  const uploads = fetched.slice(0, take);
  // Hours before the fold floor are never folded: the days around them lack hour buckets.
  const floor = foldFrom(sqliteHorizons(db));
  const ranges = mergeRanges(
    uploads
      .filter((u) => u[2] !== null && u[3] !== null)
      .map(([, server, tsMin, tsMax]) => ({
        server,
        from: Math.max(floor, Math.floor(tsMin! / HOUR_MS) * HOUR_MS),
        to: Math.floor(tsMax! / HOUR_MS) * HOUR_MS + HOUR_MS,
      }))
      .filter((r) => r.from < r.to),
  );
  total.hours += foldRanges(db, ranges, stateGet(db, "raw_horizon"));
  const lastSeq = uploads[uploads.length - 1]![0];
  stateSet(db, "upload_seq", lastSeq);
  stateSet(db, "upload_count", seenCount + uploads.length);
  total.uploads += uploads.length;
  return fetched.length === batchUploads || take < fetched.length;
}

/**
 * Folds the hours of `ranges`: from the raw rows from the raw horizon on,
 * the sealed way before it (../sealed-hours.ts); then recomputes the days
 * around every hour that changed. Returns the hours written.
 */
function foldRanges(db: Database.Database, ranges: readonly TouchedRange[], rawHorizon: number): number {
  let hours = 0;
  const changed: TouchedRange[] = [];
  for (const r of ranges) {
    if (r.to > rawHorizon) {
      const live = { server: r.server, from: Math.max(r.from, rawHorizon), to: r.to };
      hours += recomputeHours(db, live);
      changed.push(live);
    }
    if (r.from < rawHorizon) {
      const sealed = foldSealedRange(db, { server: r.server, from: r.from, to: Math.min(r.to, rawHorizon) });
      hours += sealed.length;
      changed.push(...sealed);
    }
  }
  refreshDailyForRanges(db, mergeRanges(changed));
  return hours;
}

/**
 * Folds every upload past the watermark, inside the caller's write
 * transaction. Raw retention calls it before each DELETE batch, in the same
 * transaction: a late row stored just before must be in its sealed hour's
 * bucket and seen set before it is deleted.
 */
export function foldPendingUploads(db: Database.Database): void {
  const scratch: RefreshResult = { uploads: 0, hours: 0, rebuilt: false, more: false };
  while (refreshBatch(db, REFRESH_BATCH_UPLOADS, Number.POSITIVE_INFINITY, scratch));
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
  // Past the raw retention horizon the kept buckets are all there is: only the hours after it are
  // redone. Rows stored again before it are late rows there, folded the sealed way (counted once).
  const horizon = stateGet(db, "raw_horizon");
  const floor = foldFrom(sqliteHorizons(db));
  const firstDate = horizon > 0 ? firstDateFrom(horizon) : "";
  for (const table of ["rollup_hourly", "rollup_hourly_disk"]) {
    prepared(db, `DELETE FROM ${table} WHERE hour >= ?`).run(horizon);
  }
  for (const table of ["rollup_daily", "rollup_daily_disk"]) {
    prepared(db, `DELETE FROM ${table} WHERE date >= ?`).run(firstDate);
  }
  const spans = prepared(db, "SELECT server, MIN(ts), MAX(ts) FROM samples WHERE ts >= ? GROUP BY server")
    .raw()
    .all(floor) as [string, number, number][];
  let hours = 0;
  const sealed: TouchedRange[] = [];
  for (const [server, min, max] of spans) {
    const from = Math.floor(min / HOUR_MS) * HOUR_MS;
    const to = Math.floor(max / HOUR_MS) * HOUR_MS + HOUR_MS;
    if (to > horizon) hours += recomputeHours(db, { server, from: Math.max(horizon, from), to });
    if (from < horizon) sealed.push(...foldSealedRange(db, { server, from, to: Math.min(to, horizon) }));
  }
  // Days from the horizon on were dropped (a read fills them); the sealed ones that changed are redone.
  refreshDailyForRanges(db, mergeRanges(sealed));
  hours += sealed.length;
  const count = prepared(db, "SELECT COUNT(*) FROM uploads WHERE seq <= ?").pluck().get(maxSeq) as number;
  stateSet(db, "upload_seq", maxSeq);
  stateSet(db, "upload_count", count);
  return { uploads: count, hours };
}

/** The horizons retention recorded (0: none). */
function sqliteHorizons(db: Database.Database): RollupHorizons {
  return { raw: stateGet(db, "raw_horizon"), hourly: stateGet(db, "hourly_horizon") };
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
  deleteHours(db, range.server, range.from, range.to);
  for (const [hour, { bucket, mounts }] of folder.hours) insertHour(db, range.server, hour, bucket, mounts);
  return folder.hours.size;
}

/**
 * Folds the rows of one server's sealed hours in [from, to) into their
 * buckets, each row once (../sealed-hours.ts), a day of rows at a time.
 * Returns the hours that changed, one range each.
 */
function foldSealedRange(db: Database.Database, range: TouchedRange): TouchedRange[] {
  const changed: TouchedRange[] = [];
  const select = prepared(db, SAMPLE_SELECT).raw();
  for (let from = range.from; from < range.to; from += SMALL_RANGE_MS / 2) {
    const to = Math.min(range.to, from + SMALL_RANGE_MS / 2);
    const rows = select.all(range.server, from, to) as SampleTuple[];
    for (const [hour, run] of hourRuns(rows)) {
      const folded = foldSealedHour(hour, run, storedHour(db, range.server, hour));
      if (folded === null) continue;
      deleteHours(db, range.server, hour, hour + HOUR_MS);
      insertHour(db, range.server, hour, folded.bucket, folded.mounts);
      prepared(db, "INSERT OR REPLACE INTO rollup_hour_seen (server, hour, seen) VALUES (?, ?, ?)").run(
        range.server,
        hour,
        Buffer.from(folded.seen.encode()),
      );
      changed.push({ server: range.server, from: hour, to: hour + HOUR_MS });
    }
  }
  return changed;
}

/** The bucket, mounts and seen set stored for one (server, hour), or null when there is neither bucket nor seen set. */
function storedHour(db: Database.Database, server: string, hour: number): StoredHour | null {
  const bucket = prepared(db, `SELECT ${BUCKET_COLUMNS} FROM rollup_hourly WHERE server = ? AND hour = ?`)
    .raw()
    .get(server, hour) as BucketTuple | undefined;
  const seen = prepared(db, "SELECT seen FROM rollup_hour_seen WHERE server = ? AND hour = ?")
    .pluck()
    .get(server, hour) as Buffer | undefined;
  if (bucket === undefined && seen === undefined) return null;
  const mounts = new Map<string, MountLast>();
  if (bucket !== undefined) {
    const rows = prepared(
      db,
      `SELECT mount, ${MOUNT_COLUMNS} FROM rollup_hourly_disk WHERE server = ? AND hour = ?`,
    )
      .raw()
      .all(server, hour) as [string, ...MountTuple][];
    for (const r of rows) mounts.set(r[0], mountFromTuple(r, 1));
  }
  return {
    bucket: bucket === undefined ? null : bucketFromTuple(bucket, 0),
    mounts,
    seen: seen === undefined ? null : SeenSet.decode(seen),
  };
}

function deleteHours(db: Database.Database, server: string, from: number, to: number): void {
  prepared(db, "DELETE FROM rollup_hourly WHERE server = ? AND hour >= ? AND hour < ?").run(server, from, to);
  prepared(db, "DELETE FROM rollup_hourly_disk WHERE server = ? AND hour >= ? AND hour < ?").run(
    server,
    from,
    to,
  );
}

function insertHour(
  db: Database.Database,
  server: string,
  hour: number,
  bucket: Bucket,
  mounts: ReadonlyMap<string, MountLast>,
): void {
  prepared(
    db,
    `INSERT INTO rollup_hourly (server, hour, ${BUCKET_COLUMNS}) VALUES (?, ?, ${BUCKET_PLACEHOLDERS})`,
  ).run(server, hour, ...bucketValues(bucket));
  const insertDisk = prepared(
    db,
    `INSERT INTO rollup_hourly_disk (server, hour, mount, ${MOUNT_COLUMNS}) VALUES (?, ?, ?, ${MOUNT_PLACEHOLDERS})`,
  );
  for (const [mount, m] of mounts) insertDisk.run(server, hour, mount, ...mountValues(m));
}

/**
 * The seen sets of every hour of every server in [from, to), from the raw
 * rows, in one statement (an index seek per server). Returns how many.
 */
const SEAL_HOURS = `
  INSERT OR REPLACE INTO rollup_hour_seen (server, hour, seen)
  SELECT s.server, s.ts - s.ts % ${HOUR_MS}, srvutil_seen(s.ts % ${HOUR_MS})
  FROM server_stats st CROSS JOIN samples s
  WHERE s.server = st.server AND s.ts >= ? AND s.ts < ?
  GROUP BY s.server, s.ts - s.ts % ${HOUR_MS}`;

/** The first hour at or after `from` with a sample of any server (an index seek per server), or null. */
const NEXT_SAMPLE = `
  SELECT MIN((SELECT MIN(s.ts) FROM samples s WHERE s.server = st.server AND s.ts >= ?)) FROM server_stats st`;

/** Retention, rollup side: see RollupStore.prune. */
export async function pruneRollups(
  db: Database.Database,
  cutoffs: RollupPruneCutoffs,
): Promise<RollupPruneResult> {
  ensureRollupSchema(db);
  const { hourlyDeleted, hourlyHorizon } = db
    .transaction(() => {
      const newest = prepared(db, "SELECT MAX(hour) FROM rollup_hourly WHERE hour < ?")
        .pluck()
        .get(cutoffs.hourlyBefore) as number | null;
      const hourlyHorizon = Math.max(stateGet(db, "hourly_horizon"), newest === null ? 0 : newest + HOUR_MS);
      stateSet(db, "hourly_horizon", hourlyHorizon);
      const hourlyDeleted = prepared(db, "DELETE FROM rollup_hourly WHERE hour < ?").run(
        cutoffs.hourlyBefore,
      ).changes;
      prepared(db, "DELETE FROM rollup_hourly_disk WHERE hour < ?").run(cutoffs.hourlyBefore);
      prepared(db, "DELETE FROM rollup_hour_seen WHERE hour < ?").run(cutoffs.hourlyBefore);
      return { hourlyDeleted, hourlyHorizon };
    })
    .immediate();
  const target = rawHorizonHour(cutoffs.rawBefore);
  let hoursSealed = 0;
  const sealStep = db.transaction((): number | null => {
    const horizon = stateGet(db, "raw_horizon");
    if (horizon >= target) return null;
    // What is pending is folded first: a seen set must list exactly what its bucket holds.
    foldPendingUploads(db);
    // Hours before the fold floor are never folded again: they need no seen set.
    const start = Math.max(horizon, lateFoldFloor(hourlyHorizon));
    const next = prepared(db, NEXT_SAMPLE).pluck().get(start) as number | null;
    const from = next === null ? target : Math.max(start, next - (next % HOUR_MS));
    const servers = prepared(db, "SELECT count(*) FROM server_stats").pluck().get() as number;
    const to = Math.min(target, from + sealStepMs(servers, SEAL_STEP_SERVER_HOURS));
    const sealed = from < to ? prepared(db, SEAL_HOURS).run(from, to).changes : 0;
    stateSet(db, "raw_horizon", Math.max(horizon, to));
    return sealed;
  });
  for (;;) {
    const sealed = sealStep.immediate();
    if (sealed === null) break;
    hoursSealed += sealed;
    // Uploads committed by the same process get the write lock between steps.
    await new Promise((resolve) => setImmediate(resolve));
  }
  return { hourlyDeleted, rawHorizon: stateGet(db, "raw_horizon"), hourlyHorizon, hoursSealed };
}

/**
 * The rollup port on one SQLite connection. better-sqlite3 is synchronous:
 * each call runs to completion on the calling thread, so callers that must
 * keep the event loop free (the serve-time refresher) pass small bounds.
 */
export class SqliteRollupStore implements RollupStore {
  constructor(private readonly db: Database.Database) {}

  async horizons(): Promise<RollupHorizons> {
    ensureRollupSchema(this.db);
    return sqliteHorizons(this.db);
  }

  async registerZone(tz: string): Promise<void> {
    registerRollupZone(this.db, tz);
  }

  async refresh(options?: RollupRefreshOptions): Promise<RollupRefreshResult> {
    return refreshRollups(this.db, sqliteRefreshLimits(options));
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

  prune(cutoffs: RollupPruneCutoffs): Promise<RollupPruneResult> {
    return pruneRollups(this.db, cutoffs);
  }
}
