import type pg from "pg";
import type { MetricRow } from "../../../protocol/index.js";
import { HOUR_MS } from "../../aggregate/rows.js";
import { sampleValues, toStoredUpload, type UploadDbRow, uploadKeyValues } from "../db-rows.js";
import { DIRTY_MARK_CONFLICT } from "../rollups/postgres/rollups.js";
import { AgentTokenRevokedError, type IngestAnswer, type StoredUpload, type UploadRecord } from "../store.js";
import { COPY_MIN_ROWS, insertSamples, SAMPLE_COLUMNS, type SampleInserter } from "./sample-insert.js";
import { inTransaction } from "./transaction.js";

/**
 * One upload into PostgreSQL: its rows, its `uploads` row, its raw body (when
 * raw uploads are kept in the database), the server's summary and the
 * rollups' dirty hours, all committed together or not at all.
 *
 * Two shapes, for the two kinds of traffic:
 * - A fleet upload (a few rows, fewer than COPY_MIN_ROWS) is ONE statement:
 *   data-modifying CTEs, atomic on their own, so one round trip instead of
 *   seven (BEGIN, rows, upload, raw, summary, dirty marks, COMMIT). At a
 *   thousand agents a second the round trips and per-statement overhead, not
 *   the rows, were the cost (docs/scaling.md has the measurement).
 * - A backlog file goes in one transaction whose rows are COPYed
 *   (./sample-insert.ts); there the rows are the cost.
 *
 * Rollup dirty marks: only the hours of rows that were new (a replayed row
 * changes no rollup), upserted as DIRTY_MARK_CONFLICT says (../rollups/postgres/rollups.ts).
 */
export async function ingestUpload(
  pool: pg.Pool,
  upload: UploadRecord,
  rows: readonly MetricRow[],
  /** PgStore's `insertSamples` hook (benchmarks): when set, every file goes in through it in one transaction. */
  inserter: SampleInserter | undefined,
  unlessReplay: boolean,
): Promise<IngestAnswer> {
  let inserted: number;
  if (inserter === undefined && rows.length < COPY_MIN_ROWS) {
    const answer = await ingestInOneStatement(pool, upload, rows, unlessReplay);
    if (!answer.token_active) throw new AgentTokenRevokedError(upload.agentTokenId!);
    if (answer.prior_upload_id !== null) {
      return {
        replayOf: {
          uploadId: answer.prior_upload_id,
          server: upload.server,
          receivedAt: answer.prior_received_at!,
          rawPath: answer.prior_raw_path!,
          rows: answer.prior_rows!,
          inserted: answer.prior_inserted!,
        },
      };
    }
    inserted = answer.inserted;
  } else {
    if (unlessReplay) {
      const earlier = await findUpload(pool, upload.server, upload.sha256);
      if (earlier !== null) {
        if (upload.agentTokenId !== undefined) await requireActiveAgentToken(pool, upload.agentTokenId);
        return { replayOf: earlier };
      }
    }
    inserted = await ingestInTransaction(pool, upload, rows, inserter ?? insertSamples);
  }
  return {
    replayOf: null,
    outcome: { uploadId: upload.uploadId, rows: rows.length, inserted, duplicates: rows.length - inserted },
  };
}

export async function findUpload(
  pool: pg.Pool,
  server: string,
  sha256: string,
): Promise<StoredUpload | null> {
  const r = await pool.query<UploadDbRow>(
    "SELECT upload_id, server, received_at, raw_path, rows, inserted FROM uploads WHERE server = $1 AND sha256 = $2 ORDER BY seq LIMIT 1",
    [server, sha256],
  );
  return r.rows[0] === undefined ? null : toStoredUpload(r.rows[0]);
}

