import type pg from "pg";
import type { MetricRow } from "../../../protocol/index.js";
import {
  type DayAggregate,
  type DaySpan,
  HOUR_MS,
  type HourAggregate,
  hourlyRollupsFit,
} from "../../aggregate/rows.js";
import {
  BUCKET_COLUMN_NAMES,
  BUCKET_COLUMNS,
  type FoldedDays,
  finishDays,
  foldDays,
  hourAggregates,
  MOUNT_COLUMN_NAMES,
  MOUNT_COLUMNS,
  missingDayRuns,
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
import { recomputeHoursInSql } from "./hour-buckets-sql.js";
import { type Migration, runPgMigrations } from "./migrate.js";
import {
  bucketColumnsDdl,
  mountColumnsDdl,
  readDailyRows,
  type ServerDays,
  writeDays,
} from "./rollup-rows.js";

/**
 * Hourly and daily rollups on PostgreSQL, for several central instances
 * writing and refreshing at once. The tables and figures are those of
 * SQLite (../sqlite/rollups.ts, encoding in ../rollup-buckets.ts): hour
 * buckets recomputed in JS from the raw samples, days merged from hours.
 *
 * What is new is how a refresh finds its work. SQLite follows uploads.seq,
 * which is only sound when commits happen in seq order; on PostgreSQL
 * sequence values of concurrent transactions commit out of order, and a
 * watermark would step past a seq that commits later and skip it forever.
 * Instead:
 *
 * - rollup_dirty (server, hour): every ingest that inserts rows upserts the
 *   hours it touched, in its own transaction (one multi-row statement), so
 *   the mark commits exactly when the rows do.
 * - A refresh claims dirty rows with FOR UPDATE SKIP LOCKED, takes a
 *   per-server advisory lock (try-lock: a server another refresher holds is
 *   left to it), recomputes those hours and the registered zones' days
 *   around them, deletes the claimed marks and commits. Refreshers on every
 *   instance run at once on disjoint servers.
 * - The ingest's upsert is ON CONFLICT DO UPDATE, which waits for the row
 *   lock of a refresher holding that mark and then, the mark being gone,
 *   inserts it anew: rows committed after the refresher read the samples are
 *   never lost. (DO NOTHING would not wait, and the refresher would delete
 *   the only mark of rows it never saw.)
 * - Days are written only under the server's advisory lock (refresh and the
 *   first-use fill of readDaily), so two writers never merge hours of the
 *   same day from different snapshots.
 */
export const PG_ROLLUP_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "hourly and daily rollups, per mount; dirty (server, hour) marks written by ingest",
    sql: `
      CREATE TABLE rollup_hourly (
        server TEXT NOT NULL, hour BIGINT NOT NULL, ${bucketColumnsDdl()},
        PRIMARY KEY (server, hour)
      );
      CREATE TABLE rollup_hourly_disk (
        server TEXT NOT NULL, hour BIGINT NOT NULL, mount TEXT NOT NULL, ${mountColumnsDdl()},
        PRIMARY KEY (server, hour, mount)
      );
      CREATE TABLE rollup_daily (
        tz TEXT NOT NULL, server TEXT NOT NULL, date TEXT COLLATE "C" NOT NULL, ${bucketColumnsDdl()},
        PRIMARY KEY (tz, server, date)
      );
      CREATE TABLE rollup_daily_disk (
        tz TEXT NOT NULL, server TEXT NOT NULL, date TEXT COLLATE "C" NOT NULL, mount TEXT NOT NULL,
        ${mountColumnsDdl()},
        PRIMARY KEY (tz, server, date, mount)
      );
      CREATE TABLE rollup_zones (tz TEXT PRIMARY KEY);
      CREATE TABLE rollup_dirty (
        server TEXT NOT NULL, hour BIGINT NOT NULL, marks BIGINT NOT NULL DEFAULT 1,
        PRIMARY KEY (server, hour)
      );
      -- Samples stored before this migration: every hour of every server is to be computed.
      INSERT INTO rollup_dirty (server, hour)
        SELECT server, generate_series(first_seen - first_seen % ${HOUR_MS}, last_seen - last_seen % ${HOUR_MS}, ${HOUR_MS})
        FROM server_stats;
    `,
  },
  {
    version: 2,
    description: "rollup_state: the raw retention horizon (hours before it are never recomputed)",
    sql: "CREATE TABLE rollup_state (key TEXT PRIMARY KEY, value BIGINT NOT NULL);",
  },
];

