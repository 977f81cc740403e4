import type { Migration } from "./migrate.js";

/**
 * The metrics schema. Other modules (rollups, deliveries) read these tables
 * directly in SQLite, so the column names below are a contract: add columns
 * and indexes with new migrations, never rename.
 *
 * - samples: one row per (server, ts, mount); ts in epoch ms UTC. WITHOUT
 *   ROWID keyed by the dedup key: the key index is the table, so inserts
 *   touch one b-tree and duplicates are dropped by INSERT OR IGNORE.
 * - uploads: one row per accepted file; seq grows monotonically, so derived
 *   data (rollups) can catch up from a watermark; ts_min/ts_max bound the
 *   time range the upload touched.
 */
export const METRICS_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "samples, uploads, agent tokens",
    sql: `
      CREATE TABLE samples (
        server TEXT NOT NULL,
        ts INTEGER NOT NULL,
        mount TEXT NOT NULL,
        cpu_percent REAL NOT NULL,
        cpu_peak_percent REAL,
        interval_seconds REAL,
        mem_total INTEGER NOT NULL,
        mem_used INTEGER NOT NULL,
        mem_available INTEGER NOT NULL,
        disk_total INTEGER NOT NULL,
        disk_used INTEGER NOT NULL,
        disk_free INTEGER NOT NULL,
        PRIMARY KEY (server, ts, mount)
      ) WITHOUT ROWID;

      CREATE TABLE uploads (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        upload_id TEXT NOT NULL UNIQUE,
        server TEXT NOT NULL,
        received_at INTEGER NOT NULL,
        raw_path TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        rows INTEGER NOT NULL,
        inserted INTEGER NOT NULL,
        ts_min INTEGER,
        ts_max INTEGER
      );
      CREATE INDEX uploads_server_sha ON uploads (server, sha256);

      CREATE TABLE agent_tokens (
        token_id TEXT PRIMARY KEY,
        server TEXT NOT NULL,
        secret_hash TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        revoked_at INTEGER
      );
      CREATE INDEX agent_tokens_server ON agent_tokens (server);
    `,
  },
  {
    version: 2,
    description: "viewer tokens for the read API, per-server summary",
    sql: `
      -- Read-API credentials. Separate from agent_tokens so an agent token can
      -- never be used to read, and agent_tokens.server keeps meaning "the one
      -- server this token may write as".
      CREATE TABLE viewer_tokens (
        token_id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        secret_hash TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        revoked_at INTEGER
      );
      CREATE INDEX viewer_tokens_name ON viewer_tokens (name);

      -- Maintained inside each ingest transaction so GET /api/v1/servers does
      -- not scan samples.
      CREATE TABLE server_stats (
        server TEXT PRIMARY KEY,
        first_seen INTEGER NOT NULL,
        last_seen INTEGER NOT NULL,
        rows INTEGER NOT NULL
      ) WITHOUT ROWID;
      INSERT INTO server_stats (server, first_seen, last_seen, rows)
        SELECT server, MIN(ts), MAX(ts), COUNT(*) FROM samples GROUP BY server;
    `,
  },
  {
    version: 3,
    description: "token last use (rotation: list shows which token an agent still uses)",
    sql: `
      -- Written at most once a minute per token (auth/tokens.ts), so ingest
      -- does not pay a write per upload. NULL: never used since this column exists.
      ALTER TABLE agent_tokens ADD COLUMN last_used_at INTEGER;
      ALTER TABLE viewer_tokens ADD COLUMN last_used_at INTEGER;
    `,
  },
  {
    version: 4,
    description: "foreign inputs: relay tokens, CPU counter baselines",
    sql: `
      -- servers: the glob of server names the relay may write for.
      CREATE TABLE relay_tokens (
        token_id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        servers TEXT NOT NULL,
        secret_hash TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        revoked_at INTEGER,
        last_used_at INTEGER
      );
      CREATE INDEX relay_tokens_name ON relay_tokens (name);

      -- The last CPU counters each foreign input gave per server
      -- (storage/cpu-baseline-store.ts): busy % is their difference over the interval.
      CREATE TABLE cpu_baselines (
        source TEXT NOT NULL,
        server TEXT NOT NULL,
        ts INTEGER NOT NULL,
        idle REAL NOT NULL,
        total REAL NOT NULL,
        start INTEGER,
        series INTEGER NOT NULL,
        PRIMARY KEY (source, server)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 5,
    description:
      "scoped viewer tokens: the delivery groups a viewer token may read (comma-separated; NULL: the whole fleet)",
    sql: `ALTER TABLE viewer_tokens ADD COLUMN scope_groups TEXT;`,
  },
];
