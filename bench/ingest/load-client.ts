/**
 * The load generator, run as its own process so its CPU is not the
 * central's: `node --import tsx bench/ingest/load-client.ts SPEC.json`.
 * Posts the prepared files with keep-alive connections and prints one JSON
 * result per scenario on stdout.
 */
import { readFileSync } from "node:fs";
import http from "node:http";
import { gzipSync } from "node:zlib";
import { backlogCsv, backlogServer, fleetCsv, fleetServer } from "./workload.js";

export interface LoadSpec {
  url: string;
  tokens: Record<string, string>;
  /** soak: the fleet scenario in rounds (new rows each round) until maxMs. */
  /** fleet-steady: the same agents again with new rows, their directories now exist. */
  scenario: "fleet" | "fleet-steady" | "backlog-plain" | "backlog-gzip" | "soak";
  files: number;
  concurrency: number;
  /** Stop early after this long (bounded run), ms. */
  maxMs: number;
}

export interface LoadResult {
  scenario: string;
  uploads: number;
  rows: number;
  seconds: number;
  p50ms: number;
  p99ms: number;
  errors: number;
  statuses: Record<string, number>;
}

const spec = JSON.parse(readFileSync(process.argv[2]!, "utf8")) as LoadSpec;
const url = new URL("/api/v1/metrics", spec.url);
const agent = new http.Agent({ keepAlive: true, maxSockets: spec.concurrency });

interface Prepared {
  token: string;
  body: Buffer;
  rows: number;
  gzip: boolean;
}

const prepared: Prepared[] = [];
for (let i = 0; i < (spec.scenario === "soak" ? 0 : spec.files); i++) {
  if (spec.scenario === "fleet" || spec.scenario === "fleet-steady") {
    prepared.push({
      token: spec.tokens[fleetServer(i)]!,
      body: Buffer.from(fleetCsv(i, spec.scenario === "fleet" ? 0 : 1)),
      rows: 20,
      gzip: false,
    });
  } else {
    const kind = spec.scenario === "backlog-gzip" ? "gzip" : "plain";
    const csv = Buffer.from(backlogCsv(kind, i));
    prepared.push({
      token: spec.tokens[backlogServer(kind, i)]!,
      body: kind === "gzip" ? gzipSync(csv) : csv,
      rows: 10_000,
      gzip: kind === "gzip",
    });
  }
}

function post(p: Prepared): Promise<number> {
  return new Promise((resolve) => {
    const req = http.request(
      url,
      {
        method: "POST",
        agent,
        headers: {
          authorization: `Bearer ${p.token}`,
          "content-type": "text/csv",
          "content-length": p.body.length,
          ...(p.gzip ? { "content-encoding": "gzip" } : {}),
        },
      },
      (res) => {
        let body = "";
        res.on("data", (d) => {
          if (process.env.BENCH_DEBUG && body.length < 500) body += d;
        });
        res.on("end", () => {
          if (process.env.BENCH_DEBUG && res.statusCode !== 201)
            process.stderr.write(`${res.statusCode} ${body}\n`);
          resolve(res.statusCode ?? 0);
        });
      },
    );
    req.on("error", () => resolve(0));
    req.end(p.body);
  });
}

const latencies: number[] = [];
const statuses: Record<string, number> = {};
let next = 0;
let rows = 0;
const t0 = performance.now();
const deadline = t0 + spec.maxMs;
/** The next file to send: prepared ones, or for a soak generated round after round. */
function nextFile(): Prepared | null {
  if (spec.scenario !== "soak") return next < prepared.length ? prepared[next++]! : null;
  const n = next++;
  const i = n % spec.files;
  return {
    token: spec.tokens[fleetServer(i)]!,
    body: Buffer.from(fleetCsv(i, 2 + Math.floor(n / spec.files))),
    rows: 20,
    gzip: false,
  };
}

async function worker() {
  while (performance.now() < deadline) {
    const p = nextFile();
    if (p === null) break;
    const start = performance.now();
    const status = await post(p);
    latencies.push(performance.now() - start);
    statuses[status] = (statuses[status] ?? 0) + 1;
    if (status === 201) rows += p.rows;
  }
}
await Promise.all(Array.from({ length: spec.concurrency }, worker));
const seconds = (performance.now() - t0) / 1000;
latencies.sort((a, b) => a - b);
const pct = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
const result: LoadResult = {
  scenario: spec.scenario,
  uploads: latencies.length,
  rows,
  seconds,
  p50ms: pct(0.5),
  p99ms: pct(0.99),
  errors: latencies.length - (statuses["201"] ?? 0),
  statuses,
};
process.stdout.write(`${JSON.stringify(result)}\n`);
agent.destroy();