function timeRange(rows: readonly MetricRow[]): { tsMin: number | null; tsMax: number | null } {
  if (rows.length === 0) return { tsMin: null, tsMax: null };
  let tsMin = Number.POSITIVE_INFINITY;
  let tsMax = Number.NEGATIVE_INFINITY;
  for (const r of rows) {
    if (r.timestamp < tsMin) tsMin = r.timestamp;
    if (r.timestamp > tsMax) tsMax = r.timestamp;
  }
  return { tsMin, tsMax };
}

/** A server's summary takes in an upload's time range and new rows (both write paths). */
const SERVER_STATS_MERGE = `ON CONFLICT (server) DO UPDATE SET
    first_seen = LEAST(server_stats.first_seen, excluded.first_seen),
    last_seen = GREATEST(server_stats.last_seen, excluded.last_seen),
    rows = server_stats.rows + excluded.rows`;

/**
 * $1–$12: the sample columns as arrays; $13–$21: the upload; $22: the raw
 * body or NULL; $23: whether an earlier upload of the same content from the
 * same server (a replay) means nothing is stored; $24: the agent token that
 * must still be active (UploadRecord.agentTokenId) or NULL. The answer row
 * carries whether that token was active (nothing is written when it is not),
 * the count of new rows and, for a replay, the earlier upload.
 */
const ONE_STATEMENT_SQL = `
WITH auth AS (
  SELECT $24::text IS NULL OR EXISTS (
    SELECT 1 FROM agent_tokens WHERE token_id = $24 AND revoked_at IS NULL) AS active
), prior AS (
  SELECT upload_id, received_at, raw_path, rows, inserted FROM uploads
  WHERE $23::boolean AND (SELECT active FROM auth) AND server = $14 AND sha256 = $17 ORDER BY seq LIMIT 1
), proceed AS (
  SELECT (SELECT active FROM auth) AND NOT EXISTS (SELECT 1 FROM prior) AS ok
), new_rows AS (
  INSERT INTO samples (${SAMPLE_COLUMNS})
  SELECT * FROM unnest($1::text[], $2::int8[], $3::text[], $4::float8[], $5::float8[], $6::float8[],
                       $7::int8[], $8::int8[], $9::int8[], $10::int8[], $11::int8[], $12::int8[])
  WHERE (SELECT ok FROM proceed)
  ON CONFLICT DO NOTHING
  RETURNING server, ts
), counted AS (
  SELECT count(*)::int AS inserted FROM new_rows
), upload AS (
  INSERT INTO uploads (upload_id, server, received_at, raw_path, sha256, bytes, rows, inserted, ts_min, ts_max)
  SELECT $13, $14, $15, $16, $17, $18, $19, counted.inserted, $20, $21 FROM counted
  WHERE (SELECT ok FROM proceed)
), raw AS (
  INSERT INTO raw_uploads (server, upload_id, received_at, raw_path, body_gzip)
  SELECT $14, $13, $15, $16, $22::bytea WHERE $22::bytea IS NOT NULL AND (SELECT ok FROM proceed)
), stats AS (
  INSERT INTO server_stats (server, first_seen, last_seen, rows)
  SELECT $14, $20, $21, counted.inserted FROM counted WHERE $19::int > 0 AND (SELECT ok FROM proceed)
  ${SERVER_STATS_MERGE}
), dirty AS (
  INSERT INTO rollup_dirty (server, hour)
  SELECT DISTINCT server, ts - ts % ${HOUR_MS} FROM new_rows ORDER BY 1, 2
  ${DIRTY_MARK_CONFLICT}
)
SELECT (SELECT active FROM auth) AS token_active, counted.inserted, prior.upload_id AS prior_upload_id, prior.received_at AS prior_received_at,
       prior.raw_path AS prior_raw_path, prior.rows AS prior_rows, prior.inserted AS prior_inserted
FROM counted LEFT JOIN prior ON true`;

interface OneStatementAnswer {
  token_active: boolean;
  inserted: number;
  prior_upload_id: string | null;
  prior_received_at: number | null;
  prior_raw_path: string | null;
  prior_rows: number | null;
  prior_inserted: number | null;
}