/** Tables emptied with the samples (clearIngestedData); registered zones stay. */
export const PG_ROLLUP_DATA_TABLES =
  "rollup_hourly, rollup_hourly_disk, rollup_daily, rollup_daily_disk, rollup_dirty";

/** Namespace (first key) of the per-server advisory locks; the second key is a hash bucket of the server. */
const LOCK_NAMESPACE = 0x726f6c6c; // "roll"
/** Servers share this many locks: a bounded number of lock-table entries per transaction, whatever the fleet. */
const LOCK_BUCKETS = 256;
const LOCK_KEY_SQL = `hashtext(s) & ${LOCK_BUCKETS - 1}`;

/** Dirty hours claimed per transaction when the caller sets no bound. */
const DEFAULT_BATCH_HOURS = 1000;

/**
 * Marks the hours of `rows` dirty, inside the ingest transaction of
 * `client`: one multi-row upsert. Hours are sorted so that transactions
 * marking overlapping hours lock them in the same order.
 */
export async function markDirtyHours(
  client: pg.ClientBase,
  server: string,
  rows: readonly MetricRow[],
): Promise<void> {
  if (rows.length === 0) return;
  const hours = new Set<number>();
  for (const r of rows) hours.add(r.timestamp - (((r.timestamp % HOUR_MS) + HOUR_MS) % HOUR_MS));
  await client.query(
    `INSERT INTO rollup_dirty (server, hour) SELECT $1, h FROM unnest($2::int8[]) AS h
     ON CONFLICT (server, hour) DO UPDATE SET marks = rollup_dirty.marks + 1`,
    [server, [...hours].sort((a, b) => a - b)],
  );
}

export class PgRollupStore implements RollupStore {
  constructor(private readonly pool: pg.Pool) {}

  async init(): Promise<void> {
    await runPgMigrations(this.pool, "rollups", PG_ROLLUP_MIGRATIONS);
  }

  async registerZone(tz: string): Promise<void> {
    await this.pool.query("INSERT INTO rollup_zones (tz) VALUES ($1) ON CONFLICT DO NOTHING", [tz]);
  }

  async refresh(options: RollupRefreshOptions = {}): Promise<RollupRefreshResult> {
    const batchHours = options.batchHours ?? DEFAULT_BATCH_HOURS;
    const maxBatches = options.maxBatches ?? Number.POSITIVE_INFINITY;
    const total: RollupRefreshResult = { uploads: 0, hours: 0, rebuilt: false, more: false };
    for (let round = 0; round < maxBatches; round++) {
      const step = await this.transaction((client) => refreshBatch(client, batchHours));
      total.hours += step.hours;
      total.more = step.more;
      if (!step.more) break;
    }
    return total;
  }

  async rebuild(): Promise<RollupRefreshResult> {
    await this.transaction(async (client) => {
      const horizon = await dropFromHorizon(client);
      // Every hour with samples after the horizon is dirty again.
      await client.query(
        `INSERT INTO rollup_dirty (server, hour)
         SELECT server, generate_series(GREATEST(first_seen - first_seen % ${HOUR_MS}, $1), last_seen - last_seen % ${HOUR_MS}, ${HOUR_MS})
         FROM server_stats
         ON CONFLICT DO NOTHING`,
        [horizon],
      );
    });
    return { ...(await this.refresh()), rebuilt: true };
  }

