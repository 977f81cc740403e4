import type pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import type { MetricRow } from "../../../protocol/index.js";

/**
 * The bulk insert of a large file's rows into `samples` (COPY_MIN_ROWS rows
 * or more; ./ingest.ts writes smaller files in one statement), inside the
 * caller's transaction, resolving to the number of rows that were new (ON
 * CONFLICT DO NOTHING semantics: duplicates of (server, ts, mount) are not
 * written, and counted exactly as rows − inserted).
 *
 * COPY in binary format straight into `samples` inside a savepoint (every
 * row new: inserted = rows); when a row is already stored, COPY stops with a
 * unique violation, the savepoint is rolled back and the file goes in again
 * through a per-connection temporary staging table: COPY into it, then one
 * INSERT … SELECT … ON CONFLICT DO NOTHING. Same result, same count; the
 * common case skips the speculative insertion of ON CONFLICT and uses COPY's
 * multi-row heap inserts. `npm run bench:ingest` (bench/ingest/pg-bulk.ts,
 * with the other methods it was measured against in
 * bench/support/pg-sample-insert.ts; the runs are in bench/RESULTS.md)
 * measures it.
 */

/** From this many rows on, a file's rows are COPYed; below, COPY's extra round trip costs more than it saves. */
export const COPY_MIN_ROWS = 500;

export const SAMPLE_COLUMNS =
  "server, ts, mount, cpu_percent, cpu_peak_percent, interval_seconds, mem_total, mem_used, mem_available, disk_total, disk_used, disk_free";

/**
 * How a file's rows go into `samples` inside the caller's transaction,
 * resolving to the number of new rows. PgStore's `insertSamples` option
 * takes one: the benchmarks compare other methods through it.
 */
export type SampleInserter = (client: pg.PoolClient, rows: readonly MetricRow[]) => Promise<number>;

/** The insert of ingest's large files: direct COPY, else the staging COPY (see the top of this file). */
export function insertSamples(client: pg.PoolClient, rows: readonly MetricRow[]): Promise<number> {
  if (rows.length === 0) return Promise.resolve(0);
  return insertByDirectCopy(client, rows, insertByCopy);
}

/** Connections that already have their staging table (temporary tables live as long as the session). */
const withStaging = new WeakSet<pg.PoolClient>();

/** COPY into a per-connection temporary staging table, then INSERT … ON CONFLICT DO NOTHING from it. */
export async function insertByCopy(client: pg.PoolClient, rows: readonly MetricRow[]): Promise<number> {
  if (!withStaging.has(client)) {
    await client.query(
      "CREATE TEMPORARY TABLE IF NOT EXISTS samples_staging (LIKE samples) ON COMMIT DELETE ROWS",
    );
    withStaging.add(client);
  }
  await copyRows(client, "samples_staging", rows);
  const res = await client.query(
    `INSERT INTO samples (${SAMPLE_COLUMNS}) SELECT ${SAMPLE_COLUMNS} FROM samples_staging ON CONFLICT DO NOTHING`,
  );
  // ON COMMIT DELETE ROWS empties the staging table at COMMIT. A second call
  // in the same transaction would copy these rows again, but they then
  // conflict with themselves in samples and are not counted twice.
  return res.rowCount ?? 0;
}

/** COPY straight into `samples` inside a savepoint; on a unique violation, `fallback` inserts the file instead. */
export async function insertByDirectCopy(
  client: pg.PoolClient,
  rows: readonly MetricRow[],
  fallback: (client: pg.PoolClient, rows: readonly MetricRow[]) => Promise<number>,
): Promise<number> {
  // Not released on success: COMMIT releases it, one round trip fewer.
  await client.query("SAVEPOINT srvutil_copy");
  try {
    await copyRows(client, "samples", rows);
    return rows.length;
  } catch (err) {
    if ((err as { code?: unknown }).code !== "23505") throw err; // unique_violation: a row is stored already
    await client.query("ROLLBACK TO SAVEPOINT srvutil_copy");
    return fallback(client, rows);
  }
}

