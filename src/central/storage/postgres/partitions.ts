import type pg from "pg";
import { HOUR_MS } from "../../aggregate/rows.js";
import type { Migration } from "./migrate.js";

/**
 * Weekly RANGE partitions of `samples` on `ts` (epoch ms), one per UTC week
 * from Monday 00:00, named samples_pYYYYMMDD after that Monday.
 *
 * Why weekly: raw retention is 35 days (five weeks), so retention drops whole
 * weeks and only ever DELETEs rows from one boundary partition (at most the
 * days since the last run: one day when it runs daily); a report week touches
 * two partitions, its 35-day lookback six; and the table stays at ~6–10
 * partitions, so planning and pruning stay cheap. Monthly partitions would
 * leave up to a month of rows to DELETE at the boundary (most of what is
 * kept); daily ones would mean ~40 relations for no gain in pruning.
 *
 * No DEFAULT partition, on purpose: with one, every later partition for a
 * range already written to it fails to attach, and DETACH … CONCURRENTLY is
 * refused. Instead every write path calls `ensureWeeks` first, which creates
 * the missing weeks (any time, far past or future) before the insert.
 * Partitions are created with CREATE TABLE + ATTACH PARTITION, which takes
 * only SHARE UPDATE EXCLUSIVE on `samples` (inserts and reads go on); CREATE
 * TABLE … PARTITION OF would take ACCESS EXCLUSIVE and queue every ingest
 * behind a running report.
 */
export const WEEK_MS = 7 * 86_400_000;
/** 1970-01-05, the first Monday after the epoch. */
const FIRST_MONDAY_MS = 4 * 86_400_000;
/** Weeks created ahead of the current one at init and by each maintenance step. */
export const PARTITION_WEEKS_AHEAD = 4;

export function weekStartOf(ts: number): number {
  return Math.floor((ts - FIRST_MONDAY_MS) / WEEK_MS) * WEEK_MS + FIRST_MONDAY_MS;
}

export function partitionName(weekStart: number): string {
  return `samples_p${new Date(weekStart).toISOString().slice(0, 10).replaceAll("-", "")}`;
}

/** The Monday a partition name stands for, or null for a name that is not ours. */
function weekOfName(name: string): number | null {
  const m = /^samples_p(\d{4})(\d{2})(\d{2})$/.exec(name);
  return m === null ? null : Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
}

/**
 * Component "samples_partitions": turns the unpartitioned `samples` of the
 * "metrics" migrations into the partitioned table, moving any rows over (an
 * upgrade copies the table once: it needs the table's size again in free
 * space for the time of the migration, inside the one migration transaction,
 * so a crash leaves the old table in place).
 *
 * `server` and `mount` become COLLATE "C": the primary key's order is then
 * exactly the byte order every reader sorts by (ORDER BY … COLLATE "C"), so
 * reads come off the index without a sort whatever the database's locale.
 */
export const PARTITION_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "samples partitioned by week on ts, server and mount in C collation",
    sql: `
      ALTER TABLE samples RENAME TO samples_unpartitioned;
      ALTER TABLE samples_unpartitioned RENAME CONSTRAINT samples_pkey TO samples_unpartitioned_pkey;
      CREATE TABLE samples (
        server TEXT COLLATE "C" NOT NULL, ts BIGINT NOT NULL, mount TEXT COLLATE "C" NOT NULL,
        cpu_percent DOUBLE PRECISION NOT NULL, cpu_peak_percent DOUBLE PRECISION, interval_seconds DOUBLE PRECISION,
        mem_total BIGINT NOT NULL, mem_used BIGINT NOT NULL, mem_available BIGINT NOT NULL,
        disk_total BIGINT NOT NULL, disk_used BIGINT NOT NULL, disk_free BIGINT NOT NULL,
        PRIMARY KEY (server, ts, mount)
      ) PARTITION BY RANGE (ts);
      DO $$
      DECLARE w BIGINT;
      BEGIN
        FOR w IN SELECT DISTINCT (floor((ts - ${FIRST_MONDAY_MS})::numeric / ${WEEK_MS}) * ${WEEK_MS} + ${FIRST_MONDAY_MS})::bigint
                 FROM samples_unpartitioned ORDER BY 1 LOOP
          EXECUTE format('CREATE TABLE %I PARTITION OF samples FOR VALUES FROM (%s) TO (%s)',
            'samples_p' || to_char(to_timestamp(w / 1000) AT TIME ZONE 'UTC', 'YYYYMMDD'), w, w + ${WEEK_MS});
        END LOOP;
      END $$;
      INSERT INTO samples SELECT * FROM samples_unpartitioned;
      DROP TABLE samples_unpartitioned;
    `,
  },
];

