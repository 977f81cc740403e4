import { InputError } from "../../errors.js";
import type { MetricRow } from "../../protocol/index.js";

/**
 * Samples and the uploads they came in: the part of the storage port that
 * ingest, import, rebuild, the read API and reports use. Its methods sit on
 * Storage itself (`store.ingest`, `store.samples`), the part every caller
 * needs. SQLite: ./sqlite/sqlite-store.ts; PostgreSQL: ./postgres/pg-store.ts
 * and ./postgres/ingest.ts.
 */
export interface SampleStore {
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