async function copyRows(client: pg.PoolClient, table: string, rows: readonly MetricRow[]): Promise<void> {
  await copyIn(client, `COPY ${table} (${SAMPLE_COLUMNS}) FROM STDIN (FORMAT binary)`, binaryCopyData(rows));
}

/** PGCOPY signature, flags and header extension length (COPY binary format). */
const BINARY_HEADER = Buffer.from([
  0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00, 0, 0, 0, 0, 0, 0, 0, 0,
]);
const TWO_32 = 2 ** 32;

/**
 * The rows in COPY's binary format. PostgreSQL then reads the numbers as
 * they are instead of parsing their text (float8in and int8in were most of
 * a text COPY's server time); the strings are encoded once per file.
 */
export function binaryCopyData(rows: readonly MetricRow[]): Buffer {
  // Written in one pass through a DataView with the offset in a local: no
  // closures over it and no bounds-checked Buffer helpers per value (they
  // were most of the encoder's time in a profile of `central import`).
  const strings = new Map<string, Buffer>();
  const utf8 = (s: string): Buffer => {
    let b = strings.get(s);
    if (b === undefined) {
      b = Buffer.from(s, "utf8");
      strings.set(s, b);
    }
    return b;
  };
  let size = BINARY_HEADER.length + 2;
  for (const r of rows) {
    // Field count, 12 length words, 10 eight-byte numbers (two may be NULL: shorter) and 2 strings.
    size += 2 + 12 * 4 + 10 * 8 + utf8(r.server).length + utf8(r.diskMount).length;
  }
  const buf = Buffer.allocUnsafe(size);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  BINARY_HEADER.copy(buf, 0);
  let o = BINARY_HEADER.length;
  for (const r of rows) {
    view.setInt16(o, 12);
    o += 2;
    const server = utf8(r.server);
    view.setInt32(o, server.length);
    o += 4 + server.copy(buf, o + 4);
    o = putInt8(view, o, r.timestamp);
    const mount = utf8(r.diskMount);
    view.setInt32(o, mount.length);
    o += 4 + mount.copy(buf, o + 4);
    o = putFloat8(view, o, r.cpuPercent);
    o = putFloat8(view, o, r.cpuPeakPercent ?? null);
    o = putFloat8(view, o, r.intervalSeconds ?? null);
    o = putInt8(view, o, r.memTotalBytes);
    o = putInt8(view, o, r.memUsedBytes);
    o = putInt8(view, o, r.memAvailableBytes);
    o = putInt8(view, o, r.diskTotalBytes);
    o = putInt8(view, o, r.diskUsedBytes);
    o = putInt8(view, o, r.diskFreeBytes);
  }
  view.setInt16(o, -1);
  return buf.subarray(0, o + 2);
}

/** An int8 field (length word and value) at `o`; returns the offset after it. Exact for |n| < 2^53. */
function putInt8(view: DataView, o: number, n: number): number {
  view.setInt32(o, 8);
  const hi = Math.floor(n / TWO_32);
  view.setInt32(o + 4, hi);
  view.setUint32(o + 8, n - hi * TWO_32);
  return o + 12;
}

/** A float8 field, or NULL (length -1, no value), at `o`; returns the offset after it. */
function putFloat8(view: DataView, o: number, n: number | null): number {
  if (n === null) {
    view.setInt32(o, -1);
    return o + 4;
  }
  view.setInt32(o, 8);
  view.setFloat64(o + 4, n);
  return o + 12;
}

/** Runs one `COPY … FROM STDIN` with `data` (in the statement's format, escaped by the caller) as its data. */
export async function copyIn(client: pg.PoolClient, sql: string, data: string | Buffer): Promise<void> {
  const stream = client.query(copyFrom(sql));
  await new Promise<void>((resolve, reject) => {
    stream.on("error", reject);
    stream.on("finish", resolve);
    stream.end(data);
  });
}
