import pg from "pg";
import type { MetricRow } from "../../../protocol/index.js";
import { type SampleDbRow, toMetricRow } from "../db-rows.js";
import { appliedMigrationsOf } from "../migration-log.js";
import { PgRollupStore } from "../rollups/postgres/rollups.js";
import type {
  IngestAnswer,
  IngestOutcome,
  SampleQuery,
  ServerSummary,
  Storage,
  StorageCapabilities,
  StorageReaderSpec,
  StoredUpload,
  UploadRecord,
} from "../store.js";
import { initComponents } from "../store-components.js";
import { PgAgentUpdateStore } from "./agent-updates.js";
import { PgAlertStore } from "./alerts.js";
import { PgCoordinationStore } from "./coordination.js";
import { PgCpuBaselineStore } from "./cpu-baselines.js";
import { PgDashboardReads } from "./dashboard-reads.js";
import { PgDeliveryStore } from "./deliveries.js";
import { PgEnrolmentStore } from "./enrolments.js";
import { findUpload, ingestUpload } from "./ingest.js";
import { type Migration, runPgMigrations } from "./migrate.js";
import { DISTRIBUTION_KEY_MIGRATIONS, PARTITION_MIGRATIONS, SamplePartitions } from "./partitions.js";
import { PgRawUploadStore } from "./raw-uploads.js";
import { PgReportArchive } from "./report-archive.js";
import { PgRetentionStore } from "./retention.js";
import { SAMPLE_COLUMNS, type SampleInserter } from "./sample-insert.js";
import { PgScrapeStatusStore } from "./scrape-status.js";
import { PgServerInputStore } from "./server-inputs.js";
import { PgTagStore } from "./tags.js";
import { PgTokenStore } from "./tokens.js";
import { PgUserStore } from "./users.js";

/**
 * PostgreSQL behind the Storage port, for several central instances sharing
 * one database. Same tables and column names as SQLite
 * (timestamps are epoch-ms BIGINTs in both), so queries port directly.
 * One file = one atomic write (./ingest.ts: one statement for a fleet
 * upload, a COPY transaction for a backlog file; ON CONFLICT DO NOTHING,
 * whose row count is the number of new rows).
 * `samples` is partitioned by week (./partitions.ts); the partitions a file
 * needs are created before its transaction.
 *
 * Deliveries live in ./deliveries.ts, rollups in ../rollups/postgres/rollups.ts and raw
 * retention in ./retention.ts, on the same connection pool.
 */

/** Component "metrics" (samples is partitioned afterwards by "./partitions.ts"). */
export const PG_METRICS_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "samples, uploads, agent tokens",
    sql: `
      CREATE TABLE samples (
        server TEXT NOT NULL, ts BIGINT NOT NULL, mount TEXT NOT NULL,
        cpu_percent DOUBLE PRECISION NOT NULL, cpu_peak_percent DOUBLE PRECISION, interval_seconds DOUBLE PRECISION,
        mem_total BIGINT NOT NULL, mem_used BIGINT NOT NULL, mem_available BIGINT NOT NULL,
        disk_total BIGINT NOT NULL, disk_used BIGINT NOT NULL, disk_free BIGINT NOT NULL,
        PRIMARY KEY (server, ts, mount)
      );
      CREATE TABLE uploads (
        seq BIGSERIAL PRIMARY KEY, upload_id TEXT NOT NULL UNIQUE, server TEXT NOT NULL,
        received_at BIGINT NOT NULL, raw_path TEXT NOT NULL, sha256 TEXT NOT NULL, bytes BIGINT NOT NULL,
        rows INTEGER NOT NULL, inserted INTEGER NOT NULL, ts_min BIGINT, ts_max BIGINT
      );
      CREATE INDEX uploads_server_sha ON uploads (server, sha256);
      CREATE TABLE agent_tokens (
        token_id TEXT PRIMARY KEY, server TEXT NOT NULL, secret_hash TEXT NOT NULL,
        created_at BIGINT NOT NULL, revoked_at BIGINT
      );
      CREATE INDEX agent_tokens_server ON agent_tokens (server);
    `,
  },
  {
    version: 2,
    description: "viewer tokens for the read API, per-server summary",
    sql: `
      CREATE TABLE viewer_tokens (
        token_id TEXT PRIMARY KEY, name TEXT NOT NULL, secret_hash TEXT NOT NULL,
        created_at BIGINT NOT NULL, revoked_at BIGINT
      );
      CREATE INDEX viewer_tokens_name ON viewer_tokens (name);
      CREATE TABLE server_stats (
        server TEXT PRIMARY KEY, first_seen BIGINT NOT NULL, last_seen BIGINT NOT NULL, rows BIGINT NOT NULL
      );
      INSERT INTO server_stats (server, first_seen, last_seen, rows)
        SELECT server, MIN(ts), MAX(ts), COUNT(*) FROM samples GROUP BY server;
    `,
  },
  {
    version: 3,
    description: "token last use (rotation: list shows which token an agent still uses)",
    sql: `
      ALTER TABLE agent_tokens ADD COLUMN last_used_at BIGINT;
      ALTER TABLE viewer_tokens ADD COLUMN last_used_at BIGINT;
    `,
  },
  {
    version: 4,
    description: "foreign inputs: relay tokens, CPU counter baselines",
    sql: `
      CREATE TABLE relay_tokens (
        token_id TEXT PRIMARY KEY, name TEXT NOT NULL, servers TEXT NOT NULL, secret_hash TEXT NOT NULL,
        created_at BIGINT NOT NULL, revoked_at BIGINT, last_used_at BIGINT
      );
      CREATE INDEX relay_tokens_name ON relay_tokens (name);
      CREATE TABLE cpu_baselines (
        source TEXT NOT NULL, server TEXT NOT NULL, ts BIGINT NOT NULL,
        idle DOUBLE PRECISION NOT NULL, total DOUBLE PRECISION NOT NULL, start BIGINT, series INTEGER NOT NULL,
        PRIMARY KEY (source, server)
      );
    `,
  },
  {
    version: 5,
    description:
      "scoped viewer tokens: the delivery groups a viewer token may read (comma-separated; NULL: the whole fleet)",
    sql: `ALTER TABLE viewer_tokens ADD COLUMN scope_groups TEXT;`,
  },
];

