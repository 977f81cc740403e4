import type pg from "pg";
import {
  type DayAggregate,
  type DaySpan,
  HOUR_MS,
  type HourAggregate,
  hourlyRollupsFit,
} from "../../../aggregate/rows.js";
import { type Migration, runPgMigrations } from "../../postgres/migrate.js";
import { inTransaction } from "../../postgres/transaction.js";
import { BUCKET_COLUMNS, hourAggregates, MOUNT_COLUMNS, type TouchedRange } from "../buckets.js";
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
import { replaceDaysInSql } from "./day-fold-sql.js";
import { recomputeHoursInSql } from "./hour-buckets-sql.js";
import {
  bucketColumnsDdl,
  computeDays,
  daysAround,
  mountColumnsDdl,
  readDailyRows,
  serversIn,
} from "./rows.js";
import {
  deleteMarks,
  foldSealedHours,
  type HourKey,
  keyRanges,
  SEEN_SETS_MIGRATION,
  sealHours,
} from "./sealed-hours.js";

/**
 * Hourly and daily rollups on PostgreSQL, for several central instances
 * writing and refreshing at once. The tables and figures are those of
 * SQLite (../sqlite/schema.ts, encoding in ../buckets.ts): hour
 * buckets recomputed from the raw samples (here by SQL that mirrors
 * aggregate/rows.ts, ./hour-buckets-sql.ts), days merged from hours by SQL
 * that mirrors mergeBucket (./day-fold-sql.ts, called from ./rows.ts).
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
 * - The ingest's upsert is ON CONFLICT DO UPDATE … WHERE false: it locks an
 *   existing mark without writing a new row version (no churn on hot
 *   hours), so it waits for a refresher holding that mark and then, the mark
 *   being gone, inserts it anew: rows committed after the refresher read the
 *   samples are never lost. (DO NOTHING takes no lock and would not wait,
 *   and the refresher would delete the only mark of rows it never saw.)
 * - Days are written only under the server's advisory lock (refresh and the
 *   first-use fill of readDaily), so two writers never merge hours of the
 *   same day from different snapshots.
 * - Hours before the raw horizon are sealed: prune writes their seen sets
 *   holding every server lock, and a refresh folds their late rows under the
 *   same claims and locks as any hour (./sealed-hours.ts).
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
        server TEXT NOT NULL, hour BIGINT NOT NULL,
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
  {
    version: 3,
    description: "seen sets: the timestamps counted in each sealed hour bucket, so late samples count once",
    // Buckets sealed before this migration get none: their first-to-last range stands in (../seen-set.ts).
    sql: SEEN_SETS_MIGRATION,
  },
];

/** Tables emptied with the samples (clearIngestedData); registered zones stay. */
export const PG_ROLLUP_DATA_TABLES =
  "rollup_hourly, rollup_hourly_disk, rollup_daily, rollup_daily_disk, rollup_dirty, rollup_hour_seen";

/** Namespace (first key) of the per-server advisory locks; the second key is a hash bucket of the server. */
const LOCK_NAMESPACE = 0x726f6c6c; // "roll"
/** Servers share this many locks: a bounded number of lock-table entries per transaction, whatever the fleet. */
const LOCK_BUCKETS = 256;
/** The lock key of the server named by the SQL expression `server`. */
const lockKeySql = (server: string): string => `hashtext(${server}) & ${LOCK_BUCKETS - 1}`;
/** A refresher's per-server lock is pg_advisory_xact_lock(namespace, keySql(server)); for tests that stand in for one. */
export const ROLLUP_SERVER_LOCK = { namespace: LOCK_NAMESPACE, keySql: lockKeySql };

/**
 * Server-hours sealed per transaction when the raw horizon moves by more
 * than an hour (sealStepMs): a few seconds of holding every server lock
 * (refreshers wait; uploads do not, except those into the hours being
 * sealed that still have rows to fold, until the step commits).
 */
const SEAL_STEP_SERVER_HOURS = 20_000;

/** Dirty hours claimed per transaction when the caller sets no bound. */
const DEFAULT_BATCH_HOURS = 1000;
/**
 * Dirty (server, hour) buckets per "serving" step. The SQL runs off the
 * event loop; what stays on it is parsing and folding the rows (60-s samples,
 * a few mounts: about 200 rows an hour), a few milliseconds per step.
 */
