import pg from "pg";
import { PgStore } from "../src/central/storage/postgres/pg-store.js";

const url = "postgres://postgres@127.0.0.1:5432/postgres";
const schema = "pgscale_explain";
const admin = new pg.Client({ connectionString: url });
await admin.connect();
await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema}`);
const store = new PgStore(url, { schema });
await store.init();
const start = Date.UTC(2026, 9, 26);
const DAYS = 35,
  SERVERS = 100;
for (let s = 0; s < SERVERS; s++) {
  const server = `srv-${String(s).padStart(3, "0")}`;
  for (let d = 0; d < DAYS; d++) {
    const rows = [];
    for (let m = 0; m < 1440; m += 1) {
      for (const mount of ["/", "/data"])
        rows.push({
          server,
          timestamp: start + d * 86400000 + m * 60000,
          diskMount: mount,
          cpuPercent: 5,
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
    await store.ingest(
      { uploadId: `${s}-${d}`, server, receivedAt: 0, rawPath: "x", sha256: `${s}-${d}`, bytes: 0 },
      rows,
    );
  }
}
await admin.query(`SET search_path=${schema}; ANALYZE samples`);
const q = async (label: string, sql: string) => {
  const r = await admin.query(`EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ${sql}`);
  console.log(`-- ${label}\n${sql}\n${r.rows.map((x) => x["QUERY PLAN"]).join("\n")}\n`);
};
const from = Date.UTC(2026, 10, 16),
  to = Date.UTC(2026, 10, 23);
await q(
  "samples(): first page",
  `SELECT * FROM samples WHERE server = 'srv-042' AND ts >= ${from} AND ts < ${to} ORDER BY ts, mount LIMIT 5000`,
);
await q(
  "samples(): next page",
  `SELECT * FROM samples WHERE server = 'srv-042' AND (server, ts, mount) > ('srv-042', ${from + 2500 * 60000}, '/') AND ts < ${to} ORDER BY ts, mount LIMIT 5000`,
);
await q(
  "one (server, hour) bucket",
  `SELECT count(*), avg(cpu_percent), max(mem_used) FROM samples WHERE server = 'srv-042' AND ts >= ${from} AND ts < ${from + 3600000}`,
);
await q(
  "retention, boundary week",
  `DELETE FROM samples WHERE server = ANY(ARRAY['srv-000','srv-001']) AND ts >= ${Date.UTC(2026, 9, 26)} AND ts < ${Date.UTC(2026, 9, 28)}`,
);
const parts = await admin.query(
  `SELECT c.relname, c.reltuples FROM pg_inherits i JOIN pg_class c ON c.oid=i.inhrelid WHERE i.inhparent='samples'::regclass ORDER BY 1`,
);
console.log(parts.rows);
await store.close();
await admin.end();
