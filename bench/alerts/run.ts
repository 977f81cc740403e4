/**
 * `npm run bench:alerts`: one alert evaluation (issue 28: under 1 s at
 * 10,000 servers) over 1,000 and 10,000 servers, on SQLite and PostgreSQL,
 * and the upload path's latency while evaluations run back to back.
 *
 * 1. Seed, per fleet size and backend: 72 hours of hourly rollups (2 mounts)
 *    written straight into the rollup tables (bench/support/synthetic-rollups.ts),
 *    then the last 65 minutes as real samples, one a minute, through the real
 *    ingest (store.ingest), folded by a real rollup refresh. The synthetic
 *    figures put one server in ten above the CPU threshold and another one
 *    in ten above the memory threshold for the whole window, and some disks
 *    on a slope, so the rules have work to do.
 * 2. ROUNDS evaluations (AlertService.evaluateOnce: the reads, the rules, the
 *    lifecycle, the commit), the first one alone (it inserts the episodes),
 *    one unmeasured (it starts the rules' worker, which reads every hour
 *    once), then the steady ones. Before each steady one, a minute's
 *    arrivals at the agents' default interval (20 minutes): a new sample
 *    from a twentieth of the fleet, through the ingest, folded by a refresh
 *    (not measured). Then ROUNDS evaluations after every server has sent a
 *    sample (60-s uploads: the rules read everything again). Also the reads
 *    alone, and the rules and lifecycle alone, so the table says where the
 *    time goes.
 * 3. Upload latency: POST /api/v1/metrics of a new sample over loopback to
 *    `central serve` on the same store, from the fleet's own servers in turn
 *    (each upload moves its server, so the evaluations read it again),
 *    UPLOADS sequential uploads idle, then UPLOADS while evaluations run
 *    back to back in the same process (as in serve), then UPLOADS while the
 *    same evaluations run with the rules on the main thread; p99 of each,
 *    alternated ROUNDS times. Baseline: the idle phase of the same round.
 *
 * Env: SRVUTIL_BENCH_SIZES (1000,10000), SRVUTIL_BENCH_ROUNDS (5), SRVUTIL_BENCH_UPLOADS (200),
 * BENCH_PG_URL (postgres://postgres@127.0.0.1:5432/postgres), BENCH_PG=0 for SQLite only.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { defaultAlertsConfig } from "../../src/central/alerts/config.js";
import { FleetJudge } from "../../src/central/alerts/judge.js";
import { batchesFor, decideLifecycle } from "../../src/central/alerts/lifecycle.js";
import { alertKeyText, evaluateRules } from "../../src/central/alerts/rules.js";
import { AlertService } from "../../src/central/alerts/service.js";
import { startCentral } from "../../src/central/central-process.js";
import { loadCentralConfig } from "../../src/central/config.js";
import { createAgentToken } from "../../src/central/http/app.js";
import { DEFAULT_THRESHOLDS } from "../../src/central/report/thresholds.js";
import { openStorage } from "../../src/central/storage/open.js";
import { PgStore } from "../../src/central/storage/postgres/pg-store.js";
import type { Storage } from "../../src/central/storage/store.js";
import { postMetrics } from "../../src/demo/upload.js";
import type { MetricRow } from "../../src/protocol/index.js";
import { createTestSchema } from "../../test/helpers/postgres.js";
import { upload } from "../../test/helpers/store-backends.js";
import { seedSyntheticRollups } from "../support/synthetic-rollups.js";

const SIZES = (process.env.SRVUTIL_BENCH_SIZES ?? "1000,10000").split(",").map(Number);
const ROUNDS = Number(process.env.SRVUTIL_BENCH_ROUNDS ?? 5);
const UPLOADS = Number(process.env.SRVUTIL_BENCH_UPLOADS ?? 200);
const PG_URL = process.env.BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const WITH_PG = process.env.BENCH_PG !== "0";
const MIN = 60_000;
const HOUR = 3_600_000;
const GIB = 1024 ** 3;
const MOUNTS = ["/", "/data"];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;
const range = (xs: number[], digits = 0) =>
  `${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}`;

/** The last 65 minutes of one server, one sample a minute, figures in line with its synthetic hours. */
function recentRows(server: string, s: number, now: number): MetricRow[] {
  const rows: MetricRow[] = [];
  // One server in ten under sustained CPU pressure, another one in ten under memory pressure, the rest spread below.
  const cpu = s % 10 === 3 ? 92 : 5 + ((s * 37) % 60);
  const mem = s % 10 === 7 ? 96 : 20 + ((s * 53) % 55);
  const last = now - (now % MIN) - MIN;
  for (let k = 64; k >= 0; k--) {
    const ts = last - k * MIN;
    for (const [m, mount] of MOUNTS.entries()) {
      const used = Math.round((0.3 + (((s + m * 7) * 13) % 60) / 100) * 500 * GIB);
      rows.push({
        timestamp: ts,
        server,
        cpuPercent: cpu + (k % 3),
        cpuPeakPercent: null,
        intervalSeconds: 60,
        memTotalBytes: 16 * GIB,
        memUsedBytes: Math.round((mem / 100) * 16 * GIB),
        memAvailableBytes: Math.round(((100 - mem) / 100) * 16 * GIB),
        diskMount: mount,
        diskTotalBytes: 500 * GIB,
        diskUsedBytes: used,
        diskFreeBytes: 500 * GIB - used,
      });
    }
  }
  return rows;
}

