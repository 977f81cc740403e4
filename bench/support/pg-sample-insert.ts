import type pg from "pg";
import { sampleValues } from "../../src/central/storage/db-rows.js";
import {
  insertByCopy,
  insertByDirectCopy,
  SAMPLE_COLUMNS,
  type SampleInserter,
} from "../../src/central/storage/postgres/sample-insert.js";
import type { MetricRow } from "../../src/protocol/index.js";

/**
 * The PostgreSQL sample-insert methods the benchmarks (bench/ingest/pg-bulk.ts)
 * and the partition test measure against each other, through PgStore's
 * `insertSamples` hook:
 * - "unnest": one INSERT … SELECT FROM unnest(12 arrays), 12 parameters;
 * - "values": multi-row INSERT … VALUES, VALUES_CHUNK rows per statement;
 * - "copy": COPY into a per-connection temporary staging table, then one
 *   INSERT … SELECT … ON CONFLICT DO NOTHING from it;
 * - "copy-direct": COPY straight into `samples` inside a savepoint, with
 *   "unnest" as its fallback when a row is already stored;
 * - "auto": what ingest does (no hook): one statement below COPY_MIN_ROWS,
 *   "copy-direct" with "copy" as its fallback from there on
 *   (src/central/storage/postgres/sample-insert.ts and ingest.ts).
 * With a hook, every file goes in through it in one transaction.
 */
export type SampleInsertMethod = "unnest" | "values" | "copy" | "copy-direct" | "auto";

export const SAMPLE_INSERT_METHODS: readonly SampleInsertMethod[] = [
  "unnest",
  "values",
  "copy",
  "copy-direct",
  "auto",
];

/** PgStore options that make it insert rows with `method` ("auto": none, ingest's own path). */
export function insertOptions(method: SampleInsertMethod | undefined): { insertSamples?: SampleInserter } {
  const inserter = method === undefined ? undefined : INSERTERS[method];
  return inserter === undefined ? {} : { insertSamples: inserter };
}

const INSERTERS: Record<SampleInsertMethod, SampleInserter | undefined> = {
  unnest: (client, rows) => (rows.length === 0 ? Promise.resolve(0) : insertByUnnest(client, rows)),
  values: (client, rows) => (rows.length === 0 ? Promise.resolve(0) : insertByValues(client, rows)),
  copy: (client, rows) => (rows.length === 0 ? Promise.resolve(0) : insertByCopy(client, rows)),
  "copy-direct": (client, rows) =>
    rows.length === 0 ? Promise.resolve(0) : insertByDirectCopy(client, rows, insertByUnnest),
  auto: undefined,
};

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
