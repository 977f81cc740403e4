/**
 * `npm run bench:cli`: how fast the `srvutil` CLI starts, next to `node -e 0`
 * (the runtime's floor) measured in the same run.
 *
 * Each case runs BENCH_RUNS times (default 15). The cases take turns, round by
 * round, so a burst of load on a shared machine hits every case alike rather
 * than one. Wall time is measured here around the child (spawn to exit); peak
 * RSS comes from GNU time (`%M`), which wraps every case the same way.
 *
 * Cases: `node -e 0`, `srvutil --help`, `srvutil agent --help`,
 * `srvutil report build --help`, and a warm `srvutil report build` (HTML)
 * on a small SQLite database seeded here (5 servers × 7 days × 5 min samples;
 * one unmeasured build first fills the daily rollup cache).
 *
 * Runs `npm run build` first (the CLI runs from dist/); BENCH_CLI_SKIP_BUILD=1
 * skips it. BENCH_CLI_BEFORE=DIR adds, for every srvutil case, the same
 * command run from another built checkout (e.g. the commit before a change),
 * interleaved in the same rounds: a before/after comparison under the same
 * load. Linux (GNU time at /usr/bin/time).
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { resolveReportWeek } from "../../src/central/aggregate/week.js";
import { SqliteStore } from "../../src/central/storage/sqlite/sqlite-store.js";
import type { MetricRow } from "../../src/protocol/index.js";
import { profileRows, randomProfile, rng } from "../../test/helpers/fleet.js";

const ROOT = resolve(import.meta.dirname, "../..");
const CLI = join(ROOT, "bin", "srvutil.js");
const GNU_TIME = "/usr/bin/time";
const RUNS = Number(process.env.BENCH_RUNS ?? 15);
const WEEK = "2026-W47";
const TZ = "Europe/Berlin";
const SERVERS = 5;
const DAYS = 7;
const INTERVAL_SECONDS = 300;

if (!existsSync(GNU_TIME)) {
  console.error(`bench:cli measures peak RSS with GNU time: install it (apt-get install time)`);
  process.exit(1);
}
if (!Number.isInteger(RUNS) || RUNS < 1) {
  console.error(`BENCH_RUNS: expected a positive whole number, got '${process.env.BENCH_RUNS}'`);
  process.exit(1);
}
if (process.env.BENCH_CLI_SKIP_BUILD !== "1") {
  execFileSync("npm", ["run", "--silent", "build"], { cwd: ROOT, stdio: "inherit" });
}

const work = mkdtempSync(join(tmpdir(), "srvutil-bench-cli-"));
const dbFile = join(work, "srvutil.db");

/** A small fleet straight into SQLite (bench:ingest measures the upload path; this is about start-up). */
async function seed(): Promise<number> {
  const store = new SqliteStore(dbFile);
  await store.init();
  const week = resolveReportWeek(WEEK, TZ);
  const from = week.to - DAYS * 86_400_000;
  const r = rng(7);
  let rows = 0;
  try {
    for (let i = 0; i < SERVERS; i++) {
      const profile = randomProfile(r, `bench-${i}`);
      profile.intervalSeconds = INTERVAL_SECONDS;
      const batch: MetricRow[] = [...profileRows(profile, from, week.to, i)];
      store.ingestSync(
        {
          uploadId: `bench-cli-${i}`,
          server: profile.server,
          receivedAt: week.to,
          rawPath: "bench",
          sha256: `bench-cli-${i}`,
          bytes: 0,
        },
        batch,
      );
      rows += batch.length;
    }
  } finally {
    await store.close();
  }
  return rows;
}

interface Case {
  label: string;
  argv: string[];
}

interface Sample {
  wallMs: number;
  rssMiB: number;
}

const env: Record<string, string> = {
  PATH: process.env.PATH ?? "",
  HOME: work,
  SRVUTIL_DATA_DIR: join(work, "data"),
  SRVUTIL_DB_URL: `sqlite:${dbFile}`,
  SRVUTIL_REPORT_TZ: TZ,
};