async function seed(store: Storage, n: number, now: number): Promise<string[]> {
  const names = Array.from({ length: n }, (_, i) => `srv-${String(i).padStart(5, "0")}`);
  const hourNow = now - (now % HOUR);
  const t0 = performance.now();
  await seedSyntheticRollups(store, {
    servers: names,
    from: hourNow - 72 * HOUR,
    to: hourNow - HOUR,
    mounts: MOUNTS,
  });
  for (const [s, server] of names.entries()) await upload(store, recentRows(server, s, now));
  await store.rollups.refresh();
  console.log(
    `  seeded ${n.toLocaleString("en")} servers in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  return names;
}

interface Uploader {
  server: string;
  /** Its place in the fleet: its figures follow it (recentRows). */
  index: number;
  token: string;
}

interface SizeResult {
  backend: string;
  servers: number;
  first: number;
  evaluate: number[];
  everyMoved: number[];
  reads: number[];
  decide: number[];
  open: number;
  idleP50: number[];
  idleP99: number[];
  busyP50: number[];
  busyP99: number[];
  inlineP99: number[];
}

/**
 * Sequential uploads of one new sample each from the fleet's own servers,
 * the next server each time (each token has its own rate limit): every
 * upload moves its server, so the evaluations running meanwhile read it again.
 */
async function uploadsLatency(
  url: string,
  uploaders: readonly Uploader[],
  cursor: { next: number },
  count: number,
): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const { server, index, token } = uploaders[cursor.next++ % uploaders.length]!;
    const at = Date.now() - 1000;
    const rows = recentRows(server, index, at)
      .slice(-2)
      .map((r) => ({ ...r, timestamp: at }));
    const t = performance.now();
    const answer = await postMetrics(url, token, rows);
    out.push(performance.now() - t);
    if (answer.status !== 201)
      throw new Error(`upload answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  }
  return out;
}

