/**
 * `npm run bench:report`: report build time from rollups vs directly from raw rows.
 *
 * 1. Ingest N servers × D days × 60 s samples (1–3 mounts each) into a fresh
 *    SQLite file. Rows go straight into the store with its prepared-statement
 *    ingest (SqliteStore.ingestSync, one upload per server-day) in this one
 *    process — no CSV parsing and no HTTP, which bench:ingest measures — so
 *    the bench spends its time on what it is about.
 * 2. Fold everything into the hourly rollups (refreshRollups).
 * 3. In a child process per measurement (so peak RSS is the build's own):
 *    JSON from rollups (cold: first use of the zone computes the daily
 *    rollups; warm: cached), JSON from raw rows, HTML with charts.
 * 4. The same at N/10 servers, to show memory does not grow with the fleet.
 *
 * Env: SRVUTIL_BENCH_SERVERS (default 1000), SRVUTIL_BENCH_DAYS (7),
 * SRVUTIL_BENCH_INTERVAL_SECONDS (60), SRVUTIL_BENCH_SKIP_RAW=1 to skip the
 * slow raw builds.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { resolveReportWeek } from "../../src/central/aggregate/week.js";
import { buildWeeklyReport, renderReport } from "../../src/central/report/index.js";
import { openStorage } from "../../src/central/storage/open.js";
import { refreshRollups } from "../../src/central/storage/sqlite/rollups.js";
import type { SqliteStore } from "../../src/central/storage/sqlite/sqlite-store.js";
import type { MetricRow } from "../../src/protocol/index.js";
import { profileRows, randomProfile, rng } from "../../test/central/report/fleet.js";

const TZ = "Europe/Berlin";
const WEEK = "2026-W47";
const NOW = Date.UTC(2026, 10, 23, 8);
const here = fileURLToPath(import.meta.url);

interface Measurement {
  ms: number;
  maxRssMiB: number;
  servers: number;
  bytes: number;
}

async function measure(dbFile: string, what: string): Promise<Measurement> {
  const store = await openStorage(`sqlite:${dbFile}`);
  const started = performance.now();
  let bytes = 0;
  const report = await buildWeeklyReport(store, {
    week: WEEK,
    timeZone: TZ,
    now: NOW,
    source: what.startsWith("raw") ? "raw" : "rollups",
  });
  if (what.endsWith("html")) bytes = (await renderReport(report, "standalone")).html.length;
  else if (what.endsWith("email")) {
    const r = await renderReport(report, "email");
    bytes = r.html.length + r.images.reduce((a, i) => a + i.content.length, 0);
  } else bytes = JSON.stringify(report).length;
  const ms = performance.now() - started;
  await store.close();
  return { ms, maxRssMiB: process.resourceUsage().maxRSS / 1024, servers: report.servers.length, bytes };
}

function child(dbFile: string, what: string): Measurement {
  const out = execFileSync(process.execPath, ["--import", "tsx", here, "--child", dbFile, what], {
    encoding: "utf8",
    maxBuffer: 1 << 20,
  });
  return JSON.parse(out.trim().split("\n").pop()!) as Measurement;
}

async function ingest(
  dbFile: string,
  servers: number,
  days: number,
  interval: number,
): Promise<{ rows: number; ms: number }> {
  const store = (await openStorage(`sqlite:${dbFile}`)) as SqliteStore;
  const week = resolveReportWeek(WEEK, TZ);
  const from = week.to - days * 86_400_000;
  const r = rng(42);
  let rows = 0;
  const started = performance.now();
  for (let i = 0; i < servers; i++) {
    const p = randomProfile(r, `srv-${String(i).padStart(5, "0")}`);
    p.intervalSeconds = interval;
    let batch: MetricRow[] = [];
    let batchDay = -1;
    let upload = 0;
    const flush = (): void => {
      if (batch.length === 0) return;
      store.ingestSync(
        {
          uploadId: `bench-${i}-${upload++}`,
          server: p.server,
          receivedAt: NOW,
          rawPath: "bench",
          sha256: `bench-${i}-${upload}`,
          bytes: 0,
        },
        batch,
      );
      rows += batch.length;
      batch = [];
    };
    for (const row of profileRows(p, from, week.to, i)) {
      const day = Math.floor(row.timestamp / 86_400_000);
      if (day !== batchDay) {
        flush();
        batchDay = day;
      }
      batch.push(row);
    }
    flush();
  }
  const ms = performance.now() - started;
  await store.close();
  return { rows, ms };
}

function fmt(ms: number): string {
  return ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
}

async function main(): Promise<void> {
  if (process.argv[2] === "--child") {
    const m = await measure(process.argv[3]!, process.argv[4]!);
    process.stdout.write(`${JSON.stringify(m)}\n`);
    return;
  }
  const servers = Number(process.env.SRVUTIL_BENCH_SERVERS ?? 1000);
  const days = Number(process.env.SRVUTIL_BENCH_DAYS ?? 7);
  const interval = Number(process.env.SRVUTIL_BENCH_INTERVAL_SECONDS ?? 60);
  const skipRaw = process.env.SRVUTIL_BENCH_SKIP_RAW === "1";
  const dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-bench-report-"));
  const sizes = [Math.max(1, Math.round(servers / 10)), servers];
  const table: string[][] = [];
  try {
    for (const n of sizes) {
      const dbFile = path.join(dir, `fleet-${n}.db`);
      const ing = await ingest(dbFile, n, days, interval);
      const store = (await openStorage(`sqlite:${dbFile}`)) as SqliteStore;
      const t0 = performance.now();
      refreshRollups(store.db);
      const rollupMs = performance.now() - t0;
      await store.close();
      process.stderr.write(
        `${n} servers: ingested ${ing.rows.toLocaleString("en")} rows in ${fmt(ing.ms)} (${Math.round(
          ing.rows / (ing.ms / 1000),
        ).toLocaleString("en")} rows/s); hourly rollups ${fmt(rollupMs)}\n`,
      );
      table.push([
        String(n),
        "ingest (prepared statements, 1 process)",
        `${ing.rows.toLocaleString("en")} rows`,
        fmt(ing.ms),
        "",
        "",
      ]);
      table.push([String(n), "hourly rollups from raw (refreshRollups)", "", fmt(rollupMs), "", ""]);
      const cold = child(dbFile, "rollups-json");
      const warm = child(dbFile, "rollups-json");
      const html = child(dbFile, "rollups-html");
      const email = child(dbFile, "rollups-email");
      const raw = skipRaw ? null : child(dbFile, "raw-json");
      const ratio = (m: Measurement, base: Measurement | null) =>
        base === null ? "" : `${(base.ms / m.ms).toFixed(1)}×`;
      const row = (label: string, m: Measurement, base: Measurement | null) =>
        table.push([
          String(n),
          label,
          `${(m.bytes / 1024).toFixed(0)} KiB`,
          fmt(m.ms),
          ratio(m, base),
          `${m.maxRssMiB.toFixed(0)} MiB`,
        ]);
      if (raw !== null) row("JSON from raw rows (baseline)", raw, null);
      row("JSON from rollups, first build in zone (daily cache cold)", cold, raw);
      row("JSON from rollups (daily cache warm)", warm, raw);
      row("HTML + charts (all servers, SVG) from rollups", html, raw);
      row("email HTML + 60 PNG charts (30 detailed) from rollups", email, raw);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const head = ["servers", "measurement", "output", "time", "speed-up vs raw", "peak RSS"];
  const widths = head.map((h, i) => Math.max(h.length, ...table.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  console.log(
    `\nbench:report — ${days} days × ${interval} s samples, week ${WEEK} in ${TZ}, Node ${process.version}`,
  );
  console.log(line(head));
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  for (const r of table) console.log(line(r));
}

await main();