const SAMPLE_PAGE = 5000;
/** /readyz answers 503 when the database has not answered `SELECT 1` within this. */
const PING_TIMEOUT_MS = 2_000;

/** BIGINT (oid 20) as a JS number: every value here (epoch ms, bytes ≤ 2^53) is a safe integer. */
const types = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === 20
      ? (v: string) => Number(v)
      : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/** A pool as the store uses it: timeouts, BIGINT as numbers, connection losses not fatal. */
export function createPgPool(
  connectionString: string,
  options: { schema: string | null; max: number },
): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    max: options.max,
    // A server that stops answering must fail requests (and /readyz) in
    // seconds, not hang them until the kernel gives up on the connection.
    connectionTimeoutMillis: 5_000,
    types,
    ...(options.schema !== null ? { options: `-c search_path=${options.schema}` } : {}),
  });
  // A client losing its connection must not crash the process: an idle one
  // reports on the pool; a checked-out one emits on itself, and the query in
  // flight rejects anyway (that is where the caller learns of it). Without a
  // listener that emit is an uncaught exception, seen when the database
  // restarted while a transaction held a client.
  pool.on("error", () => {});
  pool.on("connect", (client) => {
    client.on("error", () => {});
  });
  return pool;
}

export class PgStore implements Storage {
  readonly kind = "postgres" as const;
  readonly capabilities: StorageCapabilities = { shared: true };
  readonly readerSpec: StorageReaderSpec;
  readonly pool: pg.Pool;
  readonly tokens: PgTokenStore;
  readonly cpuBaselines: PgCpuBaselineStore;
  readonly rollups: PgRollupStore;
  readonly deliveries: PgDeliveryStore;
  readonly rawUploads: PgRawUploadStore;
  readonly coordination: PgCoordinationStore;
  readonly scrapeStatus: PgScrapeStatusStore;
  readonly tags: PgTagStore;
  readonly serverInputs: PgServerInputStore;
  readonly users: PgUserStore;
  readonly reports: PgReportArchive;
  readonly dashboard: PgDashboardReads;
  readonly retention: PgRetentionStore;
  readonly alerts: PgAlertStore;
  readonly enrolments: PgEnrolmentStore;
  readonly agentUpdates: PgAgentUpdateStore;
  private readonly partitions: SamplePartitions;

  private readonly insertSamples: SampleInserter | undefined;

  /**
   * `schema`: a search_path to use (tests use a throwaway schema);
   * `insertSamples`: a hook for the benchmarks, which compare ways to insert
   * rows (bench/support/pg-sample-insert.ts): every file then goes in through
   * it in one transaction. Unset (the product), ingest picks its own way by
   * the file's size (./ingest.ts).
   */
  constructor(
    connectionString: string,
    options: { schema?: string; max?: number; insertSamples?: SampleInserter } = {},
  ) {
    this.insertSamples = options.insertSamples;
    this.readerSpec = { backend: "postgres", connectionString, schema: options.schema ?? null };
    this.pool = createPgPool(connectionString, { schema: options.schema ?? null, max: options.max ?? 10 });
    this.tokens = new PgTokenStore(this.pool);
    this.cpuBaselines = new PgCpuBaselineStore(this.pool);
    this.rollups = new PgRollupStore(this.pool);
    this.deliveries = new PgDeliveryStore(this.pool);
    this.rawUploads = new PgRawUploadStore(this.pool);
    this.coordination = new PgCoordinationStore(this.pool);
    this.scrapeStatus = new PgScrapeStatusStore(this.pool);
    this.tags = new PgTagStore(this.pool);
    this.serverInputs = new PgServerInputStore(this.pool);
    this.users = new PgUserStore(this.pool);
    this.reports = new PgReportArchive(this.pool);
    this.dashboard = new PgDashboardReads(this.pool);
    this.partitions = new SamplePartitions(this.pool);
    this.retention = new PgRetentionStore(this.pool, this.partitions, this.rollups);
    this.alerts = new PgAlertStore(this.pool);
    this.enrolments = new PgEnrolmentStore(this.pool);
    this.agentUpdates = new PgAgentUpdateStore(this.pool);
  }

