/**
 * `npm run bench:seed`: `central import` speed on a seed-format folder, against
 * the same samples as CSV v1 files (the baseline), measured in the same run.
 *
 * A folder like the seed's recieved_metrics/: SERVERS × FILES files of LINES
 * lines (a 20-minute cadence), 2 partitions per line, so each seed line is 2
 * CSV v1 rows. Each run imports into a fresh SQLite data dir through
 * importDirectory (the code `srvutil central import` runs), in this process.
 *
 * Env: SRVUTIL_BENCH_SERVERS (20), SRVUTIL_BENCH_FILES (50), SRVUTIL_BENCH_LINES (72), SRVUTIL_BENCH_RUNS (3).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createIngestService } from "../../src/central/central-process.js";
import { loadCentralConfig } from "../../src/central/config.js";
import { importDirectory } from "../../src/central/ingest/bulk.js";
import { SEED_HEADER } from "../../src/central/ingest/seed/parse-seed.js";
import { SqliteStore } from "../../src/central/storage/sqlite/sqlite-store.js";
import { type MetricRow, serializeMetricsCsv } from "../../src/protocol/index.js";

const num = (k: string, d: number) => Number(process.env[k] ?? d);
const SERVERS = num("SRVUTIL_BENCH_SERVERS", 20);
const FILES = num("SRVUTIL_BENCH_FILES", 50);
const LINES = num("SRVUTIL_BENCH_LINES", 72);
const RUNS = num("SRVUTIL_BENCH_RUNS", 3);
const TZ = "Europe/Berlin";
const GIB = 1024 ** 3;
const START = Date.UTC(2026, 0, 5, 0, 0, 0); // local midnight − 1 h, January (CET)

const pad = (n: number) => String(n).padStart(2, "0");
function localText(ms: number): string {
  // January: Berlin is UTC+1 all month.
  const d = new Date(ms + 3600_000);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

function writeFolders(root: string): { seed: string; v1: string; lines: number } {
  const seed = path.join(root, "seed");
  const v1 = path.join(root, "v1");
  mkdirSync(seed);
  mkdirSync(v1);
  let lines = 0;
  for (let s = 0; s < SERVERS; s++) {
    const server = `SRV-${String(s).padStart(3, "0")}`;
    for (let f = 0; f < FILES; f++) {
      const seedLines = [SEED_HEADER];
      const rows: MetricRow[] = [];
      for (let l = 0; l < LINES; l++) {
        const ts = START + ((f * LINES + l) * 20 + s) * 60_000;
        const cpu = ((s * 7 + f * 3 + l) % 100) + 0.5;
        const avail = 2 + ((l + s) % 5);
        const disks = [
          { device: "C:\\", mountpoint: "C:\\", total_gb: 223.0, used_gb: 128.56, free_gb: 94.44 },
          { device: "D:\\", mountpoint: "D:\\", total_gb: 931.5, used_gb: 400.25, free_gb: 531.25 },
        ];
        const json = JSON.stringify(disks).replaceAll(":", ": ").replaceAll(",", ", ").replaceAll('"', '""');
        seedLines.push(`${localText(ts)},${server},${cpu},8.0,4.0,${avail}.0,50.0,"${json}"`);
        lines++;
        for (const d of disks) {
          rows.push({
            timestamp: ts,
            server,
            cpuPercent: cpu,
            cpuPeakPercent: null,
            intervalSeconds: null,
            memTotalBytes: 8 * GIB,
            memUsedBytes: (8 - avail) * GIB,
            memAvailableBytes: avail * GIB,
            diskMount: d.mountpoint.slice(0, 2),
            diskTotalBytes: Math.round(d.total_gb * GIB),
            diskUsedBytes: Math.round(d.used_gb * GIB),
            diskFreeBytes: Math.round(d.free_gb * GIB),
          });
        }
      }
      const name = `${server}_2026-01-${pad(5 + (f % 20))}_00-00-${pad(f % 60)}_server_metrics.csv`;
      writeFileSync(path.join(seed, `${f}-${name}`), `${seedLines.join("\r\n")}\r\n`);
      writeFileSync(path.join(v1, `${f}-${name}`), serializeMetricsCsv(rows));
    }
  }
  return { seed, v1, lines };
}

async function importOnce(dir: string): Promise<{ ms: number; rows: number; inserted: number }> {
  const data = mkdtempSync(path.join(os.tmpdir(), "srvutil-bench-seed-data-"));
  try {
    const config = loadCentralConfig({ SRVUTIL_DATA_DIR: data, SRVUTIL_REPORT_TZ: TZ });
    const store = new SqliteStore(path.join(data, "srvutil.db"));
    await store.init();
    const ingest = createIngestService(config, store, null);
    const t0 = performance.now();
    const summary = await importDirectory(ingest, dir, { maxBodyBytes: config.maxBodyBytes });
    const ms = performance.now() - t0;
    await ingest.close();
    await store.close();
    if (summary.failed.length > 0) throw new Error(`failed: ${JSON.stringify(summary.failed[0])}`);
    return { ms, rows: summary.rows, inserted: summary.inserted };
  } finally {
    rmSync(data, { recursive: true, force: true });
  }
}

const root = mkdtempSync(path.join(os.tmpdir(), "srvutil-bench-seed-"));
try {
  const { seed, v1, lines } = writeFolders(root);
  const times: Record<"v1" | "seed", number[]> = { v1: [], seed: [] };
  let rows = 0;
  for (let r = 0; r < RUNS; r++) {
    for (const [label, dir] of [
      ["v1", v1],
      ["seed", seed],
    ] as const) {
      const res = await importOnce(dir);
      times[label].push(res.ms);
      rows = res.rows;
      if (res.inserted !== res.rows) throw new Error(`${label}: ${res.inserted} of ${res.rows} inserted`);
    }
  }
  const files = SERVERS * FILES;
  console.log(
    `central import, ${files} files (${SERVERS} servers × ${FILES}), ${lines} seed lines = ${rows} rows, ${RUNS} runs each`,
  );
  console.log("| format | seconds (min–max) | rows/s (best) | seed lines/s (best) | time vs v1 (best) |");
  console.log("|---|---|---|---|---|");
  const best = (xs: number[]) => Math.min(...xs);
  for (const label of ["v1", "seed"] as const) {
    const xs = times[label];
    console.log(
      `| ${label} | ${(best(xs) / 1000).toFixed(2)}–${(Math.max(...xs) / 1000).toFixed(2)} | ${Math.round(rows / (best(xs) / 1000))} | ${Math.round(lines / (best(xs) / 1000))} | ${(best(xs) / best(times.v1)).toFixed(2)}× |`,
    );
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