const SERVING_BATCH_HOURS = 100;

/** The port's neutral batch size in PostgreSQL's unit: dirty server-hours claimed per transaction. */
function batchHoursFor(size: RollupRefreshOptions["batchSize"]): number {
  if (size === "serving") return SERVING_BATCH_HOURS;
  return size === undefined ? DEFAULT_BATCH_HOURS : Math.max(1, Math.floor(size));
}

/**
 * How an ingest upserts a dirty mark: `DO UPDATE … WHERE false` rather than
 * DO NOTHING, because it waits for a refresher that holds the mark (claimed
 * FOR UPDATE) to commit, and then inserts the mark afresh, so rows committed
 * after that refresher's snapshot are never left unmarked.
 */
export const DIRTY_MARK_CONFLICT =
  "ON CONFLICT (server, hour) DO UPDATE SET hour = excluded.hour WHERE false";

export class PgRollupStore implements RollupStore {
  constructor(private readonly pool: pg.Pool) {}

  async init(): Promise<void> {
    await runPgMigrations(this.pool, "rollups", PG_ROLLUP_MIGRATIONS);
  }

  async registerZone(tz: string): Promise<void> {
    await this.pool.query("INSERT INTO rollup_zones (tz) VALUES ($1) ON CONFLICT DO NOTHING", [tz]);
  }

  async horizons(): Promise<RollupHorizons> {
    const client = await this.pool.connect();
    try {
      return await horizons(client);
    } finally {
      client.release();
    }
  }

  async refresh(options: RollupRefreshOptions = {}): Promise<RollupRefreshResult> {
    const batchHours = batchHoursFor(options.batchSize);
    const maxBatches = options.maxBatches ?? Number.POSITIVE_INFINITY;
    const total: RollupRefreshResult = { uploads: 0, hours: 0, rebuilt: false, more: false };
    const run = await refreshInBatches((step) => this.transaction(step), batchHours, maxBatches);
    total.hours += run.hours;
    total.more = run.more;
    if (options.maxBatches === undefined) {
      // "Until done" must not mean "until what other refreshers hold": a report built right after
      // would miss the hours another instance is folding in at that moment. So the tail runs with
      // every server lock held (blocking, in key order), which waits for refreshers in flight.
      total.hours += await this.transaction(async (client) => {
        await lockAllServers(client);
        // Bounded by what is dirty now: marks that keep arriving meanwhile are the next refresh's.
        const pending = Number(
          (await client.query<{ n: string }>("SELECT count(*) AS n FROM rollup_dirty")).rows[0]!.n,
        );
        // The tail claims waiting (FOR UPDATE, not SKIP LOCKED): a refresher on another instance may
        // hold marks it claimed but cannot work on (its try-lock fails while we hold every server
        // lock), and skipping those would leave their hours out of the report (seen on CI: 186 of
        // 1,008 late samples missing). It commits at once, so the wait is short; ingest upserts its
        // marks in the same (server, hour) order, so the two never wait on each other in a cycle.
        const tail = await refreshInBatches(
          (step) => step(client),
          batchHours,
          2 * Math.ceil(pending / batchHours) + 2,
          "wait",
        );
        return tail.hours;
      });
    }
    return total;
  }

