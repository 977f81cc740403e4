import type { MetricRow } from "../../protocol/index.js";
import { scopeFromColumn } from "../auth/principal.js";
import type { AgentTokenRecord, StoredUpload, UploadRecord } from "./store.js";

/**
 * Rows as both SQL implementations return them (same column names in SQLite
 * and PostgreSQL), and their mapping to the storage interface's types.
 */
export interface SampleDbRow {
  server: string;
  ts: number;
  mount: string;
  cpu_percent: number;
  cpu_peak_percent: number | null;
  interval_seconds: number | null;
  mem_total: number;
  mem_used: number;
  mem_available: number;
  disk_total: number;
  disk_used: number;
  disk_free: number;
}

export interface TokenDbRow {
  token_id: string;
  server: string;
  secret_hash: string;
  created_at: number;
  revoked_at: number | null;
  last_used_at: number | null;
  /** relay_tokens only (NULL AS servers for the other roles). */
  servers?: string | null;
  /** viewer_tokens only (NULL AS scope_groups for the other roles). */
  scope_groups?: string | null;
}

export interface UploadDbRow {
  upload_id: string;
  server: string;
  received_at: number;
  raw_path: string;
  rows: number;
  inserted: number;
}

export function toStoredUpload(r: UploadDbRow): StoredUpload {
  return {
    uploadId: r.upload_id,
    server: r.server,
    receivedAt: r.received_at,
    rawPath: r.raw_path,
    rows: r.rows,
    inserted: r.inserted,
  };
}

/**
 * A row's values in the samples table's column order (server, ts, mount,
 * cpu_percent, …, disk_free): the parameters of every sample INSERT.
 */
/** The first six columns of an `uploads` row (upload_id … bytes), in column order, on both backends. */
export function uploadKeyValues(u: UploadRecord): unknown[] {
  return [u.uploadId, u.server, u.receivedAt, u.rawPath, u.sha256, u.bytes];
}

export function sampleValues(r: MetricRow): unknown[] {
  return [
    r.server,
    r.timestamp,
    r.diskMount,
    r.cpuPercent,
    r.cpuPeakPercent,
    r.intervalSeconds,
    r.memTotalBytes,
    r.memUsedBytes,
    r.memAvailableBytes,
    r.diskTotalBytes,
    r.diskUsedBytes,
    r.diskFreeBytes,
  ];
}

export function toMetricRow(r: SampleDbRow): MetricRow {
  return {
    timestamp: r.ts,
    server: r.server,
    cpuPercent: r.cpu_percent,
    cpuPeakPercent: r.cpu_peak_percent,
    intervalSeconds: r.interval_seconds,
    memTotalBytes: r.mem_total,
    memUsedBytes: r.mem_used,
    memAvailableBytes: r.mem_available,
    diskMount: r.mount,
    diskTotalBytes: r.disk_total,
    diskUsedBytes: r.disk_used,
    diskFreeBytes: r.disk_free,
  };
}

export function toTokenRecord(r: TokenDbRow): AgentTokenRecord {
  return {
    tokenId: r.token_id,
    server: r.server,
    secretHash: r.secret_hash,
    createdAt: r.created_at,
    revokedAt: r.revoked_at,
    lastUsedAt: r.last_used_at,
    ...(r.servers == null ? {} : { servers: r.servers }),
    ...(r.scope_groups == null ? {} : { groups: scopeFromColumn(r.scope_groups) }),
  };
}
