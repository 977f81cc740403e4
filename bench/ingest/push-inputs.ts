/**
 * The foreign push inputs against CSV v1, in the same run (issue 27): a real
 * `central serve` (its own process, SQLite, built dist/) takes each input
 * from this process over loopback for BENCH_PUSH_SECONDS (default 6 s) at
 * BENCH_PUSH_CONCURRENCY (default 8) requests in flight, in BENCH_PUSH_ROUNDS
 * (default 3) interleaved rounds. Reported: stored samples per second (a
 * sample = one server at one instant, CPU + memory + one disk), median and
 * range over the rounds, and the median's ratio to CSV v1 from the same run.
 *
 * The shapes are what each client sends in practice: an agent's CSV v1 file
 * holds one server's sample; a Prometheus remote_write request, an OTLP
 * export, a Telegraf or collectd batch carry BENCH_PUSH_FLEET (default 50)
 * servers' readings at one instant. Every server is primed (its first
 * CPU reading) before the clock starts.
 *
 * Run alone with `node --import tsx bench/ingest/push-inputs.ts`; `npm run
 * bench:ingest` runs it after the CSV v1 scenarios.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createAgentToken, createRelayToken } from "../../src/central/auth/tokens.js";
import { openStorage } from "../../src/central/storage/open.js";
import { type MetricRow, serializeMetricsCsv } from "../../src/protocol/index.js";
import { otlpJsonToProtobuf } from "../../test/helpers/otlp-encoding.js";
import {
  encodeWriteRequest,
  nodeExporterSeries,
  snappyEncode,
} from "../../test/helpers/remote-write-encoding.js";
import { collectdBody, otlpRequest, telegrafMetrics } from "./push-bodies.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const SECONDS = Number(process.env.BENCH_PUSH_SECONDS ?? 6);
const CONCURRENCY = Number(process.env.BENCH_PUSH_CONCURRENCY ?? 8);
const ROUNDS = Number(process.env.BENCH_PUSH_ROUNDS ?? 3);
const FLEET = Number(process.env.BENCH_PUSH_FLEET ?? 50);
const STEP_MS = 60_000;
/** Readings start this far back, so a run's steps stay in the past and inside the ingest horizon. */
const START_AGO_MS = 6 * 86_400_000;

/** One push input: how to build the request for `servers` at `timestampMs` (the step index `step`). */
export interface PushInput {
  name: string;
  /** Servers per request. */
  perRequest: number;
  request(servers: readonly string[], timestampMs: number, step: number): { path: string; init: RequestInit };
}

const csvV1: PushInput = {
  name: "CSV v1 (POST /api/v1/metrics, one server per file)",
  perRequest: 1,
  request([server], t, step) {
    const row: MetricRow = {
      timestamp: t,
      server: server!,
      cpuPercent: 20 + (step % 10),
      cpuPeakPercent: null,
      intervalSeconds: 60,
      memTotalBytes: 8_000_000_000,
      memUsedBytes: 2_000_000_000,
      memAvailableBytes: 6_000_000_000,
      diskMount: "/",
      diskTotalBytes: 100e9,
      diskUsedBytes: 40e9,
      diskFreeBytes: 55e9,
    };
    return {
      path: "/api/v1/metrics",
      init: {
        method: "POST",
        headers: { "content-type": "text/csv", authorization: `Bearer ${agentTokens.get(server!)}` },
        body: serializeMetricsCsv([row]),
      },
    };
  },
};

const remoteWrite: PushInput = {
  name: "Prometheus remote_write (node_exporter series)",
  perRequest: FLEET,
  request(servers, t, step) {
    const series = servers.flatMap((s) => nodeExporterSeries(`${s}:9100`, [t], { firstIndex: step }));
    return {
      path: "/api/v1/prometheus/write",
      init: {
        method: "POST",
        headers: {
          "content-type": "application/x-protobuf",
          "content-encoding": "snappy",
          "x-prometheus-remote-write-version": "0.1.0",
          authorization: `Bearer ${relayToken}`,
        },
        body: snappyEncode(encodeWriteRequest(series)),
      },
    };
  },
};

const otlpProtobuf: PushInput = {
  name: "OTLP/HTTP protobuf (hostmetrics shape)",
  perRequest: FLEET,
  request(servers, t, step) {
    return {
      path: "/v1/metrics",
      init: {
        method: "POST",
        headers: { "content-type": "application/x-protobuf", authorization: `Bearer ${relayToken}` },
        body: otlpJsonToProtobuf(otlpRequest(servers, t, step)),
      },
    };
  },
};

const otlpJson: PushInput = {
  name: "OTLP/HTTP JSON (hostmetrics shape)",
  perRequest: FLEET,
  request(servers, t, step) {
    return {
      path: "/v1/metrics",
      init: {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${relayToken}` },
        body: JSON.stringify(otlpRequest(servers, t, step)),
      },
    };
  },
};

const telegraf: PushInput = {
  name: "Telegraf outputs.http json (cpu, mem, disk)",
  perRequest: FLEET,
  request(servers, t, step) {
    const metrics = telegrafMetrics(servers, t, step);
    return {
      path: "/api/v1/telegraf",
      init: {
        method: "POST",
        headers: { "content-type": "text/plain; charset=utf-8", authorization: `Bearer ${relayToken}` },
        body: JSON.stringify({ metrics }),
      },
    };
  },
};

const collectd: PushInput = {
  name: "collectd write_http JSON (cpu, memory, df)",
  perRequest: FLEET,
  request(servers, t, step) {
    const body = collectdBody(servers, t, step);
    return {
      path: "/api/v1/collectd",
      init: {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${relayToken}` },
        body: JSON.stringify(body),
      },
    };
  },
};