const srvutilCases = (cli: string, suffix: string): Case[] => [
  { label: `srvutil --help${suffix}`, argv: [cli, "--help"] },
  { label: `srvutil agent --help${suffix}`, argv: [cli, "agent", "--help"] },
  { label: `srvutil report build --help${suffix}`, argv: [cli, "report", "build", "--help"] },
  {
    label: `srvutil report build --week ${WEEK} (warm, ${SERVERS} servers)${suffix}`,
    argv: [cli, "report", "build", "--week", WEEK, "--out", join(work, "report.html")],
  },
];
const before = process.env.BENCH_CLI_BEFORE;
if (before !== undefined && !existsSync(join(before, "dist", "cli", "main.js"))) {
  console.error(`BENCH_CLI_BEFORE: ${before} has no dist/cli/main.js (build it there first)`);
  process.exit(1);
}
const cases: Case[] = [
  { label: "node -e 0 (baseline)", argv: ["-e", "0"] },
  ...srvutilCases(CLI, ""),
  ...(before === undefined ? [] : srvutilCases(join(resolve(before), "bin", "srvutil.js"), " [before]")),
];

/** One run: wall time from spawn to exit, peak RSS from GNU time. Fails loudly on a non-zero exit. */
function runOnce(c: Case): Promise<Sample> {
  const timeFile = join(work, "time.txt");
  return new Promise((done, fail) => {
    const started = process.hrtime.bigint();
    const child = spawn(GNU_TIME, ["-o", timeFile, "-f", "%M", process.execPath, ...c.argv], {
      env,
      cwd: work,
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on("error", fail);
    child.on("close", (code) => {
      const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
      if (code !== 0) {
        fail(new Error(`${c.label}: exit ${code}\n${stderr}`));
        return;
      }
      const kib = Number(readFileSync(timeFile, "utf8").trim().split("\n").pop());
      done({ wallMs, rssMiB: kib / 1024 });
    });
  });
}

function quantiles(values: number[]): { min: number; median: number; max: number } {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { min: s[0]!, median, max: s[s.length - 1]! };
}

async function main(): Promise<void> {
  const rows = await seed();
  // Fill the daily rollup cache once, so the measured builds are the warm ones a cron job sees.
  await runOnce(cases[4]!);
  // One unmeasured round warms the page cache for every case.
  for (const c of cases) await runOnce(c);

  const samples = new Map<Case, Sample[]>(cases.map((c) => [c, []]));
  for (let round = 0; round < RUNS; round++) {
    for (const c of cases) samples.get(c)!.push(await runOnce(c));
  }

  const baseline = quantiles(samples.get(cases[0]!)!.map((s) => s.wallMs));
  const head = [
    "command",
    "wall min",
    "wall median",
    "wall max",
    "× node -e 0 (median)",
    "peak RSS median (min–max)",
  ];
  const table = cases.map((c) => {
    const wall = quantiles(samples.get(c)!.map((s) => s.wallMs));
    const rss = quantiles(samples.get(c)!.map((s) => s.rssMiB));
    return [
      c.label,
      `${wall.min.toFixed(0)} ms`,
      `${wall.median.toFixed(0)} ms`,
      `${wall.max.toFixed(0)} ms`,
      `${(wall.median / baseline.median).toFixed(2)}×`,
      `${rss.median.toFixed(0)} MiB (${rss.min.toFixed(0)}–${rss.max.toFixed(0)})`,
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...table.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((cell, i) => cell.padEnd(widths[i]!)).join(" | ")} |`;
  console.log(
    `\nbench:cli — ${RUNS} runs per command, interleaved; Node ${process.version}; ` +
      `report DB: ${SERVERS} servers, ${rows.toLocaleString("en")} rows`,
  );
  console.log(line(head));
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  for (const r of table) console.log(line(r));
}

try {
  await main();
} finally {
  rmSync(work, { recursive: true, force: true });
}