async function measure(backend: string, store: Storage, n: number): Promise<SizeResult> {
  const now = Date.now();
  const names = await seed(store, n, now);
  // Agents upload every 20 minutes: between two one-minute evaluations a twentieth of the fleet has sent a sample.
  let arrived = 0;
  const arrive = async (count: number) => {
    const at = Date.now() - (Date.now() % 1000) - 1000;
    for (let k = 0; k < count; k++) {
      const s = arrived++ % n;
      const rows = recentRows(names[s]!, s, at)
        .slice(-2)
        .map((x) => ({ ...x, timestamp: at }));
      await upload(store, rows);
    }
    await store.rollups.refresh(); // as serve's refresh does every 30 s
  };
  const config = defaultAlertsConfig();
  const options = {
    store,
    config,
    thresholds: DEFAULT_THRESHOLDS,
    groupsOf: () => [],
    channels: new Map(),
    log: null,
    instanceId: "bench",
    publicUrl: null,
  };
  // As in serve: the rules on a worker thread. The inline one is the comparison for the upload latency.
  const service = new AlertService(options);
  const inlineService = new AlertService({ ...options, judgeInWorker: false });
  const judge = new FleetJudge(store.alerts, {
    rules: config.rules,
    thresholds: DEFAULT_THRESHOLDS,
    hysteresisPercent: config.hysteresisPercent,
  });
  const r: SizeResult = {
    backend,
    servers: n,
    first: 0,
    evaluate: [],
    everyMoved: [],
    reads: [],
    decide: [],
    open: 0,
    idleP50: [],
    idleP99: [],
    busyP50: [],
    busyP99: [],
    inlineP99: [],
  };
  let t = performance.now();
  const first = await service.evaluateOnce();
  r.first = performance.now() - t;
  if (!first.committed) throw new Error("the first evaluation did not commit");
  // Not measured: the evaluation that starts the worker and fills its hour cache, once per serve process.
  await service.evaluateOnce();
  for (let i = 0; i < ROUNDS; i++) {
    await arrive(n / 20);
    t = performance.now();
    await service.evaluateOnce();
    r.evaluate.push(performance.now() - t);
    // The first judgement sized the fleet; from then on, as in serve, the rules run on the worker.
    if (service.judgeMode !== "worker")
      throw new Error(`the rules ran ${service.judgeMode}, not on the worker`);
    t = performance.now();
    const evidence = await judge.readEvidence(Date.now());
    r.reads.push(performance.now() - t);
    const { episodes } = await store.alerts.readOpen();
    r.open = episodes.length;
    t = performance.now();
    const conditions = evaluateRules(evidence, {
      rules: config.rules,
      thresholds: DEFAULT_THRESHOLDS,
      hysteresisPercent: config.hysteresisPercent,
      open: new Set(episodes.map(alertKeyText)),
    });
    const decided = decideLifecycle({
      now: evidence.now,
      open: episodes,
      conditions,
      silences: [],
      groupsOf: () => [],
      config,
      urlFor: (s) => `/servers/${s}`,
    });
    batchesFor(decided.notices, config, () => [], evidence.now);
    r.decide.push(performance.now() - t);
  }
  // The worst minute: every server has sent a sample since the last evaluation (60-s uploads).
  for (let i = 0; i < ROUNDS; i++) {
    await arrive(n);
    t = performance.now();
    await service.evaluateOnce();
    r.everyMoved.push(performance.now() - t);
  }

  // Upload latency in `central serve` on this store, idle and while evaluations run back to back.
  const dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-bench-alerts-"));
  const central = await startCentral(
    loadCentralConfig({ SRVUTIL_DATA_DIR: dir, SRVUTIL_LISTEN: "127.0.0.1:0", SRVUTIL_REPORT_CRON: "off" }),
    { store },
  );
  try {
    const uploaders: Uploader[] = [];
    for (let index = 0; index < Math.min(n, 3 * UPLOADS + 20); index++) {
      const server = names[index]!;
      uploaders.push({ server, index, token: await createAgentToken(store, server) });
    }
    const cursor = { next: 0 };
    await uploadsLatency(central.url, uploaders, cursor, 20);
    for (let i = 0; i < ROUNDS; i++) {
      const idle = await uploadsLatency(central.url, uploaders, cursor, UPLOADS);
      let running = true;
      const loop = (async () => {
        while (running) await central.alerts.evaluateOnce();
      })();
      const busy = await uploadsLatency(central.url, uploaders, cursor, UPLOADS);
      running = false;
      await loop;
      if (central.alerts.judgeMode !== "worker") throw new Error("serve's rules did not run on the worker");
      running = true;
      const inlineLoop = (async () => {
        while (running) await inlineService.evaluateOnce();
      })();
      const inline = await uploadsLatency(central.url, uploaders, cursor, UPLOADS);
      running = false;
      await inlineLoop;
      r.idleP50.push(pct(idle, 0.5));
      r.idleP99.push(pct(idle, 0.99));
      r.busyP50.push(pct(busy, 0.5));
      r.busyP99.push(pct(busy, 0.99));
      r.inlineP99.push(pct(inline, 0.99));
    }
  } finally {
    await service.stop();
    await inlineService.stop();
    await central.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return r;
}

async function main(): Promise<void> {
  console.log(
    `bench:alerts — ${SIZES.join(" and ")} servers, ${ROUNDS} rounds, ${UPLOADS} uploads per phase; Node ${process.version}, ${os.cpus().length} CPUs`,
  );
  const results: SizeResult[] = [];
  for (const n of SIZES) {
    const dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-bench-alerts-db-"));
    try {
      console.log(`SQLite, ${n.toLocaleString("en")} servers`);
      const store = await openStorage(`sqlite:${path.join(dir, "metrics.db")}`);
      await store.init();
      try {
        results.push(await measure("SQLite", store, n));
      } finally {
        await store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    if (WITH_PG) {
      console.log(`PostgreSQL, ${n.toLocaleString("en")} servers`);
      const schema = await createTestSchema(PG_URL, "srvutil_bench_alerts");
      const store = new PgStore(PG_URL, { schema: schema.schema });
      await store.init();
      try {
        results.push(await measure("PostgreSQL", store, n));
      } finally {
        await store.close();
        await schema.drop();
      }
    }
  }
  console.log("");
  console.log(
    "| backend | servers | open alerts | first evaluation (ms) | evaluation, median (range) ms | evaluation, every server moved ms | reads ms | rules + lifecycle ms | upload p99 idle ms | upload p99 while evaluating ms | p99 ratio | upload p99, rules on the main thread ms | ratio |",
  );
  console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const r of results) {
    const ratios = r.busyP99.map((b, i) => b / r.idleP99[i]!);
    const inlineRatios = r.inlineP99.map((b, i) => b / r.idleP99[i]!);
    console.log(
      `| ${r.backend} | ${r.servers.toLocaleString("en")} | ${r.open} | ${r.first.toFixed(0)} | ${median(r.evaluate).toFixed(0)} (${range(r.evaluate)}) | ${median(r.everyMoved).toFixed(0)} (${range(r.everyMoved)}) | ${median(r.reads).toFixed(0)} (${range(r.reads)}) | ${median(r.decide).toFixed(0)} (${range(r.decide)}) | ${median(r.idleP99).toFixed(1)} (${range(r.idleP99, 1)}) | ${median(r.busyP99).toFixed(1)} (${range(r.busyP99, 1)}) | ${median(ratios).toFixed(2)} (${range(ratios, 2)}) | ${median(r.inlineP99).toFixed(1)} (${range(r.inlineP99, 1)}) | ${median(inlineRatios).toFixed(2)} (${range(inlineRatios, 2)}) |`,
    );
  }
  const worst = Math.max(...results.filter((r) => r.servers >= 10_000).map((r) => median(r.evaluate)));
  if (Number.isFinite(worst))
    console.log(
      `\nfloor: one evaluation at 10,000 servers under 1 s — median of the slowest backend ${worst.toFixed(0)} ms`,
    );
}

await main();
