/**
 * The EXPLAIN output of the main PostgreSQL queries on samples (the runs are
 * in bench/RESULTS.md, what they show in docs/scaling.md): fills a throwaway schema with SERVERS × DAYS × 60 s
 * samples (two mounts) through PgStore.ingest, ANALYZEs, prints each plan
 * (EXPLAIN ANALYZE, costs and timings off so the text is stable), drops
 * the schema. `node --import tsx scripts/pg-explain.ts`; env BENCH_PG_URL,
 * EXPLAIN_SERVERS (20), EXPLAIN_DAYS (35).
 */
import pg from "pg";
import { PgStore } from "../src/central/storage/postgres/pg-store.js";

const url = process.env.BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const SERVERS = Number(process.env.EXPLAIN_SERVERS ?? 20);
const DAYS = Number(process.env.EXPLAIN_DAYS ?? 35);
const schema = `srvutil_explain_${process.pid}`;
const admin = new pg.Client({ connectionString: url });
await admin.connect();
await admin.query(`CREATE SCHEMA ${schema}`);
try {
  const store = new PgStore(url, { schema });
  await store.init();
  const start = Date.UTC(2026, 9, 26);
  for (let s = 0; s < SERVERS; s++) {
    const server = `srv-${String(s).padStart(3, "0")}`;
    for (let d = 0; d < DAYS; d++) {
      const rows = [];
      for (let m = 0; m < 1440; m++) {
        for (const mount of ["/", "/data"]) {
          rows.push({
            server,
            timestamp: start + d * 86_400_000 + m * 60_000,
            diskMount: mount,
            cpuPercent: (m * 7.3) % 100,
            cpuPeakPercent: null,
            intervalSeconds: 60,
            memTotalBytes: 8e9,
            memUsedBytes: 4e9,
            memAvailableBytes: 4e9,
            diskTotalBytes: 1e11,
            diskUsedBytes: 5e10,
            diskFreeBytes: 5e10,
          });
        }
      }
      const id = `${s}-${d}`;
      await store.ingest({ uploadId: id, server, receivedAt: 0, rawPath: "x", sha256: id, bytes: 0 }, rows);
    }
  }
  await store.close();
  await admin.query(`SET search_path = ${schema}; ANALYZE samples`);
  const explain = async (label: string, sql: string) => {
    const r = await admin.query(`EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ${sql}`);
    const plan = r.rows.map((x: Record<string, string>) => x["QUERY PLAN"]).join("\n");
    console.log(`-- ${label}\n${sql.replace(/\s+/g, " ").trim()}\n${plan}\n`);
  };
  const from = Date.UTC(2026, 10, 16);
  const to = Date.UTC(2026, 10, 23);
  await explain(
    "samples(): first page of one server's week",
    `SELECT * FROM samples WHERE server = 'srv-004' AND ts >= ${from} AND ts < ${to} ORDER BY ts, mount LIMIT 5000`,
  );
  await explain(
    "samples(): next page (keyset on the primary key)",
    `SELECT * FROM samples WHERE server = 'srv-004' AND (server, ts, mount) > ('srv-004', ${from + 2500 * 60_000}, '/')
     AND ts >= ${from + 2500 * 60_000} AND ts < ${to} ORDER BY ts, mount LIMIT 5000`,
  );
  // The range read of the refresher's hour-bucket statements (RANGES in
  // src/central/storage/postgres/hour-buckets-sql.ts): one primary-key range
  // scan per claimed range, LATERAL … OFFSET 0 so it is never a join.
  await explain(
    "rollup refresh: the rows of dirty (server, hour) ranges, first mount per timestamp",
    `SELECT DISTINCT ON (s.server, s.ts) s.server, s.ts, s.cpu_percent, s.mem_used
     FROM unnest(ARRAY['srv-004','srv-005'], ARRAY[${from}, ${from}]::int8[], ARRAY[${from + 3_600_000}, ${from + 3_600_000}]::int8[]) AS r(server, f, t)
     CROSS JOIN LATERAL (
       SELECT * FROM samples WHERE samples.server = r.server AND samples.ts >= r.f AND samples.ts < r.t
       OFFSET 0
     ) AS s
     ORDER BY s.server, s.ts, s.mount COLLATE "C"`,
  );
  await explain(
    "retention: the boundary week, one batch of servers",
    `DELETE FROM samples WHERE server = ANY(ARRAY['srv-000','srv-001']) AND ts >= ${start} AND ts < ${start + 2 * 86_400_000}`,
  );
} finally {
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin.end();
}
