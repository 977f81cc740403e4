/**
 * `npm run bench:ingest`: the real central (`srvutil central serve`, its own
 * process) loaded over loopback by bench/ingest/load-client.ts (another
 * process), against a raw-SQLite baseline measured in this run.
 *
 * Scenarios: (a) a fleet of agents each posting one 20-row file, (b) backlog
 * files of 10,000 rows, plain and gzip. The baseline inserts the same rows
 * through SqliteStore.ingestSync (one transaction per file, no HTTP, no
 * parsing): the storage floor. Bounded: each HTTP scenario stops after
 * BENCH_MAX_SECONDS (default 8 s); the whole run takes well under a minute.
 *
 * PostgreSQL: the same HTTP scenarios against a central on BENCH_PG_URL
 * (default postgres://postgres@127.0.0.1:5432/postgres, in a throwaway
 * schema dropped at the end), printed next to SQLite with ratios; then the
 * bulk-insert methods (./pg-bulk.ts) and `central import` on both backends
 * (./import-compare.ts). BENCH_PG=0 leaves PostgreSQL out. Last, the
 * foreign push inputs against CSV v1 (./push-inputs.ts; BENCH_PUSH=0 leaves them out).
 *
 * Env: BENCH_FLEET_FILES (10000), BENCH_BACKLOG_FILES (100), BENCH_WORK_DIR, BENCH_KEEP, BENCH_FLEET_CONCURRENCY (32),
 * BENCH_SYNC_MODES (NORMAL,FULL), BENCH_FROM_SOURCE=1 (run the central through tsx instead of a build), BENCH_CPU_PROF (directory for a CPU profile of the central),
 * BENCH_SOAK_SECONDS (0; e.g. 300 for the memory-flat check: the fleet load in
 * rounds of new rows, the central's RSS sampled every 5 s).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { hashSecret } from "../../src/central/auth/tokens.js";
import { PgStore } from "../../src/central/storage/postgres/pg-store.js";
import { SqliteStore, type SqliteSynchronous } from "../../src/central/storage/sqlite/sqlite-store.js";
import { parseMetricsCsv, parseMetricsCsvGeneral } from "../../src/protocol/index.js";
import { compareImport, pgUrlWithSchema } from "./import-compare.js";
import type { LoadResult, LoadSpec } from "./load-client.js";
import { DEFAULT_BENCH_PG_URL, measureBulkMethods } from "./pg-bulk.js";
import { measurePushInputs, pushInputsTable } from "./push-inputs.js";
import {
  BACKLOG_SAMPLES,
  BACKLOG_START,
  backlogCsv,
  backlogServer,
  FLEET_SAMPLES,
  FLEET_START,
  fleetServer,
  rowsFor,
} from "./workload.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const FLEET_FILES = Number(process.env.BENCH_FLEET_FILES ?? 10_000);
const BACKLOG_FILES = Number(process.env.BENCH_BACKLOG_FILES ?? 100);
const FLEET_CONCURRENCY = Number(process.env.BENCH_FLEET_CONCURRENCY ?? 32);
const MAX_MS = Number(process.env.BENCH_MAX_SECONDS ?? 8) * 1000;
const BACKLOG_CONCURRENCY = Number(process.env.BENCH_BACKLOG_CONCURRENCY ?? 4);
const SOAK_MS = Number(process.env.BENCH_SOAK_SECONDS ?? 0) * 1000;
const PG_URL = process.env.BENCH_PG_URL ?? DEFAULT_BENCH_PG_URL;
const WITH_PG = process.env.BENCH_PG !== "0";
const PG_SCHEMA = `srvutil_bench_ingest_${process.pid}`;
/** "postgres" runs the central on PG_URL; the SQLite modes on a file. */
type Backend = SqliteSynchronous | "postgres";
let soak: {
  r: LoadResult;
  samples: number[];
  lagMaxMs: number[];
  cpuMsPerUpload: number;
  /** Slowest /healthz answer, polled every 200 ms: how long the central stood still at worst. */
  healthzMaxMs: number;
} | null = null;
/** Size of the WAL after each run: bounded when checkpoints keep up. */
const walMiB: Record<string, number> = {};
const fileMiB = (f: string) => (existsSync(f) ? statSync(f).size / 2 ** 20 : 0);