  /** With the samples (clearIngestedData): every rollup the samples could give again, i.e. after the horizon. */
  async clear(): Promise<void> {
    await this.transaction(async (client) => {
      await dropFromHorizon(client);
    });
  }

  async prune(cutoffs: RollupPruneCutoffs): Promise<RollupPruneResult> {
    return this.transaction(async (client) => {
      const horizon = (
        await client.query<{ value: number }>(
          `INSERT INTO rollup_state (key, value) VALUES ('raw_horizon', $1)
           ON CONFLICT (key) DO UPDATE SET value = GREATEST(rollup_state.value, excluded.value)
           RETURNING value`,
          [rawHorizonHour(cutoffs.rawBefore)],
        )
      ).rows[0]!.value;
      const deleted = await client.query("DELETE FROM rollup_hourly WHERE hour < $1", [cutoffs.hourlyBefore]);
      await client.query("DELETE FROM rollup_hourly_disk WHERE hour < $1", [cutoffs.hourlyBefore]);
      return { hourlyDeleted: deleted.rowCount ?? 0, rawHorizon: horizon };
    });
  }

  async readDaily(
    tz: string,
    span: DaySpan,
    servers: readonly string[],
  ): Promise<Map<string, DayAggregate[]>> {
    if (!hourlyRollupsFit(span)) throw new Error(`readDaily: days in ${tz} do not start on whole UTC hours`);
    const out = new Map<string, DayAggregate[]>();
    if (servers.length === 0) return out;
    const { complete, missing } = await readDailyRows(this.pool, tz, span, servers);
    for (const [server, days] of complete) out.set(server, days);
    if (missing.length > 0) {
      // First use of this zone or these days: register the zone (refreshers keep it current from
      // their next batch on), then compute the missing days from the hours under the servers' locks.
      await this.registerZone(tz);
      const filled = await this.transaction(async (client) => {
        await lockServers(
          client,
          missing.map((m) => m.server),
        );
        return computeDays(client, tz, missing);
      });
      for (const m of missing) {
        const days = filled.get(m.server)!;
        out.set(
          m.server,
          span.dates.map((_, i) => m.days[i] ?? days.shift()!),
        );
      }
    }
    return out;
  }

  async readHourly(server: string, from: number, to: number): Promise<HourAggregate[]> {
    const [hours, disks] = await Promise.all([
      this.pool.query({
        text: `SELECT hour, ${BUCKET_COLUMNS} FROM rollup_hourly WHERE server = $1 AND hour >= $2 AND hour < $3 ORDER BY hour`,
        values: [server, from, to],
        rowMode: "array",
      }),
      this.pool.query({
        text: `SELECT hour, mount, ${MOUNT_COLUMNS} FROM rollup_hourly_disk WHERE server = $1 AND hour >= $2 AND hour < $3`,
        values: [server, from, to],
        rowMode: "array",
      }),
    ]);
    return hourAggregates(hours.rows as unknown[][], disks.rows as unknown[][]);
  }

  private async transaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query("BEGIN");
      const result = await fn(client);
      await client.query("COMMIT");
      return result;
    } catch (err) {
      await client.query("ROLLBACK").catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }
}

/** Blocking per-server locks (readDaily's fill), taken in key order so two fills never deadlock. */
async function lockServers(client: pg.ClientBase, servers: readonly string[]): Promise<void> {
  const keys = (
    await client.query<{ k: number }>(`SELECT DISTINCT ${LOCK_KEY_SQL} AS k FROM unnest($1::text[]) AS s`, [
      servers,
    ])
  ).rows
    .map((r) => r.k)
    .sort((a, b) => a - b);
  await client.query(`SELECT pg_advisory_xact_lock(${LOCK_NAMESPACE}, k) FROM unnest($1::int4[]) AS k`, [
    keys,
  ]);
}

