import type Database from "better-sqlite3";
import { type Migration, runMigrations } from "../../sqlite/migrate.js";
import { prepared } from "../../sqlite/prepared.js";
import { BUCKET_COLUMNS, MOUNT_COLUMNS } from "../buckets.js";
import { SeenSet } from "../seen-set.js";

/**
 * The rollup tables of SQLite (what they hold and why: ./rollups.ts), their
 * migrations, and rollup_state, where the refresher keeps its watermark and
 * retention its horizons (raw_horizon, hourly_horizon).
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
  {
    version: 3,
    description: "seen sets: the timestamps counted in each sealed hour bucket, so late samples count once",
    // Buckets sealed before this migration get none: their first-to-last range stands in (../seen-set.ts).
    sql: `
      CREATE TABLE rollup_hour_seen (
        server TEXT NOT NULL,
        hour INTEGER NOT NULL,
        seen BLOB NOT NULL,
        PRIMARY KEY (server, hour)
      ) WITHOUT ROWID;
    `,
  },
];

export function ensureRollupSchema(db: Database.Database): void {
  runMigrations(db, "rollups", ROLLUP_MIGRATIONS);
  registerSeenAggregate(db);
}

const withSeenAggregate = new WeakSet<Database.Database>();

/**
 * `srvutil_seen(offset)`: the seen set (../seen-set.ts) of the offsets of a
 * group, for set-based statements. Registered once per connection.
 */
function registerSeenAggregate(db: Database.Database): void {
  if (withSeenAggregate.has(db)) return;
  db.aggregate("srvutil_seen", {
    start: () => [] as number[],
    step: (offsets: number[], offset: number) => {
      offsets.push(offset);
      return offsets;
    },
    result: (offsets: number[]) => Buffer.from(SeenSet.of(offsets).encode()),
  });
  withSeenAggregate.add(db);
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

/** `?, ?, …`: one placeholder per column of BUCKET_COLUMNS and MOUNT_COLUMNS. */
export const BUCKET_PLACEHOLDERS = BUCKET_COLUMNS.split(",")
  .map(() => "?")
  .join(", ");
export const MOUNT_PLACEHOLDERS = MOUNT_COLUMNS.split(",")
  .map(() => "?")
  .join(", ");

/** A rollup_state value (0 when never set). */
export function stateGet(db: Database.Database, key: string): number {
  return (
    (prepared(db, "SELECT value FROM rollup_state WHERE key = ?").pluck().get(key) as number | undefined) ?? 0
  );
}

export function stateSet(db: Database.Database, key: string, value: number): void {
  prepared(
    db,
    "INSERT INTO rollup_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
  ).run(key, value);
}
