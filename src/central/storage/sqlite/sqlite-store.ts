import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { Worker } from "node:worker_threads";
import Database from "better-sqlite3";
import type { MetricRow } from "../../../protocol/index.js";
import {
  type SampleDbRow,
  sampleValues,
  toMetricRow,
  toStoredUpload,
  type UploadDbRow,
  uploadKeyValues,
} from "../db-rows.js";
import { appliedMigrationsOf } from "../migration-log.js";
import { SqliteRollupStore } from "../rollups/sqlite/rollups.js";
import { ensureRollupSchema } from "../rollups/sqlite/schema.js";
import type {
  IngestAnswer,
  IngestOutcome,
  SampleQuery,
  ServerSummary,
  Storage,
  StorageCapabilities,
  StoredUpload,
  UploadRecord,
} from "../store.js";
import { AgentTokenRevokedError, type StorageReaderSpec } from "../store.js";
import { initComponents } from "../store-components.js";
import { SqliteAgentUpdateStore } from "./agent-updates.js";
import { SqliteAlertStore } from "./alerts.js";
import { SqliteCoordinationStore } from "./coordination.js";
import { SqliteCpuBaselineStore } from "./cpu-baselines.js";
import { SqliteDashboardReads } from "./dashboard-reads.js";
import { SqliteDeliveryStore } from "./deliveries.js";
import { SqliteEnrolmentStore } from "./enrolments.js";
import { runMigrations } from "./migrate.js";
import { insertSqliteRawUpload, SqliteRawUploadStore } from "./raw-uploads.js";
import { SqliteReportArchive } from "./report-archive.js";
import { SqliteRetentionStore } from "./retention.js";
import { METRICS_MIGRATIONS } from "./schema.js";
import { SqliteScrapeStatusStore } from "./scrape-status.js";
import { SqliteServerInputStore } from "./server-inputs.js";
import { SqliteTagStore } from "./tags.js";
import { SqliteTokenStore } from "./tokens.js";
import { SqliteUserStore } from "./users.js";

/**
 * How SQLite syncs the WAL. NORMAL (default): a commit is durable against a
 * crash of the process (kill -9, OOM) and the event loop never waits for a
 * disk flush; a power loss can roll back the commits since the last
 * checkpoint, whose raw files were fsynced before the 201: the startup
 * recovery of `central serve` re-ingests them. FULL: every commit fsyncs the
 * WAL on the event loop. See docs/performance.md for the measurement.
 */
export type SqliteSynchronous = "NORMAL" | "FULL";

export interface SqliteStoreOptions {
  synchronous?: SqliteSynchronous;
  /** How long a writer waits for another process' lock before failing, ms. */
  busyTimeoutMs?: number;
  /**
   * Run WAL checkpoints on a worker thread (default: true for files). A
   * checkpoint copies the WAL into the database and fsyncs both; run inline
   * it stalls the event loop for milliseconds every ~1000 pages, which shows
   * up as p99 upload latency.
   */
  backgroundCheckpoint?: boolean;
}

/** How often the background checkpointer runs, ms. */
const CHECKPOINT_INTERVAL_MS = 500;
/** Inline auto-checkpoint threshold when the background one runs: only a safety net. */
const SAFETY_NET_CHECKPOINT_PAGES = 2000;