/**
 * Component "distribution_keys": every per-server table keyed by `server`
 * first, so a distributed PostgreSQL (Citus) can shard them by server with
 * their keys and unique constraints intact (docs/scaling.md). samples,
 * server_stats and the rollup tables already are; uploads was keyed by seq.
 * upload_id stays unique per server (raw files live under
 * received_metrics/<server>/) and indexed on its own for startup recovery.
 */
export const DISTRIBUTION_KEY_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "uploads keyed by (server, seq), upload_id unique per server",
    sql: `
      ALTER TABLE uploads DROP CONSTRAINT uploads_pkey;
      ALTER TABLE uploads ADD CONSTRAINT uploads_pkey PRIMARY KEY (server, seq);
      ALTER TABLE uploads DROP CONSTRAINT uploads_upload_id_key;
      ALTER TABLE uploads ADD CONSTRAINT uploads_server_upload_id_key UNIQUE (server, upload_id);
      CREATE INDEX uploads_upload_id ON uploads (upload_id);
    `,
  },
];

export interface PartitionInfo {
  name: string;
  /** Inclusive lower bound (a Monday 00:00 UTC), ms. */
  from: number;
  /** Exclusive upper bound, ms. */
  to: number;
}

/**
 * Creates and drops the partitions of `samples`, shared by every central
 * instance: creation is serialised by an advisory lock and re-checks the
 * catalogue, so instances racing for the same week create it once.
 */
export class SamplePartitions {
  /** Weeks known to exist (a cache: a week dropped elsewhere is noticed by `forget`). */
  private readonly known = new Set<number>();

  constructor(private readonly pool: pg.Pool) {}

  async list(): Promise<PartitionInfo[]> {
    const r = await this.pool.query<{ name: string; pending: boolean }>(
      `SELECT c.relname AS name, i.inhdetachpending AS pending FROM pg_inherits i
       JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'samples'::regclass`,
    );
    const out: PartitionInfo[] = [];
    for (const { name } of r.rows) {
      const from = weekOfName(name);
      if (from !== null) out.push({ name, from, to: from + WEEK_MS });
    }
    return out.sort((a, b) => a.from - b.from);
  }

  /** Makes sure the week of every timestamp has its partition (the weeks of rows about to be written). */
  async ensureFor(timestamps: Iterable<number>): Promise<void> {
    const missing = new Set<number>();
    let lastWeek = Number.NaN;
    for (const ts of timestamps) {
      const w = weekStartOf(ts);
      if (w === lastWeek) continue; // rows come sorted by time: skip the Set for runs of one week
      lastWeek = w;
      if (!this.known.has(w)) missing.add(w);
    }
    if (missing.size > 0) await this.ensureWeeks([...missing]);
  }

  /** The current week, and PARTITION_WEEKS_AHEAD weeks after it. */
  async ensureAhead(now: number): Promise<void> {
    const first = weekStartOf(now);
    await this.ensureWeeks(Array.from({ length: PARTITION_WEEKS_AHEAD + 1 }, (_, i) => first + i * WEEK_MS));
  }