/** One refresh transaction: claim, recompute hours and days, drop the claimed marks. */
async function refreshBatch(
  client: pg.ClientBase,
  batchHours: number,
): Promise<{ hours: number; more: boolean }> {
  const claimed = (
    await client.query<{ server: string; hour: number }>(
      `SELECT server, hour FROM rollup_dirty ORDER BY server, hour LIMIT $1 FOR UPDATE SKIP LOCKED`,
      [batchHours],
    )
  ).rows;
  if (claimed.length === 0) return { hours: 0, more: false };
  // Servers another refresher is working on are left to it (their marks stay, unlocked after our commit).
  const servers = [...new Set(claimed.map((c) => c.server))];
  const mine = new Set(
    (
      await client.query<{ s: string }>(
        `SELECT s FROM unnest($1::text[]) AS s WHERE pg_try_advisory_xact_lock(${LOCK_NAMESPACE}, ${LOCK_KEY_SQL})`,
        [servers],
      )
    ).rows.map((r) => r.s),
  );
  // Marks before the raw retention horizon are dropped unseen: their raw rows are pruned.
  const horizon = await rawHorizon(client);
  const expired = claimed.filter((c) => mine.has(c.server) && c.hour < horizon);
  const work = claimed.filter((c) => mine.has(c.server) && c.hour >= horizon);
  if (expired.length > 0) await deleteMarks(client, expired);
  if (work.length === 0) return { hours: 0, more: claimed.length === batchHours || expired.length > 0 };
  const hoursByServer = new Map<string, number[]>();
  for (const c of work) {
    let list = hoursByServer.get(c.server);
    if (list === undefined) {
      list = [];
      hoursByServer.set(c.server, list);
    }
    list.push(c.hour);
  }
  const ranges = hourRanges(hoursByServer);
  // The hour aggregation sorts a batch's samples (up to ~100,000 rows): in memory, not in temp files.
  await client.query("SET LOCAL work_mem = '64MB'");
  await recomputeHoursInSql(client, work, ranges);
  const zones = (await client.query<{ tz: string }>("SELECT tz FROM rollup_zones")).rows.map((r) => r.tz);
  for (const tz of zones) {
    const wanted = daysAround(tz, ranges);
    if (wanted.length > 0) await computeDays(client, tz, wanted);
  }
  await deleteMarks(client, work);
  return { hours: work.length, more: true };
}

async function deleteMarks(
  client: pg.ClientBase,
  marks: readonly { server: string; hour: number }[],
): Promise<void> {
  await client.query(
    `DELETE FROM rollup_dirty d USING unnest($1::text[], $2::int8[]) AS c(server, hour)
     WHERE d.server = c.server AND d.hour = c.hour`,
    [marks.map((c) => c.server), marks.map((c) => c.hour)],
  );
}

/**
 * Drops the rollups from the raw retention horizon on, and every dirty mark;
 * returns the horizon. Before it the kept buckets are all there is (their raw
 * rows are pruned), so they stay.
 */
async function dropFromHorizon(client: pg.ClientBase): Promise<number> {
  const horizon = await rawHorizon(client);
  if (horizon === 0) {
    // TRUNCATE waits for refreshers in progress (and is far cheaper than DELETE on big tables).
    await client.query(`TRUNCATE ${PG_ROLLUP_DATA_TABLES}`);
    return 0;
  }
  for (const table of ["rollup_hourly", "rollup_hourly_disk"]) {
    await client.query(`DELETE FROM ${table} WHERE hour >= $1`, [horizon]);
  }
  for (const table of ["rollup_daily", "rollup_daily_disk"]) {
    await client.query(`DELETE FROM ${table} WHERE date >= $1`, [firstDateFrom(horizon)]);
  }
  await client.query("DELETE FROM rollup_dirty");
  return horizon;
}

/** The raw retention horizon recorded by prune (0: none). */
async function rawHorizon(client: pg.ClientBase): Promise<number> {
  const r = await client.query<{ value: number }>("SELECT value FROM rollup_state WHERE key = 'raw_horizon'");
  return r.rows[0]?.value ?? 0;
}