async function ingestInOneStatement(
  pool: pg.Pool,
  upload: UploadRecord,
  rows: readonly MetricRow[],
  unlessReplay: boolean,
): Promise<OneStatementAnswer> {
  const cols: unknown[][] = Array.from({ length: 12 }, () => new Array(rows.length));
  for (let i = 0; i < rows.length; i++) {
    const v = sampleValues(rows[i]!);
    for (let c = 0; c < 12; c++) cols[c]![i] = v[c];
  }
  const { tsMin, tsMax } = timeRange(rows);
  const res = await pool.query<OneStatementAnswer>({
    // Named: parsed and planned once per connection.
    name: "srvutil-ingest-upload",
    text: ONE_STATEMENT_SQL,
    values: [
      ...cols,
      ...uploadKeyValues(upload),
      rows.length,
      tsMin,
      tsMax,
      upload.rawGzip === undefined ? null : Buffer.from(upload.rawGzip),
      unlessReplay,
      upload.agentTokenId ?? null,
    ],
  });
  return res.rows[0]!;
}

/**
 * After a bulk file's COPY, everything else it writes in ONE statement:
 * $1–$7 the upload, $8 new rows, $9–$10 its time range, $11 the raw body or
 * NULL, $12 the hours of its rows (dirty when any row was new). Four
 * statements were four round trips per file, about 40 % of a PostgreSQL
 * `central import`'s statement time (docs/scaling.md).
 */
const AFTER_COPY_SQL = `
WITH upload AS (
  INSERT INTO uploads (upload_id, server, received_at, raw_path, sha256, bytes, rows, inserted, ts_min, ts_max)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
), raw AS (
  INSERT INTO raw_uploads (server, upload_id, received_at, raw_path, body_gzip)
  SELECT $2, $1, $3, $4, $11::bytea WHERE $11::bytea IS NOT NULL
), stats AS (
  INSERT INTO server_stats (server, first_seen, last_seen, rows)
  SELECT $2, $9, $10, $8 WHERE $7::int > 0
  ${SERVER_STATS_MERGE}
), dirty AS (
  INSERT INTO rollup_dirty (server, hour)
  SELECT $2, h FROM unnest($12::int8[]) AS h WHERE $8::int > 0
  ${DIRTY_MARK_CONFLICT}
)
SELECT 1`;

async function ingestInTransaction(
  pool: pg.Pool,
  upload: UploadRecord,
  rows: readonly MetricRow[],
  inserter: SampleInserter,
): Promise<number> {
  const { tsMin, tsMax } = timeRange(rows);
  return inTransaction(pool, async (client) => {
    if (upload.agentTokenId !== undefined) await requireActiveAgentToken(client, upload.agentTokenId);
    const inserted = await inserter(client, rows);
    await client.query({
      name: "srvutil-ingest-after-copy",
      text: AFTER_COPY_SQL,
      values: [
        ...uploadKeyValues(upload),
        rows.length,
        inserted,
        tsMin,
        tsMax,
        upload.rawGzip === undefined ? null : Buffer.from(upload.rawGzip),
        // Sorted, so that transactions marking overlapping hours lock them in the same order.
        dirtyHours(rows),
      ],
    });
    return inserted;
  });
}

/** Throws AgentTokenRevokedError unless the token exists and is not revoked (UploadRecord.agentTokenId). */
async function requireActiveAgentToken(db: pg.Pool | pg.PoolClient, tokenId: string): Promise<void> {
  const r = await db.query("SELECT 1 FROM agent_tokens WHERE token_id = $1 AND revoked_at IS NULL", [
    tokenId,
  ]);
  if (r.rowCount === 0) throw new AgentTokenRevokedError(tokenId);
}

function dirtyHours(rows: readonly MetricRow[]): number[] {
  const hours = new Set<number>();
  for (const r of rows) hours.add(r.timestamp - (((r.timestamp % HOUR_MS) + HOUR_MS) % HOUR_MS));
  return [...hours].sort((a, b) => a - b);
}