/**
 * The central runs from dist/ (what `npx srvutil` runs), compiled here first:
 * under tsx every per-row closure pays for esbuild's keepNames helper, which
 * is not what production pays. Falls back to tsx if the build produced no CLI.
 */
function buildCentral(): string[] {
  // Inside the repository so that node finds node_modules from the compiled files.
  const out = path.join(ROOT, "node_modules/.cache/srvutil-bench-ingest");
  const tsc = spawnSync(
    process.execPath,
    [
      path.join(ROOT, "node_modules/typescript/bin/tsc"),
      "-p",
      path.join(ROOT, "tsconfig.build.json"),
      "--outDir",
      out,
    ],
    { cwd: ROOT, stdio: "ignore" },
  );
  void tsc; // type errors elsewhere in the tree do not stop tsc from emitting
  const main = path.join(out, "cli/main.js");
  if (existsSync(main)) {
    log("central: compiled build");
    return [main];
  }
  log("central: build failed, running from source through tsx");
  return ["--import", "tsx", path.join(ROOT, "src/cli/main.ts")];
}

/**
 * Where the data directories go (BENCH_WORK_DIR, default the system temp
 * directory). Deleted at the end unless BENCH_KEEP=1.
 *
 * Why BENCH_KEEP exists: after tens of thousands of files are deleted, ext4
 * makes every new file and directory slow for about five minutes (its inode
 * allocator skips "recently deleted" inodes one by one: 200-500 µs of kernel
 * time per create instead of 5-20 µs, seen with perf on this machine). A
 * production central never deletes its raw files, so that state is an
 * artifact of benchmarking. Runs back to back should keep their data; the
 * run warns when the previous cleanup was less than five minutes ago.
 */
const WORK_ROOT = process.env.BENCH_WORK_DIR ?? os.tmpdir();
const KEEP = process.env.BENCH_KEEP === "1";
const CLEANUP_MARK = path.join(ROOT, "node_modules/.cache/srvutil-bench-ingest-last-cleanup");
const INODE_RECENCY_MS = 5 * 60 * 1000;
mkdirSync(WORK_ROOT, { recursive: true });
const work = mkdtempSync(path.join(WORK_ROOT, "srvutil-bench-ingest-"));
const children = new Set<ChildProcess>();
process.on("exit", () => {
  for (const c of children) c.kill("SIGKILL");
  if (KEEP) {
    process.stderr.write(`bench:ingest data kept in ${work}\n`);
    return;
  }
  rmSync(work, { recursive: true, force: true });
  mkdirSync(path.dirname(CLEANUP_MARK), { recursive: true });
  writeFileSync(CLEANUP_MARK, String(Date.now()));
});

function log(msg: string) {
  process.stderr.write(`bench:ingest ${msg}\n`);
}

/** Creates every token the load needs in a template database, copied into each run's data dir. */
interface TokenRow {
  id: string;
  server: string;
  hash: string;
}

async function makeTemplate(): Promise<{ file: string; tokens: Record<string, string>; rows: TokenRow[] }> {
  const file = path.join(work, "template.db");
  const store = new SqliteStore(file, { backgroundCheckpoint: false });
  store.db.pragma("journal_mode = DELETE"); // a single self-contained file to copy
  await store.init();
  const tokens: Record<string, string> = {};
  const rows: TokenRow[] = [];
  const servers = [
    ...Array.from({ length: FLEET_FILES }, (_, i) => fleetServer(i)),
    ...Array.from({ length: BACKLOG_FILES }, (_, i) => backlogServer("plain", i)),
    ...Array.from({ length: BACKLOG_FILES }, (_, i) => backlogServer("gzip", i)),
  ];
  const insert = store.db.prepare(
    "INSERT INTO agent_tokens (token_id, server, secret_hash, created_at, revoked_at) VALUES (?, ?, ?, ?, NULL)",
  );
  store.db.transaction(() => {
    for (const server of servers) {
      const id = randomBytes(6).toString("hex");
      const secret = randomBytes(32).toString("hex");
      const hash = hashSecret(secret);
      insert.run(id, server, hash, Date.now());
      rows.push({ id, server, hash });
      tokens[server] = `srvu_${id}_${secret}`;
    }
  })();
  await store.close();
  return { file, rows, tokens };
}

