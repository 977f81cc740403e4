import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AgentLog } from "../../src/agent/log.js";
import { runAgentOnce } from "../../src/agent/once.js";
import { spoolFileName } from "../../src/agent/spool.js";
import { agentStatus, formatAgentStatus } from "../../src/agent/status.js";
import { CANONICAL_COLUMNS } from "../../src/protocol/index.js";
import { makeSelfSignedCert } from "../helpers/tls.js";
import { configFor, makeAgentDir } from "./helpers/agent-env.js";
import { closedPort, TestCentral } from "./helpers/central.js";

const TOKEN = "tok_test_5f2a9c";
const T0 = Date.UTC(2026, 10, 16, 0, 0, 0); // Monday 2026-11-16

let central: TestCentral;
let agent: { dir: string; cleanup: () => void };

beforeEach(async () => {
  central = new TestCentral(TOKEN);
  await central.start();
  agent = makeAgentDir();
});
afterEach(async () => {
  await central.stop();
  agent.cleanup();
});

const pending = (dir: string) => readdirSync(join(dir, "metrics")).filter((n) => n.endsWith(".csv"));
const logText = (dir: string) => readFileSync(join(dir, "Logs", "agent.log"), "utf8");

describe("one-shot run against a live central", () => {
  it("collects, spools, uploads gzip CSV with the bearer token, and empties the spool", async () => {
    const config = configFor(agent.dir, central.url, TOKEN);
    const result = await runAgentOnce(config, { now: T0 });
    expect(result.upload).toMatchObject({
      uploadedFiles: 1,
      pendingFiles: 0,
      rejectedFiles: 0,
      stoppedBecause: null,
    });
    expect(central.uploads).toHaveLength(1);
    const up = central.uploads[0]!;
    expect(up.headers["content-encoding"]).toBe("gzip");
    expect(up.headers["content-type"]).toMatch(/^text\/csv/);
    expect(up.headers.authorization).toBe(`Bearer ${TOKEN}`);
    const rows = [...central.rows.values()];
    expect(rows.length).toBe(result.rowsSpooled);
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.map((r) => r.diskMount)).toContain("/");
    for (const r of rows) {
      expect(r).toMatchObject({ server: "test-srv", timestamp: T0 });
      expect(r.memTotalBytes).toBeGreaterThan(0);
      expect(r.cpuPercent).toBeGreaterThanOrEqual(0);
      expect(r.intervalSeconds).toBeGreaterThan(0);
    }
    expect(pending(agent.dir)).toEqual([]);
    // The token never reaches the log.
    expect(logText(agent.dir)).not.toContain(TOKEN);
  });

  it("the second run's CPU figure covers the time since the first (state file)", async () => {
    const config = configFor(agent.dir, central.url, TOKEN);
    const first = await runAgentOnce(config, { now: T0 });
    expect(first.cpuSource).toBe("measured");
    await new Promise((r) => setTimeout(r, 300));
    const second = await runAgentOnce(config, { now: T0 + 1_200_000 });
    expect(second.cpuSource).toBe("since_last_run");
    expect(second.sample.intervalSeconds).toBeGreaterThanOrEqual(0.3);
    expect(existsSync(join(agent.dir, "cpu-state.json"))).toBe(true);
  });
});

describe("central down for a simulated week, then back", () => {
  it("every sample arrives exactly once, oldest first", async () => {
    const down = `http://127.0.0.1:${await closedPort()}`;
    // A cron run every hour for a week (hourly rather than every 20 min keeps the suite fast;
    // the logic does not depend on the cadence).
    const STEP = 3_600_000;
    const steps = 7 * 24;
    const downConfig = configFor(agent.dir, down, TOKEN);
    downConfig.upload.maxAttempts = 1;
    downConfig.oneShotCpuMeasureMs = 1; // the CPU window is not under test here; keep 504 runs fast
    const log = new AgentLog(join(agent.dir, "Logs"), { echoToStderr: false });
    for (let i = 0; i < steps; i++) {
      const r = await runAgentOnce(downConfig, { now: T0 + i * STEP, log });
      expect(r.upload?.uploadedFiles).toBe(0);
    }
    expect(pending(agent.dir)).toHaveLength(steps);
    expect(central.requests).toBe(0);
    // Central back: the next run sends the backlog plus its own sample.
    const back = await runAgentOnce(configFor(agent.dir, central.url, TOKEN), { now: T0 + steps * STEP });
    expect(back.upload).toMatchObject({ uploadedFiles: steps + 1, pendingFiles: 0, rejectedFiles: 0 });
    const ts = central.timestamps();
    expect(ts).toHaveLength(steps + 1);
    expect(ts[0]).toBe(T0);
    expect(ts.at(-1)).toBe(T0 + steps * STEP);
    for (const n of central.deliveries.values()) expect(n).toBe(1);
    // Batched (1 MiB of CSV per upload by default), in time order.
    expect(central.uploads.length).toBeLessThan(steps / 10);
    expect(central.uploads.length).toBeGreaterThan(0);
    const firstTs = central.uploads.map((u) => u.csv.split("\n")[1]!.split(",")[0]!);
    expect([...firstTs].sort()).toEqual(firstTs);
    expect(pending(agent.dir)).toEqual([]);
  }, 60_000);
});