/** The inputs measured; each foreign input adds itself here. */
export const PUSH_INPUTS: PushInput[] = [csvV1, remoteWrite, otlpProtobuf, otlpJson, telegraf, collectd];

let relayToken = "";
const agentTokens = new Map<string, string>();

function serversOf(input: PushInput, index: number): string[] {
  const count = input.perRequest === 1 ? FLEET : input.perRequest * 2;
  return Array.from({ length: count }, (_, i) => `p${index}-${String(i).padStart(4, "0")}`);
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

async function startServe(dir: string): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(ROOT, "bin/srvutil.js"), "central", "serve"], {
    env: {
      ...process.env,
      SRVUTIL_DATA_DIR: dir,
      SRVUTIL_LISTEN: `127.0.0.1:${port}`,
      SRVUTIL_RATE_LIMIT_PER_SECOND: "0",
      SRVUTIL_REPORT_CRON: "off",
      SRVUTIL_LOG_LEVEL: "error",
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    const ok = await fetch(`${url}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return { url, child };
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill("SIGKILL");
  throw new Error("central serve did not become ready");
}

/** Sends `input` for `ms` (or one pass over its servers when ms is 0); resolves to samples stored. */
async function drive(
  url: string,
  input: PushInput,
  servers: readonly string[],
  steps: number[],
  ms: number,
  base: number,
): Promise<{ samples: number; seconds: number; failures: number }> {
  const blocks: string[][] = [];
  for (let i = 0; i < servers.length; i += input.perRequest)
    blocks.push(servers.slice(i, i + input.perRequest));
  let next = 0;
  let samples = 0;
  let failures = 0;
  const started = performance.now();
  const deadline = ms === 0 ? Number.POSITIVE_INFINITY : started + ms;
  const worker = async () => {
    while (performance.now() < deadline) {
      if (ms === 0 && next >= blocks.length) return;
      const b = next++ % blocks.length;
      const step = steps[b]!++;
      const { path: route, init } = input.request(blocks[b]!, base + step * STEP_MS, step);
      const r = await fetch(url + route, init);
      await r.arrayBuffer();
      if (r.ok) samples += blocks[b]!.length;
      else failures++;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return { samples, seconds: (performance.now() - started) / 1000, failures };
}

export interface PushResult {
  name: string;
  perRequest: number;
  rates: number[];
  failures: number;
}

export async function measurePushInputs(inputs: readonly PushInput[] = PUSH_INPUTS): Promise<PushResult[]> {
  if (spawnSync("npm", ["run", "--silent", "build"], { cwd: ROOT, stdio: "inherit" }).status !== 0) {
    throw new Error("npm run build failed");
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-bench-push-"));
  const store = await openStorage(`sqlite:${path.join(dir, "srvutil.db")}`);
  const serverLists = inputs.map((input, i) => serversOf(input, i));
  relayToken = await createRelayToken(store, "bench", "*");
  for (const s of serverLists[0]!) agentTokens.set(s, await createAgentToken(store, s));
  await store.close();
  const { url, child } = await startServe(dir);
  try {
    const base = Date.now() - START_AGO_MS;
    const steps = inputs.map((input, i) =>
      serverLists[i]!.map(() => 0).slice(0, Math.ceil(serverLists[i]!.length / input.perRequest)),
    );
    // Prime every server's CPU baseline (and warm the JIT) before anything is timed.
    for (const [i, input] of inputs.entries()) await drive(url, input, serverLists[i]!, steps[i]!, 0, base);
    const results: PushResult[] = inputs.map((input) => ({
      name: input.name,
      perRequest: input.perRequest,
      rates: [],
      failures: 0,
    }));
    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, input] of inputs.entries()) {
        const r = await drive(url, input, serverLists[i]!, steps[i]!, SECONDS * 1000, base);
        results[i]!.rates.push(r.samples / r.seconds);
        results[i]!.failures += r.failures;
      }
    }
    return results;
  } finally {
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
    if (process.env.BENCH_KEEP !== "1") rmSync(dir, { recursive: true, force: true });
  }
}

export function pushInputsTable(results: readonly PushResult[]): string {
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const baseline = median(results[0]!.rates);
  const f = (n: number) => n.toFixed(0);
  const lines = [
    `Push inputs against CSV v1, ${ROUNDS} interleaved rounds of ${SECONDS} s, ${CONCURRENCY} requests in flight, SQLite:`,
    "| input | servers per request | samples/s median | range | × CSV v1 | non-2xx |",
    "|---|---|---|---|---|---|",
  ];
  for (const r of results) {
    lines.push(
      `| ${r.name} | ${r.perRequest} | ${f(median(r.rates))} | ${f(Math.min(...r.rates))}–${f(Math.max(...r.rates))} | ${(median(r.rates) / baseline).toFixed(2)} | ${r.failures} |`,
    );
  }
  return `${lines.join("\n")}\n`;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  process.stdout.write(pushInputsTable(await measurePushInputs()));
}