/** A fresh schema on PG_URL holding the same tokens as the SQLite template. */
async function preparePostgres(tokens: readonly TokenRow[]): Promise<string> {
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`DROP SCHEMA IF EXISTS ${PG_SCHEMA} CASCADE; CREATE SCHEMA ${PG_SCHEMA}`);
  await admin.end();
  const store = new PgStore(PG_URL, { schema: PG_SCHEMA, max: 1 });
  await store.init();
  await store.pool.query(
    "INSERT INTO agent_tokens (token_id, server, secret_hash, created_at) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[])",
    [
      tokens.map((t) => t.id),
      tokens.map((t) => t.server),
      tokens.map((t) => t.hash),
      tokens.map(() => Date.now()),
    ],
  );
  await store.close();
  return pgUrlWithSchema(PG_URL, PG_SCHEMA);
}

async function dropPostgres(): Promise<void> {
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`DROP SCHEMA IF EXISTS ${PG_SCHEMA} CASCADE`).catch(() => {});
  await admin.end();
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

async function startCentral(
  dataDir: string,
  backend: Backend,
  dbUrl: string | null,
): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  // BENCH_CPU_PROF=DIR writes a CPU profile of the central (to find the next bottleneck).
  const prof = process.env.BENCH_CPU_PROF
    ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`]
    : [];
  const child = spawn(process.execPath, [...prof, ...centralEntry, "central", "serve"], {
    cwd: ROOT,
    env: {
      ...process.env,
      SRVUTIL_DATA_DIR: dataDir,
      SRVUTIL_LISTEN: `127.0.0.1:${port}`,
      SRVUTIL_SQLITE_SYNCHRONOUS: backend === "postgres" ? "NORMAL" : backend,
      ...(dbUrl === null ? {} : { SRVUTIL_DB_URL: dbUrl }),
      SRVUTIL_RATE_LIMIT_PER_SECOND: "0",
      SRVUTIL_LOG_LEVEL: "error",
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  children.add(child);
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(`${url}/readyz`)).ok) return { url, child };
    } catch {
      /* starting */
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("central did not start");
}

async function stopCentral(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
  child.kill("SIGKILL");
  children.delete(child);
}

/** The central's own gauges from /metrics: resident memory and CPU seconds (user + system, all threads). */
async function centralGauges(
  url: string,
): Promise<{ rssMiB: number; cpuSeconds: number; userSeconds: number; lagMaxMs: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (name: string) => {
    const m = new RegExp(`^${name} ([0-9.e+-]+)`, "m").exec(text);
    return m ? Number(m[1]) : Number.NaN;
  };
  return {
    rssMiB: value("srvutil_process_resident_memory_bytes") / 2 ** 20,
    cpuSeconds: value("srvutil_process_cpu_seconds_total"),
    userSeconds: value("srvutil_process_cpu_user_seconds_total"),
    /** Longest event-loop stall since the previous scrape (prom-client resets it on each). */
    lagMaxMs: value("srvutil_nodejs_eventloop_lag_max_seconds") * 1000,
  };
}

function runClient(spec: LoadSpec): Promise<LoadResult> {
  const specFile = path.join(work, `spec-${spec.scenario}-${Date.now()}.json`);
  writeFileSync(specFile, JSON.stringify(spec));
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", path.join(ROOT, "bench/ingest/load-client.ts"), specFile],
      {
        cwd: ROOT,
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    children.add(child);
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.on("exit", (code) => {
      children.delete(child);
      if (code !== 0) reject(new Error(`load client exited ${code}`));
      else {
        const r = JSON.parse(out.trim()) as LoadResult;
        if (r.errors > 0) log(`${spec.scenario}: answers ${JSON.stringify(r.statuses)}`);
        resolve(r);
      }
    });
  });
}

interface Baseline {
  rowsPerSec: number;
  uploadsPerSec: number;
}

/** The storage floor: SqliteStore.ingestSync of prebuilt rows, one transaction per file. */
async function baseline(
  sync: SqliteSynchronous,
  kind: "fleet" | "backlog",
  files: number,
  withParse: false | "protocol",
): Promise<Baseline> {
  const dir = mkdtempSync(path.join(work, "baseline-"));
  const store = new SqliteStore(path.join(dir, "b.db"), { synchronous: sync });
  await store.init();
  const inputs =
    kind === "fleet"
      ? Array.from({ length: files }, (_, i) => rowsFor(fleetServer(i), FLEET_START, FLEET_SAMPLES))
      : Array.from({ length: files }, (_, i) =>
          rowsFor(backlogServer("plain", i), BACKLOG_START, BACKLOG_SAMPLES),
        );
  const texts = withParse ? Array.from({ length: files }, (_, i) => Buffer.from(backlogCsv("plain", i))) : [];
  let rows = 0;
  const t0 = performance.now();
  for (let i = 0; i < files; i++) {
    const fileRows =
      withParse === "protocol" ? parseMetricsCsv(texts[i]!, { maxRows: 1_000_000 }).rows : inputs[i]!;
    const server = fileRows[0]!.server;
    store.ingestSync(
      { uploadId: `b${i}`, server, receivedAt: Date.now(), rawPath: `x/${i}`, sha256: String(i), bytes: 0 },
      fileRows,
    );
    rows += fileRows.length;
  }
  const seconds = (performance.now() - t0) / 1000;
  await store.close();
  return { rowsPerSec: rows / seconds, uploadsPerSec: files / seconds };
}

/** Parsing alone, rows/s: the general parser against the default (fast path first), best of 3. */
function parserOnly(files: number): { general: number; fast: number } {
  const texts = Array.from({ length: files }, (_, i) => Buffer.from(backlogCsv("plain", i)));
  const measure = (parse: typeof parseMetricsCsv) => {
    let best = 0;
    for (let round = 0; round < 3; round++) {
      let rows = 0;
      const t0 = performance.now();
      for (const t of texts) rows += parse(t, { maxRows: 1_000_000 }).rows.length;
      best = Math.max(best, rows / ((performance.now() - t0) / 1000));
    }
    return best;
  };
  return { general: measure(parseMetricsCsvGeneral), fast: measure(parseMetricsCsv) };
}

const fmt = (n: number, digits = 0) =>
  Number.isFinite(n)
    ? n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : "-";

let centralEntry: string[] = [];

async function main() {
  centralEntry = process.env.BENCH_FROM_SOURCE
    ? ["--import", "tsx", path.join(ROOT, "src/cli/main.ts")]
    : buildCentral();
  const lastCleanup = existsSync(CLEANUP_MARK) ? statSync(CLEANUP_MARK).mtimeMs : 0;
  if (Date.now() - lastCleanup < INODE_RECENCY_MS) {
    log(
      `warning: the previous run deleted its files ${Math.round((Date.now() - lastCleanup) / 1000)} s ago; ` +
        "creating files stays slow for about 5 minutes after that (see BENCH_KEEP), so first-upload figures will be pessimistic",
    );
  }
  log(`preparing ${FLEET_FILES} fleet tokens and ${2 * BACKLOG_FILES} backlog tokens`);
  const template = await makeTemplate();
  const results: {
    name: string;
    sync: Backend;
    r: LoadResult;
    rssBefore: number;
    rssAfter: number;
    /** The central's CPU time (all threads) per upload during the scenario. */
    cpuMsPerUpload: number;
    /** The part of it spent in the kernel (file system, sockets). */
    sysShare: number;
  }[] = [];

  const modes: Backend[] = [
    ...((process.env.BENCH_SYNC_MODES ?? "NORMAL,FULL").split(",") as SqliteSynchronous[]),
    ...(WITH_PG ? (["postgres"] as const) : []),
  ];
  for (const sync of modes) {
    const dataDir = path.join(work, `data-${sync}`);
    mkdirSync(dataDir, { recursive: true });
    let dbUrl: string | null = null;
    if (sync === "postgres") {
      log(`postgres: tokens into schema ${PG_SCHEMA} on ${PG_URL.replace(/\/\/[^@/]*@/, "//***@")}`);
      dbUrl = await preparePostgres(template.rows);
    } else copyFileSync(template.file, path.join(dataDir, "srvutil.db"));
    const { url, child } = await startCentral(dataDir, sync, dbUrl);
    const fleet = (scenario: "fleet" | "fleet-steady"): LoadSpec => ({
      url,
      tokens: template.tokens,
      scenario,
      files: FLEET_FILES,
      concurrency: FLEET_CONCURRENCY,
      maxMs: MAX_MS,
    });
    // First contact creates each agent's directories (a shared parent fsync
    // per new server); the steady state is every later upload.
    const scenarios: LoadSpec[] = [fleet("fleet"), fleet("fleet-steady")];
    if (sync === "NORMAL" || sync === "postgres") {
      scenarios.push(
        {
          url,
          tokens: template.tokens,
          scenario: "backlog-plain",
          files: BACKLOG_FILES,
          concurrency: BACKLOG_CONCURRENCY,
          maxMs: MAX_MS,
        },
        {
          url,
          tokens: template.tokens,
          scenario: "backlog-gzip",
          files: BACKLOG_FILES,
          concurrency: BACKLOG_CONCURRENCY,
          maxMs: MAX_MS,
        },
      );
    }
    for (const spec of scenarios) {
      const before = await centralGauges(url);
      log(`${sync}: ${spec.scenario} (${spec.files} files, concurrency ${spec.concurrency})`);
      const r = await runClient(spec);
      const after = await centralGauges(url);
      results.push({
        name: spec.scenario,
        sync,
        r,
        rssBefore: before.rssMiB,
        rssAfter: after.rssMiB,
        cpuMsPerUpload: ((after.cpuSeconds - before.cpuSeconds) * 1000) / Math.max(1, r.uploads),
        sysShare:
          1 - (after.userSeconds - before.userSeconds) / Math.max(1e-9, after.cpuSeconds - before.cpuSeconds),
      });
    }
    if (sync === modes[0] && SOAK_MS > 0) {
      log(`${sync}: soak for ${SOAK_MS / 1000} s, RSS every 5 s`);
      const samples: number[] = [];
      const lagMaxMs: number[] = [];
      const cpuBefore = (await centralGauges(url)).cpuSeconds;
      let healthzMaxMs = 0;
      let probing = false;
      const prober = setInterval(() => {
        if (probing) return; // one probe at a time; a stalled one is measured when it returns
        probing = true;
        const t0 = performance.now();
        void fetch(`${url}/healthz`)
          .then((res) => res.arrayBuffer())
          .catch(() => undefined)
          .finally(() => {
            healthzMaxMs = Math.max(healthzMaxMs, performance.now() - t0);
            probing = false;
          });
      }, 200);
      const sampler = setInterval(() => {
        void centralGauges(url).then((g) => {
          samples.push(g.rssMiB);
          lagMaxMs.push(g.lagMaxMs);
        });
      }, 5000);
      const r = await runClient({
        url,
        tokens: template.tokens,
        scenario: "soak",
        files: FLEET_FILES,
        concurrency: FLEET_CONCURRENCY,
        maxMs: SOAK_MS,
      });
      clearInterval(sampler);
      clearInterval(prober);
      const cpuMsPerUpload =
        (((await centralGauges(url)).cpuSeconds - cpuBefore) * 1000) / Math.max(1, r.uploads);
      soak = { r, samples, lagMaxMs, cpuMsPerUpload, healthzMaxMs };
    }
    if (sync !== "postgres") walMiB[sync] = fileMiB(path.join(dataDir, "srvutil.db-wal"));
    await stopCentral(child);
    if (sync === "postgres") await dropPostgres();
  }

  log("baselines (raw SQLite, same rows, no HTTP, no parsing)");
  const fleetFiles = Math.min(FLEET_FILES, 10_000);
  const base = {
    fleetNORMAL: await baseline("NORMAL", "fleet", fleetFiles, false),
    fleetFULL: await baseline("FULL", "fleet", fleetFiles, false),
    backlog: await baseline("NORMAL", "backlog", BACKLOG_FILES, false),
    backlogParse: await baseline("NORMAL", "backlog", BACKLOG_FILES, "protocol"),
  };
  const parser = parserOnly(Math.min(BACKLOG_FILES, 30));

  const header =
    "| scenario | sync | files | rows/s | uploads/s | p50 ms | p99 ms | non-201 | central CPU ms/upload (kernel share) | baseline rows/s | vs baseline | RSS MiB before→after |";
  const lines = [header, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"];
  for (const { name, sync, r, rssBefore, rssAfter, cpuMsPerUpload, sysShare } of results) {
    const b = name.startsWith("fleet") ? (sync === "FULL" ? base.fleetFULL : base.fleetNORMAL) : base.backlog;
    // postgres rows are measured against the same SQLite baseline: the storage floor of this machine.
    const rowsPerSec = r.rows / r.seconds;
    lines.push(
      `| ${name} | ${sync} | ${r.uploads} | ${fmt(rowsPerSec)} | ${fmt(r.uploads / r.seconds)} | ${fmt(r.p50ms, 1)} | ${fmt(r.p99ms, 1)} | ${r.errors} | ${fmt(cpuMsPerUpload, 3)} (${fmt(sysShare * 100)}%) | ${fmt(b.rowsPerSec)} | ${fmt((rowsPerSec / b.rowsPerSec) * 100, 0)}% | ${fmt(rssBefore)}→${fmt(rssAfter)} |`,
    );
  }
  lines.push(
    `| baseline: raw insert, 20-row files | NORMAL | ${fleetFiles} | ${fmt(base.fleetNORMAL.rowsPerSec)} | ${fmt(base.fleetNORMAL.uploadsPerSec)} | | | | | | 100% | |`,
    `| baseline: raw insert, 20-row files | FULL | ${fleetFiles} | ${fmt(base.fleetFULL.rowsPerSec)} | ${fmt(base.fleetFULL.uploadsPerSec)} | | | | | | | |`,
    `| baseline: raw insert, 10k-row files | NORMAL | ${BACKLOG_FILES} | ${fmt(base.backlog.rowsPerSec)} | ${fmt(base.backlog.uploadsPerSec)} | | | | | | 100% | |`,
    `| in-process parseMetricsCsv + insert, 10k-row files | NORMAL | ${BACKLOG_FILES} | ${fmt(base.backlogParse.rowsPerSec)} | ${fmt(base.backlogParse.uploadsPerSec)} | | | | | | ${fmt((base.backlogParse.rowsPerSec / base.backlog.rowsPerSec) * 100)}% | |`,
  );
  process.stdout.write(`\n${lines.join("\n")}\n\n`);
  process.stdout.write(
    [
      "| parser alone, 10k-row files | rows/s | vs general |",
      "|---|---:|---:|",
      `| general parser (baseline) | ${fmt(parser.general)} | 1.00× |`,
      `| parseMetricsCsv (byte-level fast path) | ${fmt(parser.fast)} | ${fmt(parser.fast / parser.general, 2)}× |`,
    ].join("\n") + "\n\n",
  );
  if (WITH_PG) {
    // Side by side: the same scenario on SQLite (NORMAL) and on PostgreSQL, in this run.
    const side = [
      "| scenario | SQLite rows/s | PostgreSQL rows/s | PG / SQLite | SQLite uploads/s | PG uploads/s | SQLite p99 ms | PG p99 ms | PG non-201 |",
      "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ];
    for (const x of results.filter((y) => y.sync === "postgres")) {
      const sq = results.find((y) => y.sync === "NORMAL" && y.name === x.name);
      const rps = (r: LoadResult) => r.rows / r.seconds;
      side.push(
        `| ${x.name} | ${sq ? fmt(rps(sq.r)) : "-"} | ${fmt(rps(x.r))} | ${sq ? `${fmt((rps(x.r) / rps(sq.r)) * 100)}%` : "-"} | ${sq ? fmt(sq.r.uploads / sq.r.seconds) : "-"} | ${fmt(x.r.uploads / x.r.seconds)} | ${sq ? fmt(sq.r.p99ms, 1) : "-"} | ${fmt(x.r.p99ms, 1)} | ${x.r.errors} |`,
      );
    }
    process.stdout.write(
      `SQLite (NORMAL) and PostgreSQL, same HTTP load, same run:\n\n${side.join("\n")}\n\n`,
    );
    if (process.env.BENCH_PG_BULK !== "0") {
      log("postgres: bulk-insert methods (storage only)");
      const bulk = await measureBulkMethods(PG_URL, {
        rounds: Number(process.env.BENCH_PG_BULK_ROUNDS ?? 2),
      });
      process.stdout.write(`${bulk.table}\n\n`);
    }
    if (process.env.BENCH_IMPORT !== "0") {
      log("central import on both backends");
      process.stdout.write(
        `${await compareImport(PG_URL, {
          servers: Number(process.env.BENCH_IMPORT_SERVERS ?? 20),
          days: Number(process.env.BENCH_IMPORT_DAYS ?? 28),
          rounds: Number(process.env.BENCH_IMPORT_ROUNDS ?? 2),
        })}\n\n`,
      );
    }
  }
  process.stdout.write(
    `WAL size before shutdown: ${Object.entries(walMiB)
      .map(([k, v]) => `${k} ${fmt(v, 1)} MiB`)
      .join(", ")}\n`,
  );
  if (soak !== null) {
    const s = soak.samples;
    const q = Math.max(1, Math.floor(s.length / 4));
    const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    process.stdout.write(
      `Soak ${fmt(soak.r.seconds)} s: ${soak.r.uploads} uploads (${fmt(soak.r.uploads / soak.r.seconds)}/s, p50 ${fmt(soak.r.p50ms, 1)} ms, p99 ${fmt(soak.r.p99ms, 1)} ms, non-201 ${soak.r.errors}, central CPU ${fmt(soak.cpuMsPerUpload, 3)} ms/upload); ` +
        `RSS MiB every 5 s: ${s.map((v) => fmt(v)).join(" ")}; second quarter avg ${fmt(avg(s.slice(q, 2 * q)))} → last quarter avg ${fmt(avg(s.slice(-q)))}; ` +
        `slowest /healthz answer (polled every 200 ms) ${fmt(soak.healthzMaxMs)} ms; ` +
        `event-loop lag gauge max ${fmt(Math.max(...soak.lagMaxMs), 0)} ms (per 5 s: ${soak.lagMaxMs.map((v) => fmt(v)).join(" ")})\n`,
    );
  }
  if (process.env.BENCH_PUSH !== "0") process.stdout.write(pushInputsTable(await measurePushInputs()));
  process.stdout.write(
    `Machine: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? "?"}), Node ${process.version}, load average at the end ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")} (the machine is shared); load client and central are separate processes on loopback.\n`,
  );
}

await main();
