import type { Storage } from "./store.js";

/**
 * Raw uploads kept in the database (SRVUTIL_RAW_STORE=database, the default
 * on PostgreSQL): the exact bytes of every accepted file, written in the
 * ingest transaction together with its rows, so the 2xx an agent gets means
 * the file itself is committed in the shared database, not on the disk of the
 * instance that took it. `central rebuild` re-derives everything from here.
 *
 * Stored gzip-compressed (CSV shrinks about 5-10×); read back decompressed.
 */
export interface RawUploadStore {
  /** Raw uploads with upload_id > `after` (null: from the start) in upload-id (= receipt) order. */
  page(after: string | null, limit: number): Promise<RawUpload[]>;
  /** How many raw uploads are stored. */
  count(): Promise<number>;
  /** Stored uploads that have no raw upload here (received with SRVUTIL_RAW_STORE=files). */
  uploadsWithoutRaw(): Promise<number>;
  /** Deletes raw uploads received before `receivedAt` (retention); resolves to how many. */
  pruneBefore(receivedAt: number): Promise<number>;
}

export interface RawUpload {
  uploadId: string;
  server: string;
  receivedAt: number;
  /** The path the file would have under the data directory (received_metrics/<server>/<day>/<name>). */
  rawPath: string;
  /** The file's bytes as received (decompressed). */
  bytes: Uint8Array;
}

/** SRVUTIL_RAW_STORE: where raw uploads go. */
export type RawStoreSetting = "auto" | "files" | "database";

/**
 * `auto` keeps raw files on the local disk with SQLite (one machine: the disk
 * is the database's disk anyway) and in the database with PostgreSQL, where
 * several instances share the database but not their disks.
 */
export function rawStoreMode(
  setting: RawStoreSetting,
  store: Pick<Storage, "capabilities">,
): "files" | "database" {
  if (setting !== "auto") return setting;
  return store.capabilities.shared ? "database" : "files";
}

/**
 * What an operator must hear at start about the chosen raw store, or null.
 * SQLite with synchronous=NORMAL does not fsync its commits; in files mode
 * the fsynced raw file is what startup recovery re-ingests an acknowledged
 * upload from after a power loss, and in database mode there is no such file.
 */
export function rawStoreWarning(
  mode: "files" | "database",
  store: Pick<Storage, "kind">,
  sqliteSynchronous: "NORMAL" | "FULL",
): string | null {
  if (mode !== "database" || store.kind !== "sqlite" || sqliteSynchronous === "FULL") return null;
  return "SRVUTIL_RAW_STORE=database on SQLite with SRVUTIL_SQLITE_SYNCHRONOUS=NORMAL: a power loss can lose acknowledged uploads (there is no raw file to recover them from); set SRVUTIL_SQLITE_SYNCHRONOUS=FULL or SRVUTIL_RAW_STORE=files";
}