describe("faults", () => {
  it("retries 500s with backoff and delivers once", async () => {
    central.script = [
      { kind: "status", status: 500 },
      { kind: "status", status: 503 },
    ];
    const r = await runAgentOnce(configFor(agent.dir, central.url, TOKEN), { now: T0 });
    expect(r.upload).toMatchObject({ uploadedFiles: 1, pendingFiles: 0, attempts: 3 });
    expect(central.requests).toBe(3);
    expect(logText(agent.dir)).toContain('"event":"upload_retry"');
  });

  it("gives up after max_attempts on persistent 5xx and keeps the file for the next run", async () => {
    central.fallback = { kind: "status", status: 502 };
    const config = configFor(agent.dir, central.url, TOKEN);
    const r = await runAgentOnce(config, { now: T0 });
    expect(r.upload).toMatchObject({ uploadedFiles: 0, pendingFiles: 1 });
    expect(r.upload?.stoppedBecause).toMatch(/after 3 attempts/);
    expect(central.requests).toBe(3);
    const status = await agentStatus(config);
    expect(status).toMatchObject({ pendingFiles: 1, oldestPending: T0, rejectedFiles: 0, lastUpload: null });
    expect(status.lastProblem).toMatch(/central unavailable after 3 attempts \(HTTP 502/);
    expect(formatAgentStatus(status)).toContain("spool           1 file(s)");
    central.fallback = { kind: "accept" };
    const r2 = await runAgentOnce(config, { now: T0 + 1_200_000 });
    expect(r2.upload).toMatchObject({ uploadedFiles: 2, pendingFiles: 0 });
    expect(central.timestamps()).toEqual([T0, T0 + 1_200_000]);
    expect((await agentStatus(config)).lastUpload).not.toBeNull();
  });

  it("treats a hanging central as a timeout and retries", async () => {
    central.script = [{ kind: "hang" }];
    const config = configFor(agent.dir, central.url, TOKEN);
    config.upload.timeoutMs = 300;
    const started = Date.now();
    const r = await runAgentOnce(config, { now: T0 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(r.upload).toMatchObject({ uploadedFiles: 1, pendingFiles: 0 });
    expect(central.requests).toBe(2);
  });

  it("survives a connection reset mid-upload", async () => {
    central.script = [{ kind: "reset" }];
    const r = await runAgentOnce(configFor(agent.dir, central.url, TOKEN), { now: T0 });
    expect(r.upload).toMatchObject({ uploadedFiles: 1, pendingFiles: 0 });
    expect(central.requests).toBe(2);
    for (const n of central.deliveries.values()) expect(n).toBe(1);
  });

  it("moves a file the central refuses with 400 to rejected/, logs the error, never retries it, sends the rest", async () => {
    const config = configFor(agent.dir, central.url, TOKEN);
    // Two good samples spooled while the central was down, and one corrupt file between them.
    await runAgentOnce(config, { now: T0, skipUpload: true });
    const badName = spoolFileName(T0 + 600_000);
    writeFileSync(
      join(agent.dir, "metrics", badName),
      // Same header as the agent writes, so it is merged into a batch with the good files.
      `${CANONICAL_COLUMNS.join(",")}\n2026-11-16T00:10:00Z,test-srv,250,,,1,1,0,/,1,1,0\n`,
    );
    const r = await runAgentOnce(config, { now: T0 + 1_200_000 });
    expect(r.upload).toMatchObject({ uploadedFiles: 2, rejectedFiles: 1, pendingFiles: 0 });
    // One merged attempt, then each file alone; the bad one exactly once.
    expect(central.uploads.filter((u) => u.status === 400)).toHaveLength(2);
    expect(central.timestamps()).toEqual([T0, T0 + 1_200_000]);
    const rejected = readdirSync(join(agent.dir, "metrics", "rejected"));
    expect(rejected).toEqual([badName, `${badName}.error.txt`].sort());
    const reason = readFileSync(join(agent.dir, "metrics", "rejected", `${badName}.error.txt`), "utf8");
    expect(reason).toMatch(/HTTP 400: line 2, column cpu_percent/);
    expect(logText(agent.dir)).toMatch(/"event":"upload_rejected".*cpu_percent/);
    // A later run does not send it again.
    const before = central.requests;
    await runAgentOnce(config, { now: T0 + 2_400_000 });
    expect(central.requests).toBe(before + 1);
  });

  it("stops on 401 without retrying and keeps every file", async () => {
    const r = await runAgentOnce(configFor(agent.dir, central.url, "wrong-token"), { now: T0 });
    expect(r.upload).toMatchObject({ uploadedFiles: 0, rejectedFiles: 0, pendingFiles: 1 });
    expect(r.upload?.stoppedBecause).toMatch(/401.*token/);
    expect(central.requests).toBe(1);
  });

  it("honours 429 Retry-After", async () => {
    central.script = [{ kind: "status", status: 429, headers: { "retry-after": "1" } }];
    const started = Date.now();
    const r = await runAgentOnce(configFor(agent.dir, central.url, TOKEN), { now: T0 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(r.upload).toMatchObject({ uploadedFiles: 1, pendingFiles: 0 });
  });

  it("enforces the spool cap: oldest dropped first, with a counted warning", async () => {
    const down = `http://127.0.0.1:${await closedPort()}`;
    const config = configFor(agent.dir, down, TOKEN);
    config.upload.maxAttempts = 1;
    config.spool.maxAgeMs = 2 * 86_400_000;
    for (let day = 0; day < 5; day++) await runAgentOnce(config, { now: T0 + day * 86_400_000 });
    // Days 0, 1 and 2 are older than two days at day 4 (age is by sample time).
    const names = pending(agent.dir);
    expect(names.map((n) => n.slice(0, 8))).toEqual(["20261118", "20261119", "20261120"]);
    const log = logText(agent.dir);
    expect(log).toMatch(/"event":"spool_dropped".*dropped 1 oldest file/);
    // Size cap: keep only what fits. Files hold live readings, so their sizes differ by a
    // few bytes; a cap of two and a half files keeps exactly the two newest whatever they read.
    const size = readFileSync(join(agent.dir, "metrics", names[2]!)).length;
    config.spool.maxBytes = Math.floor(size * 2.5);
    const r = await runAgentOnce(config, { now: T0 + 5 * 86_400_000 });
    expect(r.dropped.droppedFiles).toBe(2);
    expect(pending(agent.dir)).toHaveLength(2);
  });
});

describe("upload lock", () => {
  it("skips the upload while another live agent process holds the spool, takes over a dead one's lock", async () => {
    const config = configFor(agent.dir, central.url, TOKEN);
    const lock = join(agent.dir, "metrics", "upload.lock");
    await runAgentOnce(config, { now: T0, skipUpload: true });
    writeFileSync(lock, JSON.stringify({ pid: process.pid, since: Date.now() }));
    const held = await runAgentOnce(config, { now: T0 + 1000 });
    expect(held.upload).toMatchObject({ uploadedFiles: 0, pendingFiles: 2 });
    expect(held.upload?.stoppedBecause).toMatch(/another agent process/);
    expect(central.requests).toBe(0);
    // The owner was killed: its pid no longer exists.
    const dead = spawnSync(process.execPath, ["-e", "0"]).pid;
    writeFileSync(lock, JSON.stringify({ pid: dead, since: Date.now() }));
    const taken = await runAgentOnce(config, { now: T0 + 2000 });
    expect(taken.upload).toMatchObject({ uploadedFiles: 3, pendingFiles: 0 });
    expect(existsSync(lock)).toBe(false);
  });
});

describe("HTTPS central with a private CA", () => {
  it("uploads when ca_file names the CA", async () => {
    const { keyFile: key, certFile: cert } = makeSelfSignedCert(agent.dir);
    const bodies: Buffer[] = [];
    const server = createServer({ key: readFileSync(key), cert: readFileSync(cert) }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        bodies.push(gunzipSync(Buffer.concat(chunks)));
        res.writeHead(201, { "content-type": "application/json" });
        res.end(JSON.stringify({ upload_id: "x", rows: 1, duplicates: 0 }));
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    try {
      const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const noCa = configFor(agent.dir, url, TOKEN);
      noCa.upload.maxAttempts = 1;
      const refused = await runAgentOnce(noCa, { now: T0 });
      expect(refused.upload?.uploadedFiles).toBe(0);
      expect(refused.upload?.stoppedBecause).toMatch(/certificate/i);
      const withCa = { ...noCa, caFile: cert };
      const ok = await runAgentOnce(withCa, { now: T0 + 1000 });
      expect(ok.upload).toMatchObject({ uploadedFiles: 2, pendingFiles: 0 });
      expect(bodies[0]!.toString("utf8")).toMatch(/^timestamp,server,/);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