  async init(): Promise<void> {
    await runPgMigrations(this.pool, "metrics", PG_METRICS_MIGRATIONS);
    await runPgMigrations(this.pool, "samples_partitions", PARTITION_MIGRATIONS);
    await runPgMigrations(this.pool, "distribution_keys", DISTRIBUTION_KEY_MIGRATIONS);
    await this.partitions.ensureAhead(Date.now());
    await initComponents(this);
    await this.rollups.init();
  }

  appliedMigrations() {
    return appliedMigrationsOf(this.pool);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  async ping(): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), PING_TIMEOUT_MS);
    });
    const answer = this.pool
      .query("SELECT 1 AS ok")
      .then((r) => r.rows[0]?.ok === 1)
      .catch(() => false);
    try {
      return await Promise.race([answer, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async ingest(upload: UploadRecord, rows: readonly MetricRow[]): Promise<IngestOutcome> {
    const answer = await this.ingestWithRetry(upload, rows, false);
    if (answer.replayOf !== null) throw new Error("internal: replay answer to a plain ingest");
    return answer.outcome;
  }

  ingestUnlessReplay(upload: UploadRecord, rows: readonly MetricRow[]): Promise<IngestAnswer> {
    return this.ingestWithRetry(upload, rows, true);
  }

  private async ingestWithRetry(
    upload: UploadRecord,
    rows: readonly MetricRow[],
    unlessReplay: boolean,
  ): Promise<IngestAnswer> {
    const once = async () => {
      await this.partitions.ensureFor(rows.map((r) => r.timestamp));
      return ingestUpload(this.pool, upload, rows, this.insertSamples, unlessReplay);
    };
    try {
      return await once();
    } catch (err) {
      // 23514: no partition for a row, when another instance's retention
      // dropped a week this one still had cached. Nothing was committed.
      if ((err as { code?: unknown }).code !== "23514") throw err;
      this.partitions.forget();
      return await once();
    }
  }

  async hasUpload(server: string, sha256: string): Promise<boolean> {
    return (await this.findUpload(server, sha256)) !== null;
  }

  async hasUploadId(uploadId: string): Promise<boolean> {
    return (await this.pool.query("SELECT 1 FROM uploads WHERE upload_id = $1", [uploadId])).rowCount !== 0;
  }

  async uploadCount(): Promise<number> {
    const r = await this.pool.query<{ n: string }>("SELECT count(*) AS n FROM uploads");
    return Number(r.rows[0]?.n ?? 0);
  }

  findUpload(server: string, sha256: string): Promise<StoredUpload | null> {
    return findUpload(this.pool, server, sha256);
  }

  async clearIngestedData(): Promise<void> {
    await this.pool.query("TRUNCATE samples, uploads, server_stats");
    await this.rollups.clear();
  }

  async *samples(query: SampleQuery): AsyncIterable<MetricRow> {
    const servers =
      query.servers !== undefined
        ? [...new Set(query.servers)].sort()
        : (
            await this.pool.query<{ server: string }>(
              'SELECT server FROM server_stats ORDER BY server COLLATE "C"',
            )
          ).rows.map((r) => r.server);
    // server and mount are COLLATE "C" (./partitions.ts): the key's order is byte order,
    // and the row comparison below is a range on the primary key, not a filter.
    for (const server of servers) {
      let page = (
        await this.pool.query<SampleDbRow>(
          `SELECT ${SAMPLE_COLUMNS} FROM samples WHERE server = $1 AND ts >= $2 AND ts < $3
           ORDER BY ts, mount LIMIT $4`,
          [server, query.from, query.to, SAMPLE_PAGE],
        )
      ).rows;
      while (page.length > 0) {
        for (const r of page) yield toMetricRow(r);
        if (page.length < SAMPLE_PAGE) break;
        const last = page[page.length - 1]!;
        page = (
          await this.pool.query<SampleDbRow>(
            `SELECT ${SAMPLE_COLUMNS} FROM samples
             WHERE server = $1 AND (server, ts, mount) > ($1, $2, $3) AND ts >= $2 AND ts < $4
             ORDER BY ts, mount LIMIT $5`,
            [server, last.ts, last.mount, query.to, SAMPLE_PAGE],
          )
        ).rows;
      }
    }
  }

  async listServers(): Promise<ServerSummary[]> {
    const r = await this.pool.query<{ server: string; first_seen: number; last_seen: number; rows: number }>(
      'SELECT server, first_seen, last_seen, rows FROM server_stats ORDER BY server COLLATE "C"',
    );
    return r.rows.map((x) => ({
      server: x.server,
      firstSeen: x.first_seen,
      lastSeen: x.last_seen,
      rows: x.rows,
    }));
  }
}