  async ensureWeeks(weeks: readonly number[]): Promise<void> {
    const wanted = weeks.filter((w) => !this.known.has(w));
    if (wanted.length === 0) return;
    const client = await this.pool.connect();
    try {
      await client.query("BEGIN");
      await client.query("SELECT pg_advisory_xact_lock(hashtext('srvutil-sample-partitions'))");
      const existing = new Set(
        (
          await client.query<{ name: string }>(
            "SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'samples'::regclass",
          )
        ).rows.map((r) => r.name),
      );
      for (const w of wanted) {
        const name = partitionName(w);
        if (existing.has(name)) continue;
        await client.query(`CREATE TABLE ${name} (LIKE samples INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`);
        await client.query(
          `ALTER TABLE samples ATTACH PARTITION ${name} FOR VALUES FROM (${w}) TO (${w + WEEK_MS})`,
        );
      }
      await client.query("COMMIT");
    } catch (err) {
      await client.query("ROLLBACK").catch(() => {});
      throw err;
    } finally {
      client.release();
    }
    for (const w of wanted) this.known.add(w);
  }

  /** Forgets the cache, after an insert found no partition for a row (dropped by another instance). */
  forget(): void {
    this.known.clear();
  }

  /**
   * Drops every partition that ends at or before `cutoff`, with DETACH …
   * CONCURRENTLY (no ACCESS EXCLUSIVE lock on `samples`: uploads and reports
   * go on) and then DROP; a detach interrupted by a crash is finished first.
   * Returns the dropped partitions.
   *
   * Rows the rollups do not have yet are not dropped: rows of an hour that
   * still has a dirty mark (a late upload for that week, committed since the
   * last refresh) go back into `samples`, in the week's partition created
   * anew, for the refresh to fold (the next run drops it). They are found
   * once the detach is done, when no upload can add rows to the partition any
   * more; `client` holds every rollup server lock meanwhile (session-level),
   * so no refresher can take such a mark and then find its rows gone.
   */
  async dropBefore(cutoff: number, client: pg.ClientBase): Promise<PartitionInfo[]> {
    const pending = await client.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
       WHERE i.inhparent = 'samples'::regclass AND i.inhdetachpending`,
    );
    for (const { name } of pending.rows) {
      await client.query(`ALTER TABLE samples DETACH PARTITION ${name} FINALIZE`);
      const from = weekOfName(name);
      if (from !== null) await this.dropDetached(client, { name, from, to: from + WEEK_MS });
    }
    const dropped: PartitionInfo[] = [];
    for (const p of await this.list()) {
      if (p.to > cutoff) continue;
      // Never inside a transaction block: the client runs each statement on its own.
      await client.query(`ALTER TABLE samples DETACH PARTITION ${p.name} CONCURRENTLY`);
      await this.dropDetached(client, p);
      this.known.delete(p.from);
      dropped.push(p);
    }
    return dropped;
  }

  /** Drops a detached week, first putting back (in a new partition) the rows of hours still marked dirty. */
  private async dropDetached(client: pg.ClientBase, p: PartitionInfo): Promise<void> {
    await client.query("BEGIN");
    try {
      const kept = await client.query(
        `CREATE TEMP TABLE srvutil_unfolded ON COMMIT DROP AS
         SELECT t.* FROM rollup_dirty d
         JOIN ${p.name} t ON t.server = d.server AND t.ts >= d.hour AND t.ts < d.hour + ${HOUR_MS}
         WHERE d.hour >= $1 AND d.hour < $2`,
        [p.from, p.to],
      );
      await client.query(`DROP TABLE IF EXISTS ${p.name}`);
      if ((kept.rowCount ?? 0) > 0) {
        await client.query("SELECT pg_advisory_xact_lock(hashtext('srvutil-sample-partitions'))");
        await client.query(`CREATE TABLE ${p.name} (LIKE samples INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`);
        await client.query(
          `ALTER TABLE samples ATTACH PARTITION ${p.name} FOR VALUES FROM (${p.from}) TO (${p.to})`,
        );
        await client.query("INSERT INTO samples SELECT * FROM srvutil_unfolded ON CONFLICT DO NOTHING");
      }
      await client.query("COMMIT");
    } catch (err) {
      await client.query("ROLLBACK").catch(() => {});
      throw err;
    }
  }
}
