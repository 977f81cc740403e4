import type pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import type { MetricRow } from "../../../protocol/index.js";
import { sampleValues } from "../db-rows.js";

/**
 * The bulk insert of one upload's rows into `samples`, inside the caller's
 * transaction, resolving to the number of rows that were new (ON CONFLICT DO
 * NOTHING: duplicates of (server, ts, mount) are not written, and counted
 * exactly as rows − inserted).
 *
 * Five methods, measured against each other by `npm run bench:ingest`
 * (bench/ingest/pg-bulk.ts; the runs are in bench/RESULTS.md):
 * - "unnest": one INSERT … SELECT FROM unnest(12 arrays), 12 parameters;
 * - "values": multi-row INSERT … VALUES, VALUES_CHUNK rows per statement;
 * - "copy": COPY into a per-connection temporary staging table, then one
 *   INSERT … SELECT … ON CONFLICT DO NOTHING from it;
 * - "copy-direct": COPY straight into `samples` inside a savepoint (every
 *   row new: inserted = rows); when a row is already stored, COPY stops with
 *   a unique violation, the savepoint is rolled back and the file goes in
 *   again through "unnest" with ON CONFLICT DO NOTHING. Same result, same
 *   count; the common case skips the speculative insertion of ON CONFLICT
 *   and uses COPY's multi-row heap inserts;
 * - "auto": "copy-direct" for files of COPY_MIN_ROWS rows or more, with
 *   "copy" as its fallback (a file sent again: 1.6× "values" there), and
 *   "values" below. Ingest (./ingest.ts) never calls this with "auto" below
 *   COPY_MIN_ROWS: it inserts those rows with unnest inside its one-statement
 *   upload instead.
 * `insertSamples` uses the fastest one (SAMPLE_INSERT_METHOD).
 */
export type SampleInsertMethod = "unnest" | "values" | "copy" | "copy-direct" | "auto";

export const SAMPLE_INSERT_METHODS: readonly SampleInsertMethod[] = [
  "unnest",
  "values",
  "copy",
  "copy-direct",
  "auto",
];

/** From this many rows on, "auto" COPYs; below, COPY's extra round trip costs more than it saves. */
export const COPY_MIN_ROWS = 500;

/** The method ingest uses: the fastest in the measurement (docs/scaling.md says why). */
export const SAMPLE_INSERT_METHOD: SampleInsertMethod = "auto";

export const SAMPLE_COLUMNS =
  "server, ts, mount, cpu_percent, cpu_peak_percent, interval_seconds, mem_total, mem_used, mem_available, disk_total, disk_used, disk_free";

export function insertSamples(
  client: pg.PoolClient,
  rows: readonly MetricRow[],
  method: SampleInsertMethod = SAMPLE_INSERT_METHOD,
): Promise<number> {
  if (rows.length === 0) return Promise.resolve(0);
  if (method === "copy") return insertByCopy(client, rows);
  if (method === "copy-direct") return insertByDirectCopy(client, rows, insertByUnnest);
  if (method === "auto") {
    return rows.length >= COPY_MIN_ROWS
      ? insertByDirectCopy(client, rows, insertByCopy)
      : insertByValues(client, rows);
  }
  if (method === "values") return insertByValues(client, rows);
  return insertByUnnest(client, rows);
}

async function insertByUnnest(client: pg.PoolClient, rows: readonly MetricRow[]): Promise<number> {
  const cols: unknown[][] = Array.from({ length: 12 }, () => new Array(rows.length));
  rows.forEach((r, i) => {
    const v = sampleValues(r);
    for (let c = 0; c < 12; c++) cols[c]![i] = v[c];
  });
  const res = await client.query(
    `INSERT INTO samples (${SAMPLE_COLUMNS})
     SELECT * FROM unnest($1::text[], $2::int8[], $3::text[], $4::float8[], $5::float8[], $6::float8[],
                          $7::int8[], $8::int8[], $9::int8[], $10::int8[], $11::int8[], $12::int8[])
     ON CONFLICT DO NOTHING`,
    cols,
  );
  return res.rowCount ?? 0;
}

/** Rows per multi-row INSERT: 12,000 parameters, well under PostgreSQL's 65,535. */
const VALUES_CHUNK = 1000;
const valuesSql = new Map<number, string>();

function valuesStatement(n: number): string {
  let sql = valuesSql.get(n);
  if (sql === undefined) {
    const tuples: string[] = [];
    for (let i = 0; i < n; i++) {
      const o = i * 12;
      tuples.push(
        `($${o + 1}::text, $${o + 2}::int8, $${o + 3}::text, $${o + 4}::float8, $${o + 5}::float8, $${o + 6}::float8, $${o + 7}::int8, $${o + 8}::int8, $${o + 9}::int8, $${o + 10}::int8, $${o + 11}::int8, $${o + 12}::int8)`,
      );
    }
    sql = `INSERT INTO samples (${SAMPLE_COLUMNS}) VALUES ${tuples.join(", ")} ON CONFLICT DO NOTHING`;
    valuesSql.set(n, sql);
  }
  return sql;
}

async function insertByValues(client: pg.PoolClient, rows: readonly MetricRow[]): Promise<number> {
  let inserted = 0;
  for (let start = 0; start < rows.length; start += VALUES_CHUNK) {
    const chunk = rows.slice(start, start + VALUES_CHUNK);
    const params: unknown[] = [];
    for (const r of chunk) params.push(...sampleValues(r));
    const res = await client.query({
      // Named: the full-chunk statement is parsed and planned once per connection.
      name: `srvutil-samples-values-${chunk.length}`,
      text: valuesStatement(chunk.length),
      values: params,
    });
    inserted += res.rowCount ?? 0;
  }
  return inserted;
}

/** Connections that already have their staging table (temporary tables live as long as the session). */
const withStaging = new WeakSet<pg.PoolClient>();

async function insertByCopy(client: pg.PoolClient, rows: readonly MetricRow[]): Promise<number> {
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

async function insertByDirectCopy(
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