/** Plain CommonJS so it runs in a worker without any TypeScript loader. */
const CHECKPOINT_WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.driver);
const db = new Database(workerData.file);
db.pragma("busy_timeout = 2000");
db.pragma("synchronous = " + workerData.synchronous);
const checkpoint = () => { try { db.pragma("wal_checkpoint(PASSIVE)"); } catch {} };
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on("message", (m) => {
  if (m !== "stop") return;
  clearInterval(timer);
  checkpoint();
  db.close();
  parentPort.close();
});
`;

/** A group commit is flushed early once it holds this many rows. */
const GROUP_COMMIT_MAX_ROWS = 50_000;

interface PendingIngest {
  upload: UploadRecord;
  rows: readonly MetricRow[];
  resolve: (outcome: IngestOutcome) => void;
  reject: (err: unknown) => void;
}

/** Rows fetched per query while streaming samples (keyset pagination). */
const SAMPLE_PAGE = 5000;

/**
 * The embedded store: one SQLite file in WAL mode. better-sqlite3 is
 * synchronous, so every method runs to completion on the event loop; the
 * async signatures exist for the PostgreSQL implementation behind the same
 * interface. A single-file ingest is one transaction with prepared
 * statements, which is what makes it fast (see bench/ingest).
 */
export class SqliteStore implements Storage {
  readonly kind = "sqlite" as const;
  readonly capabilities: StorageCapabilities = { shared: false };
  /** The raw handle, for modules in storage/sqlite/ (rollups, deliveries) that own their own tables. */
  readonly db: Database.Database;
  readonly tokens: SqliteTokenStore;
  readonly cpuBaselines: SqliteCpuBaselineStore;
  readonly rollups: SqliteRollupStore;
  readonly deliveries: SqliteDeliveryStore;
  readonly rawUploads: SqliteRawUploadStore;
  readonly coordination: SqliteCoordinationStore;
  readonly scrapeStatus: SqliteScrapeStatusStore;
  readonly tags: SqliteTagStore;
  readonly serverInputs: SqliteServerInputStore;
  readonly users: SqliteUserStore;
  readonly reports: SqliteReportArchive;
  readonly dashboard: SqliteDashboardReads;
  readonly retention: SqliteRetentionStore;
  readonly alerts: SqliteAlertStore;
  readonly enrolments: SqliteEnrolmentStore;
  readonly agentUpdates: SqliteAgentUpdateStore;
  readonly synchronous: SqliteSynchronous;
  private statements: ReturnType<typeof prepareStatements> | null = null;
  private closed = false;
  private checkpointer: Worker | null = null;
  private pending: PendingIngest[] = [];
  private pendingRows = 0;
  /** Reused parameter array of the multi-row INSERT (ingest is synchronous, so never shared). */
  private readonly batchArgs: unknown[] = new Array(SAMPLE_BATCH * 12);
  private flushScheduled = false;

  constructor(
    readonly file: string,
    options: SqliteStoreOptions = {},
  ) {
    if (file !== ":memory:") mkdirSync(path.dirname(file), { recursive: true });
    this.db = new Database(file);
    this.synchronous = options.synchronous ?? "NORMAL";
    this.db.pragma("journal_mode = WAL");
    this.db.pragma(`synchronous = ${this.synchronous}`);
    this.db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
    this.db.pragma("foreign_keys = ON");
    if ((options.backgroundCheckpoint ?? true) && file !== ":memory:") this.startCheckpointer();
    this.tokens = new SqliteTokenStore(this.db);
    this.cpuBaselines = new SqliteCpuBaselineStore(this.db);
    this.rollups = new SqliteRollupStore(this.db);
    this.deliveries = new SqliteDeliveryStore(this.db);
    this.rawUploads = new SqliteRawUploadStore(this.db);
    this.coordination = new SqliteCoordinationStore(this.db);
    this.scrapeStatus = new SqliteScrapeStatusStore(this.db);
    this.tags = new SqliteTagStore(this.db);
    this.serverInputs = new SqliteServerInputStore(this.db);
    this.users = new SqliteUserStore(this.db);
    this.reports = new SqliteReportArchive(this.db);
    this.dashboard = new SqliteDashboardReads(this.db);
    this.retention = new SqliteRetentionStore(this.db);
    this.alerts = new SqliteAlertStore(this.db);
    this.enrolments = new SqliteEnrolmentStore(this.db);
    this.agentUpdates = new SqliteAgentUpdateStore(this.db);
  }

  async init(): Promise<void> {
    runMigrations(this.db, "metrics", METRICS_MIGRATIONS);
    ensureRollupSchema(this.db);
    await initComponents(this);
    this.statements = prepareStatements(this.db);
    this.tokens.prepare();
    this.cpuBaselines.prepare();
  }

  appliedMigrations() {
    return appliedMigrationsOf(this.db);
  }

  get readerSpec(): StorageReaderSpec | null {
    return this.file === ":memory:" ? null : { backend: "sqlite", file: this.file };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.flush(); // commit what is queued; its callers are waiting for it
    this.closed = true;
    const worker = this.checkpointer;
    if (worker !== null) {
      // Let the worker close its connection first, so ours is the last one
      // and SQLite folds the WAL back into the database file on close.
      worker.ref(); // keep the process alive until the worker has closed its connection
      const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
      worker.postMessage("stop");
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, 2000);
      });
      await Promise.race([exited, timeout]);
      clearTimeout(timer);
      await worker.terminate();
    }
    this.db.close();
  }

  private startCheckpointer(): void {
    try {
      const driver = createRequire(import.meta.url).resolve("better-sqlite3");
      const worker = new Worker(CHECKPOINT_WORKER, {
        eval: true,
        workerData: {
          driver,
          file: this.file,
          synchronous: this.synchronous,
          intervalMs: CHECKPOINT_INTERVAL_MS,
        },
      });
      worker.unref(); // a store someone forgets to close must not keep the process alive
      worker.on("error", () => {
        // Without it, the inline auto-checkpoint takes over again.
        this.checkpointer = null;
        if (!this.closed) this.db.pragma("wal_autocheckpoint = 1000");
      });
      this.checkpointer = worker;
      this.db.pragma(`wal_autocheckpoint = ${SAFETY_NET_CHECKPOINT_PAGES}`);
    } catch {
      this.checkpointer = null;
    }
  }

  async ping(): Promise<boolean> {
    try {
      return this.db.prepare("SELECT 1").pluck().get() === 1;
    } catch {
      return false;
    }
  }

  private get st(): ReturnType<typeof prepareStatements> {
    if (this.statements === null) throw new Error("SqliteStore.init() must be called before use");
    return this.statements;
  }

  /**
   * Group commit: uploads that arrive while the event loop is busy are
   * committed together in one transaction on the next turn, each inside its
   * own savepoint, so one failing file rolls back alone. The promise of each
   * upload resolves only after that shared COMMIT: same durability, one WAL
   * write instead of many (see docs/api.md, "Storage").
   */
  async ingest(upload: UploadRecord, rows: readonly MetricRow[]): Promise<IngestOutcome> {
    return new Promise<IngestOutcome>((resolve, reject) => {
      this.pending.push({ upload, rows, resolve, reject });
      this.pendingRows += rows.length;
      if (this.pendingRows >= GROUP_COMMIT_MAX_ROWS) this.flush();
      else if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.flushScheduled = false;
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    this.pendingRows = 0;
    let outcomes: (IngestOutcome | Error)[];
    try {
      outcomes = this.commitGroup(batch);
    } catch (err) {
      for (const item of batch) item.reject(err);
      return;
    }
    batch.forEach((item, i) => {
      const o = outcomes[i]!;
      if (o instanceof Error) item.reject(o);
      else item.resolve(o);
    });
  }

  /**
   * One transaction for the whole group. First without savepoints: a file
   * almost never fails on its own (INSERT OR IGNORE, random upload ids), and
   * a SAVEPOINT plus RELEASE per file is a fifth of the work for a 20-row
   * file. If any file throws, that attempt is rolled back as a whole and the
   * group is committed again with one savepoint per file, so only the
   * failing file is refused.
   */
  private commitGroup(batch: readonly PendingIngest[]): (IngestOutcome | Error)[] {
    if (batch.length === 1) {
      const item = batch[0]!;
      try {
        return [this.db.transaction(() => this.insertFile(item.upload, item.rows)).immediate()];
      } catch (err) {
        return [asError(err)];
      }
    }
    try {
      return this.db
        .transaction(() => batch.map((item) => this.insertFile(item.upload, item.rows)))
        .immediate();
    } catch {
      // Rolled back; retried file by file below.
    }
    const outcomes: (IngestOutcome | Error)[] = [];
    this.db
      .transaction(() => {
        for (const item of batch) {
          try {
            // Nested transaction = SAVEPOINT: a failure undoes this file only.
            outcomes.push(this.db.transaction(() => this.insertFile(item.upload, item.rows))());
          } catch (err) {
            outcomes.push(asError(err));
          }
        }
      })
      .immediate();
    return outcomes;
  }

  /** One file in its own transaction, synchronously (rebuild, benchmarks). */
  ingestSync(upload: UploadRecord, rows: readonly MetricRow[]): IngestOutcome {
    return this.db.transaction(() => this.insertFile(upload, rows)).immediate();
  }

  private insertFile(upload: UploadRecord, rows: readonly MetricRow[]): IngestOutcome {
    const st = this.st;
    // Inside the write's transaction: a revocation committed before it refuses the upload.
    if (upload.agentTokenId !== undefined) this.requireActiveAgentToken(upload.agentTokenId);
    let inserted = 0;
    let tsMin = Number.POSITIVE_INFINITY;
    let tsMax = Number.NEGATIVE_INFINITY;
    // Rows go in SAMPLE_BATCH at a time through one multi-row INSERT: about
    // 30 % faster than one statement per row (fewer VM round trips); the
    // remainder goes row by row. `changes` counts only the new rows either way.
    const batchArgs = this.batchArgs;
    const full = rows.length - (rows.length % SAMPLE_BATCH);
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      const ts = r.timestamp;
      if (ts < tsMin) tsMin = ts;
      if (ts > tsMax) tsMax = ts;
      if (i < full) {
        const o = (i % SAMPLE_BATCH) * 12;
        batchArgs[o] = r.server;
        batchArgs[o + 1] = ts;
        batchArgs[o + 2] = r.diskMount;
        batchArgs[o + 3] = r.cpuPercent;
        batchArgs[o + 4] = r.cpuPeakPercent;
        batchArgs[o + 5] = r.intervalSeconds;
        batchArgs[o + 6] = r.memTotalBytes;
        batchArgs[o + 7] = r.memUsedBytes;
        batchArgs[o + 8] = r.memAvailableBytes;
        batchArgs[o + 9] = r.diskTotalBytes;
        batchArgs[o + 10] = r.diskUsedBytes;
        batchArgs[o + 11] = r.diskFreeBytes;
        if (o === (SAMPLE_BATCH - 1) * 12) inserted += st.insertSampleBatch.run(batchArgs).changes;
        continue;
      }
      inserted += st.insertSample.run(...sampleValues(r)).changes;
    }
    const hasRows = rows.length > 0;
    st.insertUpload.run(
      ...uploadKeyValues(upload),
      rows.length,
      inserted,
      hasRows ? tsMin : null,
      hasRows ? tsMax : null,
    );
    insertSqliteRawUpload(this.db, upload);
    if (hasRows) st.upsertServerStats.run(upload.server, tsMin, tsMax, inserted);
    return { uploadId: upload.uploadId, rows: rows.length, inserted, duplicates: rows.length - inserted };
  }

  async hasUpload(server: string, sha256: string): Promise<boolean> {
    return this.st.findUpload.get(server, sha256) !== undefined;
  }

  async hasUploadId(uploadId: string): Promise<boolean> {
    return this.st.hasUploadId.get(uploadId) !== undefined;
  }

  async uploadCount(): Promise<number> {
    return this.st.uploadCount.get() as number;
  }

  async ingestUnlessReplay(upload: UploadRecord, rows: readonly MetricRow[]): Promise<IngestAnswer> {
    const earlier = await this.findUpload(upload.server, upload.sha256);
    if (earlier !== null) {
      // A replay stores nothing, but a revoked token still gets no answer but 401.
      if (upload.agentTokenId !== undefined) this.requireActiveAgentToken(upload.agentTokenId);
      return { replayOf: earlier };
    }
    return { replayOf: null, outcome: await this.ingest(upload, rows) };
  }

  private requireActiveAgentToken(tokenId: string): void {
    const token = this.tokens.findNow("agent", tokenId);
    if (token === null || token.revokedAt !== null) throw new AgentTokenRevokedError(tokenId);
  }

  async findUpload(server: string, sha256: string): Promise<StoredUpload | null> {
    const row = this.st.findUpload.get(server, sha256) as UploadDbRow | undefined;
    return row === undefined ? null : toStoredUpload(row);
  }

  async clearIngestedData(): Promise<void> {
    this.db
      .transaction(() => {
        this.db.exec("DELETE FROM samples; DELETE FROM uploads; DELETE FROM server_stats;");
      })
      .immediate();
  }

  async *samples(query: SampleQuery): AsyncIterable<MetricRow> {
    const servers =
      query.servers !== undefined
        ? [...new Set(query.servers)].sort()
        : (this.st.listServerNames.all() as string[]);
    for (const server of servers) {
      // Keyset pagination instead of one open iterator: an iterator would hold
      // the connection busy across awaits, blocking concurrent ingests.
      let page = this.st.samplesFirstPage.all(server, query.from, query.to, SAMPLE_PAGE) as SampleDbRow[];
      while (page.length > 0) {
        for (const r of page) yield toMetricRow(r);
        if (page.length < SAMPLE_PAGE) break;
        const last = page[page.length - 1]!;
        page = this.st.samplesNextPage.all(
          server,
          last.ts,
          last.ts,
          last.mount,
          query.to,
          SAMPLE_PAGE,
        ) as SampleDbRow[];
      }
    }
  }

  async listServers(): Promise<ServerSummary[]> {
    const rows = this.st.listServers.all() as {
      server: string;
      first_seen: number;
      last_seen: number;
      rows: number;
    }[];
    return rows.map((r) => ({
      server: r.server,
      firstSeen: r.first_seen,
      lastSeen: r.last_seen,
      rows: r.rows,
    }));
  }
}

/** Rows per multi-row INSERT (12 parameters each, far below SQLite's limit). */
const SAMPLE_BATCH = 64;

function prepareStatements(db: Database.Database) {
  const sampleColumns =
    "server, ts, mount, cpu_percent, cpu_peak_percent, interval_seconds, mem_total, mem_used, mem_available, disk_total, disk_used, disk_free";
  return {
    insertSample: db.prepare(
      `INSERT OR IGNORE INTO samples (${sampleColumns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    insertSampleBatch: db.prepare(
      `INSERT OR IGNORE INTO samples (${sampleColumns}) VALUES ${Array(SAMPLE_BATCH).fill("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)").join(", ")}`,
    ),
    insertUpload: db.prepare(
      `INSERT INTO uploads (upload_id, server, received_at, raw_path, sha256, bytes, rows, inserted, ts_min, ts_max)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    upsertServerStats: db.prepare(
      `INSERT INTO server_stats (server, first_seen, last_seen, rows) VALUES (?, ?, ?, ?)
       ON CONFLICT (server) DO UPDATE SET
         first_seen = MIN(first_seen, excluded.first_seen),
         last_seen = MAX(last_seen, excluded.last_seen),
         rows = rows + excluded.rows`,
    ),
    findUpload: db.prepare(
      "SELECT upload_id, server, received_at, raw_path, rows, inserted FROM uploads WHERE server = ? AND sha256 = ? ORDER BY seq LIMIT 1",
    ),
    hasUploadId: db.prepare("SELECT 1 FROM uploads WHERE upload_id = ?").pluck(),
    uploadCount: db.prepare("SELECT count(*) FROM uploads").pluck(),
    listServerNames: db.prepare("SELECT server FROM server_stats ORDER BY server").pluck(),
    listServers: db.prepare("SELECT server, first_seen, last_seen, rows FROM server_stats ORDER BY server"),
    samplesFirstPage: db.prepare(
      `SELECT ${sampleColumns} FROM samples WHERE server = ? AND ts >= ? AND ts < ? ORDER BY ts, mount LIMIT ?`,
    ),
    samplesNextPage: db.prepare(
      `SELECT ${sampleColumns} FROM samples
       WHERE server = ? AND (ts > ? OR (ts = ? AND mount > ?)) AND ts < ? ORDER BY ts, mount LIMIT ?`,
    ),
  };
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