  async rebuild(): Promise<RollupRefreshResult> {
    await this.transaction(async (client) => {
      await dropFromHorizon(client);
      // Every hour with samples is dirty again: from the horizon on they are recomputed, before it
      // (down to the fold floor) rows stored again are late rows of sealed hours, counted once.
      const floor = foldFrom(await horizons(client));
      await client.query(
        `INSERT INTO rollup_dirty (server, hour)
         SELECT server, generate_series(GREATEST(first_seen - first_seen % ${HOUR_MS}, $1), last_seen - last_seen % ${HOUR_MS}, ${HOUR_MS})
         FROM server_stats
         ON CONFLICT DO NOTHING`,
        [floor],
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
    const { hourlyDeleted, hourlyHorizon } = await this.transaction(async (client) => {
      const deleted = (
        await client.query<{ n: number; newest: number | null }>(
          `WITH d AS (DELETE FROM rollup_hourly WHERE hour < $1 RETURNING hour)
           SELECT count(*)::int8 AS n, max(hour) AS newest FROM d`,
          [cutoffs.hourlyBefore],
        )
      ).rows[0]!;
      await client.query("DELETE FROM rollup_hourly_disk WHERE hour < $1", [cutoffs.hourlyBefore]);
      await client.query("DELETE FROM rollup_hour_seen WHERE hour < $1", [cutoffs.hourlyBefore]);
      const hourlyHorizon = await raiseState(
        client,
        "hourly_horizon",
        deleted.newest === null ? 0 : deleted.newest + HOUR_MS,
      );
      return { hourlyDeleted: deleted.n, hourlyHorizon };
    });
    const target = rawHorizonHour(cutoffs.rawBefore);
    let hoursSealed = 0;
    let rawHorizonNow = 0;
    for (;;) {
      const step = await this.transaction(async (client) => {
        // No refresher folds while an hour is sealed: the seen sets must list what the buckets hold.
        await lockAllServers(client);
        const horizon = (await horizons(client)).raw;
        if (horizon >= target) return { sealed: null, horizon };
        // Hours before the fold floor are never folded again: they need no seen set.
        const start = Math.max(horizon, lateFoldFloor(hourlyHorizon));
        const next = (
          await client.query<{ ts: number | null }>(
            `SELECT min((SELECT min(ts) FROM samples s WHERE s.server = st.server AND s.ts >= $1)) AS ts
             FROM server_stats st`,
            [start],
          )
        ).rows[0]!.ts;
        const from = next === null ? target : Math.max(start, next - (next % HOUR_MS));
        const servers = Number(
          (await client.query<{ n: string }>("SELECT count(*) AS n FROM server_stats")).rows[0]!.n,
        );
        const to = Math.min(target, from + sealStepMs(servers, SEAL_STEP_SERVER_HOURS));
        let sealed = 0;
        if (from < to) {
          const done = await sealHours(client, from, to);
          sealed = done.sealed;
          await this.refreshDays(client, keyRanges(done.recomputed));
        }
        return { sealed, horizon: await raiseState(client, "raw_horizon", to) };
      });
      rawHorizonNow = step.horizon;
      if (step.sealed === null) break;
      hoursSealed += step.sealed;
    }
    return { hourlyDeleted, rawHorizon: rawHorizonNow, hourlyHorizon, hoursSealed };
  }

  /** Recomputes the days of every registered zone around `ranges` (the caller holds their servers' locks). */
  private async refreshDays(client: pg.ClientBase, ranges: readonly TouchedRange[]): Promise<void> {
    if (ranges.length === 0) return;
    const zones = (await client.query<{ tz: string }>("SELECT tz FROM rollup_zones")).rows.map((r) => r.tz);
    for (const tz of zones) {
      const wanted = daysAround(tz, ranges);
      if (wanted.length > 0) await replaceDaysInSql(client, tz, wanted);
    }
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
      // their next batch on), then compute the missing days from the hours, once, under the
      // servers' locks. Days of a server without any hour there (before its first sample, say)
      // are answered as they are and not stored: nothing that could go stale. (This used to fold
      // every server twice, once to find which have hours, then again under the locks; with the
      // fold in SQL the second pass was half of a first 1-year view.)
      await this.registerZone(tz);
      const filled = await this.transaction(async (client) => {
        await lockServers(
          client,
          missing.map((m) => m.server),
        );
        return (await computeDays(client, tz, missing, "withHours")).days;
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

  async readHourlyMany(
    servers: readonly string[],
    from: number,
    to: number,
  ): Promise<Map<string, HourAggregate[]>> {
    const out = new Map<string, HourAggregate[]>();
    if (servers.length === 0) return out;
    const [hours, disks] = await Promise.all([
      this.pool.query({
        text: `SELECT server, hour, ${BUCKET_COLUMNS} FROM rollup_hourly
               WHERE ${serversIn("$1")} AND hour >= $2 AND hour < $3 ORDER BY server, hour`,
        values: [servers, from, to],
        rowMode: "array",
      }),
      this.pool.query({
        text: `SELECT server, hour, mount, ${MOUNT_COLUMNS} FROM rollup_hourly_disk
               WHERE ${serversIn("$1")} AND hour >= $2 AND hour < $3`,
        values: [servers, from, to],
        rowMode: "array",
      }),
    ]);
    const byServer = (rows: unknown[][]) => {
      const m = new Map<string, unknown[][]>();
      for (const r of rows) {
        const server = r[0] as string;
        let list = m.get(server);
        if (list === undefined) {
          list = [];
          m.set(server, list);
        }
        list.push(r.slice(1));
      }
      return m;
    };
    const hoursOf = byServer(hours.rows as unknown[][]);
    const disksOf = byServer(disks.rows as unknown[][]);
    for (const server of servers) {
      out.set(server, hourAggregates(hoursOf.get(server) ?? [], disksOf.get(server) ?? []));
    }
    return out;
  }

  private transaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    return inTransaction(this.pool, fn);
  }
}

/** Blocking per-server locks (readDaily's fill), taken in key order so two fills never deadlock. */
async function lockServers(client: pg.ClientBase, servers: readonly string[]): Promise<void> {
  const keys = (
    await client.query<{ k: number }>(
      `SELECT DISTINCT ${lockKeySql("s")} AS k FROM unnest($1::text[]) AS s`,
      [servers],
    )
  ).rows
    .map((r) => r.k)
    .sort((a, b) => a - b);
  await client.query(`SELECT pg_advisory_xact_lock(${LOCK_NAMESPACE}, k) FROM unnest($1::int4[]) AS k`, [
    keys,
  ]);
}

/** Every server lock, blocking, in key order: waits for the refreshers in flight. */
async function lockAllServers(client: pg.ClientBase): Promise<void> {
  await client.query(
    `SELECT pg_advisory_xact_lock(${LOCK_NAMESPACE}, k) FROM generate_series(0, ${LOCK_BUCKETS - 1}) AS k`,
  );
}

/**
 * Every server lock for the session (until pg_advisory_unlock_all or the
 * connection closes), blocking, in key order: for work that cannot run in one
 * transaction (raw retention's DETACH … CONCURRENTLY), during which no
 * refresher may take a dirty mark.
 */
export async function lockAllServersForSession(client: pg.ClientBase): Promise<void> {
  await client.query(
    `SELECT pg_advisory_lock(${LOCK_NAMESPACE}, k) FROM generate_series(0, ${LOCK_BUCKETS - 1}) AS k`,
  );
}

type DirtyMark = HourKey;

/**
 * How a batch claims marks: skipping those another transaction holds (a
 * refresher among several, which leaves them to their holder), or waiting
 * for them (the tail of a refresh until done, which holds every server lock).
 */
type MarkClaim = "skip-locked" | "wait";

interface BatchResult {
  hours: number;
  /** Marks claimed, whether this refresher could work on them or not. */
  claimed: number;
  /** The last mark claimed, in key order: where the next batch starts. */
  last: DirtyMark | null;
}

/**
 * Refresh batches walking rollup_dirty in key order from a cursor. Claimed
 * marks are deleted, but stay in the index as dead entries until vacuum; a
 * claim from the start of the index every time walks all of them again, so a
 * catch-up of n marks cost O(n²) (measured: 865 s for the 1.68 M marks of a
 * 10,000-server week, against 27 s on SQLite). A pass that reaches the end
 * goes once more from the start, for marks that arrived behind the cursor and
 * marks another refresher held.
 */
async function refreshInBatches(
  run: (step: (client: pg.ClientBase) => Promise<BatchResult>) => Promise<BatchResult>,
  batchHours: number,
  maxBatches: number,
  claim: MarkClaim = "skip-locked",
): Promise<{ hours: number; more: boolean }> {
  let after: DirtyMark | null = null;
  let hours = 0;
  for (let round = 0; round < maxBatches; round++) {
    const from = after;
    const step = await run((client) => refreshBatch(client, batchHours, from, claim));
    hours += step.hours;
    if (step.claimed === batchHours) after = step.last;
    else if (after === null) return { hours, more: false };
    else after = null;
  }
  return { hours, more: true };
}

/** One refresh transaction: claim (after `after`), recompute hours and days, drop the claimed marks. */
async function refreshBatch(
  client: pg.ClientBase,
  batchHours: number,
  after: DirtyMark | null,
  claim: MarkClaim,
): Promise<BatchResult> {
  const lock = claim === "wait" ? "FOR UPDATE" : "FOR UPDATE SKIP LOCKED";
  const claimed = (
    after === null
      ? await client.query<DirtyMark>(
          `SELECT server, hour FROM rollup_dirty ORDER BY server, hour LIMIT $1 ${lock}`,
          [batchHours],
        )
      : await client.query<DirtyMark>(
          `SELECT server, hour FROM rollup_dirty WHERE (server, hour) > ($2::text, $3::int8)
           ORDER BY server, hour LIMIT $1 ${lock}`,
          [batchHours, after.server, after.hour],
        )
  ).rows;
  const done = (hours: number): BatchResult => ({
    hours,
    claimed: claimed.length,
    last: claimed.at(-1) ?? null,
  });
  if (claimed.length === 0) return done(0);
  // Servers another refresher is working on are left to it (their marks stay, unlocked after our commit).
  const servers = [...new Set(claimed.map((c) => c.server))];
  const mine = new Set(
    (
      await client.query<{ s: string }>(
        `SELECT s FROM unnest($1::text[]) AS s WHERE pg_try_advisory_xact_lock(${LOCK_NAMESPACE}, ${lockKeySql("s")})`,
        [servers],
      )
    ).rows.map((r) => r.s),
  );
  // Marks before the fold floor are dropped unseen: the days around those hours lack hour buckets
  // (the ingest refuses such rows; only `central rebuild` of very old files stores them).
  const stored = await horizons(client);
  const horizon = stored.raw;
  const floor = foldFrom(stored);
  const expired = claimed.filter((c) => mine.has(c.server) && c.hour < floor);
  const work = claimed.filter((c) => mine.has(c.server) && c.hour >= floor);
  if (expired.length > 0) await deleteMarks(client, expired);
  if (work.length === 0) return done(0);
  // From the raw horizon on an hour is recomputed from its rows; before it, it is sealed and its
  // late rows are folded in once each (./sealed-hours.ts).
  const live = work.filter((c) => c.hour >= horizon);
  const sealed = work.filter((c) => c.hour < horizon);
  // The hour aggregation sorts a batch's samples (up to ~100,000 rows): in memory, not in temp files.
  await client.query("SET LOCAL work_mem = '64MB'");
  const changed: HourKey[] = [...live];
  if (live.length > 0) await recomputeHoursInSql(client, live, keyRanges(live));
  if (sealed.length > 0) changed.push(...(await foldSealedHours(client, sealed)));
  const ranges = keyRanges(changed);
  const zones = (await client.query<{ tz: string }>("SELECT tz FROM rollup_zones")).rows.map((r) => r.tz);
  for (const tz of zones) {
    const wanted = daysAround(tz, ranges);
    if (wanted.length > 0) await replaceDaysInSql(client, tz, wanted);
  }
  await deleteMarks(client, work);
  return done(changed.length);
}

/**
 * Drops the rollups from the raw retention horizon on, and every dirty mark;
 * returns the horizon. Before it the kept buckets are all there is (their raw
 * rows are pruned), so they stay.
 */
async function dropFromHorizon(client: pg.ClientBase): Promise<number> {
  const horizon = (await horizons(client)).raw;
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

/** The horizons recorded by prune (0: none): raw (hours before it are sealed) and hourly. */
async function horizons(client: pg.ClientBase): Promise<RollupHorizons> {
  const r = await client.query<{ key: string; value: number }>(
    "SELECT key, value FROM rollup_state WHERE key IN ('raw_horizon', 'hourly_horizon')",
  );
  const get = (key: string) => r.rows.find((x) => x.key === key)?.value ?? 0;
  return { raw: get("raw_horizon"), hourly: get("hourly_horizon") };
}

/** Sets a rollup_state value to the larger of it and `value`; returns the value now. */
async function raiseState(client: pg.ClientBase, key: string, value: number): Promise<number> {
  return (
    await client.query<{ value: number }>(
      `INSERT INTO rollup_state (key, value) VALUES ($1, $2)
       ON CONFLICT (key) DO UPDATE SET value = GREATEST(rollup_state.value, excluded.value)
       RETURNING value`,
      [key, value],
    )
  ).rows[0]!.value;
}
