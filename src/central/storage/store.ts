import { InputError } from "../../errors.js";
import type { MetricRow } from "../../protocol/index.js";
import type { CoordinationStore } from "./coordination-store.js";
import type { DashboardReads } from "./dashboard-reads.js";
import type { DeliveryStore } from "./delivery-store.js";
import type { AppliedMigration } from "./migration-log.js";
import type { RawUploadStore } from "./raw-upload-store.js";
import type { ReportArchiveStore } from "./report-archive-store.js";
import type { RetentionStore } from "./retention-store.js";
import type { RollupStore } from "./rollup-store.js";
import type { TokenStore } from "./token-store.js";
import type { UserStore } from "./user-store.js";

export type { AgentTokenRecord, TokenRole, TokenStore, TokenUse } from "./token-store.js";

/**
 * The storage port of the central server: everything the central keeps, on
 * SQLite (the embedded default) or PostgreSQL (several central instances).
 * `openStorage` (./open.ts) is the one place that picks the backend; nothing
 * outside storage/ knows which one runs. Every method is async because
 * PostgreSQL is.
 */
export interface Storage extends MetricsStore {
  /** Hourly and daily rollups of the samples (./rollup-store.ts). */
  readonly rollups: RollupStore;
  /** Report deliveries per (week, group) (./delivery-store.ts). */
  readonly deliveries: DeliveryStore;
  /** Raw uploads kept in the database (SRVUTIL_RAW_STORE=database; ./raw-upload-store.ts). */
  readonly rawUploads: RawUploadStore;
  /** Job leases and instance heartbeats shared by every instance (./coordination-store.ts). */
  readonly coordination: CoordinationStore;
  /** The migrations this handle's init() applied (empty when the schema was current). */
  appliedMigrations(): readonly AppliedMigration[];
  /** Dashboard users, sessions, login throttle (./user-store.ts). */
  readonly users: UserStore;
  /** Weekly reports as sent (./report-archive-store.ts). */
  readonly reports: ReportArchiveStore;
  /** The dashboard's batched reads (./dashboard-reads.ts). */
  readonly dashboard: DashboardReads;
  /** Pruning of the raw samples past the retention horizon (./retention-store.ts). */
  readonly retention: RetentionStore;
}

/** Samples, uploads and tokens: the part of the port that ingest and authentication use. */
export interface MetricsStore {
  /**
   * Names the backend in logs and messages. Code outside storage/ never
   * branches on it: it asks `capabilities`, or a method does the
   * backend-specific thing.
   */
  readonly kind: "sqlite" | "postgres";
  /** What the backend can do, for the callers whose behaviour depends on it. */
  readonly capabilities: StorageCapabilities;
  /** Creates or upgrades the schema of every part (versioned migrations). Idempotent. */
  init(): Promise<void>;
  close(): Promise<void>;
  /** True when the database answers within a few seconds (for /readyz). */
  ping(): Promise<boolean>;

  /**
   * Stores one accepted upload and its rows in one transaction. Rows already
   * stored under the same (server, timestamp, disk_mount) are duplicates and
   * are not written again. Resolves only after the transaction is committed.
   */
  ingest(upload: UploadRecord, rows: readonly MetricRow[]): Promise<IngestOutcome>;
  /**
   * `ingest`, unless this server already sent a file with the same content
   * (upload.sha256), as an agent does that retries after a lost answer: then
   * nothing is stored and the answer is the earlier upload. On PostgreSQL a
   * fleet upload is then one round trip, the replay check included.
   */
  ingestUnlessReplay(upload: UploadRecord, rows: readonly MetricRow[]): Promise<IngestAnswer>;
  /** True when an upload with this content hash from this server is stored. */
  hasUpload(server: string, sha256: string): Promise<boolean>;
  /** True when an upload with this id is stored (startup recovery). */
  hasUploadId(uploadId: string): Promise<boolean>;
  /** How many uploads are stored (`central rebuild` checks that each has its raw file). */
  uploadCount(): Promise<number>;
  /** The earliest stored upload with this content hash from this server (replay detection). */
  findUpload(server: string, sha256: string): Promise<StoredUpload | null>;
  /**
   * Deletes every sample, upload and per-server summary (tokens stay), so
   * `central rebuild` can re-ingest received_metrics/ from scratch.
   */
  clearIngestedData(): Promise<void>;

  /** Rows with from <= timestamp < to, ordered by server, timestamp, disk_mount. */
  samples(query: SampleQuery): AsyncIterable<MetricRow>;
  listServers(): Promise<ServerSummary[]>;

  /** Agent and viewer tokens, keyed by role (./token-store.ts). */
  readonly tokens: TokenStore;
}

export interface StorageCapabilities {
  /**
   * Several central instances can share this storage (a server database, not
   * a local file): raw uploads then belong in the database, and a rebuild from
   * one instance's local raw files would lose the others' uploads.
   */
  readonly shared: boolean;
}

export interface StoredUpload {
  uploadId: string;
  server: string;
  receivedAt: number;
  rawPath: string;
  rows: number;
  inserted: number;
}

export interface UploadRecord {
  uploadId: string;
  server: string;
  receivedAt: number;
  /** Path of the raw file relative to the data directory. */
  rawPath: string;
  sha256: string;
  bytes: number;
  /**
   * The file, gzip-compressed, when raw uploads are kept in the database
   * (SRVUTIL_RAW_STORE=database): stored in the same transaction as the rows.
   */
  rawGzip?: Uint8Array;
  /**
   * The agent token the upload was authenticated with. When set, the write
   * stores nothing and throws AgentTokenRevokedError unless that token is
   * still active as the write runs: the upload route authenticates from a
   * cache (auth/token-cache.ts), and this check is what keeps a revocation,
   * made by any instance or the CLI, effective from the very next upload.
   */
  agentTokenId?: string;
}

/**
 * The agent token an upload came with was revoked (or removed) after it was
 * authenticated; nothing of the upload was stored. The upload route answers
 * 401, as it does for any revoked token.
 */
export class AgentTokenRevokedError extends InputError {
  constructor(readonly tokenId: string) {
    super(`agent token ${tokenId} is revoked`, { status: 401 });
  }
}

export interface IngestOutcome {
  uploadId: string;
  rows: number;
  /** Rows that were new. */
  inserted: number;
  /** Rows already stored (same server, timestamp, disk_mount). */
  duplicates: number;
}

export type IngestAnswer = { replayOf: StoredUpload } | { replayOf: null; outcome: IngestOutcome };

export interface SampleQuery {
  from: number;
  to: number;
  servers?: readonly string[];
}

export interface ServerSummary {
  server: string;
  firstSeen: number;
  lastSeen: number;
  rows: number;
}