/**
 * Per server, the local days of `tz` that the ranges touch, each day once
 * (two ranges of one server may fall on the same day). Zones whose days do
 * not start on whole UTC hours are not kept (the report reads raw rows there).
 */
function daysAround(tz: string, ranges: readonly TouchedRange[]): ServerDays[] {
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

/** Runs of consecutive hours per server, as [from, to) ranges. */
function hourRanges(hoursByServer: Map<string, number[]>): TouchedRange[] {
  const ranges: TouchedRange[] = [];
  for (const [server, hours] of hoursByServer) {
    hours.sort((a, b) => a - b);
    let from = hours[0]!;
    let to = from + HOUR_MS;
    for (const h of hours.slice(1)) {
      if (h === to) to += HOUR_MS;
      else {
        ranges.push({ server, from, to });
        from = h;
        to = h + HOUR_MS;
      }
    }
    ranges.push({ server, from, to });
  }
  return ranges;
}

/**
 * Computes the days not given in each `wanted[i].days` (null) from the hour
 * buckets, stores them, and returns them per server in date order. The
 * caller holds the servers' locks.
 */
async function computeDays(
  client: pg.ClientBase,
  tz: string,
  wanted: readonly ServerDays[],
): Promise<Map<string, DayAggregate[]>> {
  // Per server, the runs of consecutive missing days: each is a sub-span folded on its own.
  const runs = wanted.flatMap((w) =>
    missingDayRuns(w.span, (i) => w.days[i] === null).map((run) => ({ server: w.server, span: run.span })),
  );
  const params = [
    runs.map((r) => r.server),
    runs.map((r) => r.span.dayStarts[0]!),
    runs.map((r) => r.span.dayStarts[r.span.dayStarts.length - 1]!),
  ];
  // WITH ORDINALITY keeps each run's rows together and in hour order, whatever the servers.
  const [hours, disks] = await Promise.all([
    client.query({
      text: `SELECT r.n, h.hour, ${BUCKET_COLUMN_NAMES.map((c) => `h.${c}`).join(", ")}
        FROM unnest($1::text[], $2::int8[], $3::int8[]) WITH ORDINALITY AS r(server, f, t, n)
        JOIN rollup_hourly h ON h.server = r.server AND h.hour >= r.f AND h.hour < r.t
        ORDER BY r.n, h.hour`,
      values: params,
      rowMode: "array",
    }),
    client.query({
      text: `SELECT r.n, d.hour, d.mount, ${MOUNT_COLUMN_NAMES.map((c) => `d.${c}`).join(", ")}
        FROM unnest($1::text[], $2::int8[], $3::int8[]) WITH ORDINALITY AS r(server, f, t, n)
        JOIN rollup_hourly_disk d ON d.server = r.server AND d.hour >= r.f AND d.hour < r.t
        ORDER BY r.n`,
      values: params,
      rowMode: "array",
    }),
  ]);
  const hoursByRun = groupByRun(hours.rows as unknown[][], runs.length);
  const disksByRun = groupByRun(disks.rows as unknown[][], runs.length);
  const folded: { server: string; span: DaySpan; days: FoldedDays }[] = runs.map((r, i) => ({
    ...r,
    days: foldDays(r.span, hoursByRun[i]!, disksByRun[i]!, {
      hourIndex: 1,
      bucketOffset: 2,
      diskHourIndex: 1,
      mountIndex: 2,
    }),
  }));
  await writeDays(client, tz, folded);
  const out = new Map<string, DayAggregate[]>();
  for (const f of folded) {
    let list = out.get(f.server);
    if (list === undefined) {
      list = [];
      out.set(f.server, list);
    }
    list.push(...finishDays(f.span, f.days));
  }
  return out;
}

/** Rows whose first column is a 1-based run number, split per run. */
function groupByRun(rows: readonly unknown[][], runs: number): unknown[][][] {
  const out: unknown[][][] = Array.from({ length: runs }, () => []);
  for (const row of rows) out[Number(row[0]) - 1]!.push(row);
  return out;
}
