import { execFileSync, spawn, spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { EXIT_CODE } from "../../src/errors.js";
import { parseMetricsCsv } from "../../src/protocol/index.js";
import { AGENT_BUNDLE, agentBundle } from "../helpers/agent-bundle.js";
import { closedPort, TestCentral } from "./helpers/central.js";

/** The single-file agent, run with plain node from a folder without node_modules. */
const _ROOT = resolve(import.meta.dirname, "../..");
const BUNDLE = AGENT_BUNDLE;
const TOKEN = "tok_bundle_77c1e0";

let folder: string;
let agentCopy: string;

beforeAll(() => {
  agentBundle();
});

beforeEach(() => {
  folder = mkdtempSync(join(tmpdir(), "srvutil-bundle-"));
  agentCopy = join(folder, "srvutil-agent.mjs");
  copyFileSync(BUNDLE, agentCopy);
});
afterEach(() => rmSync(folder, { recursive: true, force: true }));

function runBundle(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [agentCopy, ...args], {
    cwd: folder,
    env: { PATH: process.env.PATH ?? "", ...env },
    encoding: "utf8",
    timeout: 20_000,
  });
}

/** Async: the test central runs in this process, so the event loop must stay free. */
function runBundleAsync(
  args: string[],
  env: Record<string, string>,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [agentCopy, ...args], {
      cwd: folder,
      env: { PATH: process.env.PATH ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr!.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    child.once("error", fail);
    child.once("close", (status) => {
      clearTimeout(timer);
      done({ status, stdout, stderr });
    });
  });
}

describe("single-file agent", () => {
  it("runs --help from an empty folder with plain node", () => {
    const r = runBundle(["--help"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("Usage: srvutil-agent <command>");
    expect(readdirSync(folder)).toEqual(["srvutil-agent.mjs"]);
  });

  it("requeue moves rejected/ back into the spool", () => {
    const agentDir = join(folder, "agent");
    const rejected = join(agentDir, "metrics", "rejected");
    mkdirSync(rejected, { recursive: true });
    writeFileSync(join(rejected, "20261125T144700000Z-1a2b3c4d.csv"), "timestamp,server\n");
    const r = runBundle(["requeue", "--agent-dir", agentDir]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^requeued 1 file\(s\) from /);
    expect(readdirSync(join(agentDir, "metrics"))).toEqual(["20261125T144700000Z-1a2b3c4d.csv", "rejected"]);
  });

  it("contains none of the central's dependencies", () => {
    const text = readFileSync(BUNDLE, "utf8");
    for (const name of [
      "fastify",
      "better-sqlite3",
      "nodemailer",
      "pino",
      "luxon",
      "zod",
      "commander",
      "src/central",
    ]) {
      expect(text, name).not.toContain(name);
    }
  });

  it("a missing setting is a one-line error naming it, and the token is never printed", () => {
    const r = runBundle(["run", "--once"], { SRVUTIL_AGENT_TOKEN: TOKEN });
    expect(r.status).toBe(EXIT_CODE.bad_config);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain("SRVUTIL_CENTRAL_URL");
    expect(`${r.stdout}${r.stderr}`).not.toContain(TOKEN);
    const noToken = runBundle(["run", "--once"], { SRVUTIL_CENTRAL_URL: "http://127.0.0.1:9" });
    expect(noToken.status).toBe(EXIT_CODE.bad_config);
    expect(noToken.stderr).toMatch(/^srvutil-agent: SRVUTIL_AGENT_TOKEN is not set/);
    const badFlag = runBundle(["run", "--bogus"]);
    expect(badFlag.status).toBe(EXIT_CODE.bad_input);
    expect(badFlag.stderr).toContain("unknown argument '--bogus'");
  });

  describe("against a real central on loopback", () => {
    let central: TestCentral;
    beforeEach(async () => {
      central = new TestCentral(TOKEN);
      await central.start();
    });
    afterEach(() => central.stop());

    it("run --once collects and uploads into the agent dir, never printing the token", async () => {
      const r = await runBundleAsync(["run", "--once"], {
        SRVUTIL_AGENT_DIR: join(folder, "agent-data"),
        SRVUTIL_CENTRAL_URL: central.url,
        SRVUTIL_AGENT_TOKEN: TOKEN,
        SRVUTIL_SERVER_NAME: "bundle-host",
        SRVUTIL_AGENT_CPU_MEASURE_MS: "100",
      });
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/uploaded 1 file\(s\), 0 pending, 0 rejected/);
      expect(r.stdout).not.toContain(TOKEN);
      const rows = [...central.rows.values()];
      expect(rows.length).toBeGreaterThan(0);
      expect(rows[0]!.server).toBe("bundle-host");
      expect(existsSync(join(folder, "agent-data", "Logs", "agent.log"))).toBe(true);
      expect(readFileSync(join(folder, "agent-data", "Logs", "agent.log"), "utf8")).not.toContain(TOKEN);
    });

    it("kill -9 mid-write loses nothing already spooled and never leaves a partial file to send", async () => {
      const down = `http://127.0.0.1:${await closedPort()}`;
      const agentDir = join(folder, "agent");
      const metrics = join(agentDir, "metrics");
      let spooledBeforeKill: string[] = [];
      for (const delay of [700, 900, 1100]) {
        const child = spawn(process.execPath, [agentCopy, "run", "--agent-dir", agentDir], {
          cwd: folder,
          env: {
            PATH: process.env.PATH ?? "",
            SRVUTIL_CENTRAL_URL: down,
            SRVUTIL_AGENT_TOKEN: TOKEN,
            SRVUTIL_SERVER_NAME: "crashy",
            SRVUTIL_AGENT_SAMPLE_SECONDS: "0.02",
            SRVUTIL_AGENT_UPLOAD_SECONDS: "3600",
          },
          stdio: "ignore",
        });
        await new Promise((r) => setTimeout(r, delay));
        spooledBeforeKill = readdirSync(metrics).filter((n) => n.endsWith(".csv"));
        child.kill("SIGKILL");
        await new Promise((r) => child.once("exit", r));
        const after = readdirSync(metrics).filter((n) => n.endsWith(".csv"));
        for (const name of spooledBeforeKill) expect(after).toContain(name);
        // Every file that looks sendable is complete and valid.
        for (const name of after)
          parseMetricsCsv(readFileSync(join(metrics, name)), { now: Date.now() + 60_000 });
      }
      const files = readdirSync(metrics).filter((n) => n.endsWith(".csv"));
      expect(files.length).toBeGreaterThan(10);
      const spooledTimestamps = new Set(
        files.flatMap((name) =>
          parseMetricsCsv(readFileSync(join(metrics, name)), { now: Date.now() + 60_000 }).rows.map(
            (row) => row.timestamp,
          ),
        ),
      );
      // Central back: everything spooled arrives exactly once (the run adds its own sample).
      const r = await runBundleAsync(["run", "--once", "--agent-dir", agentDir], {
        SRVUTIL_CENTRAL_URL: central.url,
        SRVUTIL_AGENT_TOKEN: TOKEN,
        SRVUTIL_SERVER_NAME: "crashy",
        SRVUTIL_AGENT_CPU_MEASURE_MS: "50",
      });
      expect(r.status).toBe(0);
      // Every spooled sample arrived (one distinct timestamp per file), and the run adds its own.
      // That one is a whole second; the test daemon's are milliseconds (20 ms interval), so now
      // and then one of them falls on the same .000 and the central rightly counts it once.
      const received = new Set(central.timestamps());
      expect([...spooledTimestamps].filter((t) => !received.has(t))).toEqual([]);
      expect(spooledTimestamps.size, `${files.length} files`).toBe(files.length);
      expect(received.size - spooledTimestamps.size).toBeLessThanOrEqual(1);
      // Each key (server, timestamp, mount) arrived once, except when the run's own sample fell
      // on a spooled timestamp: then that one timestamp's keys arrived twice (two samples, one
      // key), and the received timestamps are exactly the spooled ones.
      const twice = [...central.deliveries].filter(([, n]) => n !== 1);
      for (const [key, n] of twice) expect(n, key).toBe(2);
      const twiceTimestamps = new Set(twice.map(([key]) => key.split("|")[1]));
      expect(twiceTimestamps.size).toBeLessThanOrEqual(1);
      if (twice.length > 0) expect(received.size).toBe(spooledTimestamps.size);
      expect(readdirSync(metrics).filter((n) => n.endsWith(".csv"))).toEqual([]);
    }, 30_000);

    it("the daemon spools its partial sample on SIGTERM and exits cleanly", async () => {
      const agentDir = join(folder, "agent");
      execFileSync("mkdir", ["-p", agentDir]);
      writeFileSync(join(agentDir, "agent.json"), JSON.stringify({ cpu_subsample_seconds: 0.2 }));
      const child = spawn(process.execPath, [agentCopy, "run", "--agent-dir", agentDir], {
        cwd: folder,
        env: {
          PATH: process.env.PATH ?? "",
          SRVUTIL_CENTRAL_URL: `http://127.0.0.1:${await closedPort()}`,
          SRVUTIL_AGENT_TOKEN: TOKEN,
        },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      child.stdout!.on("data", (c: Buffer) => {
        stdout += c.toString();
      });
      // Wait until the daemon has started (its first line), then let a partial interval pass.
      const waitStart = Date.now();
      while (!stdout.includes("running as") && Date.now() - waitStart < 10_000) {
        await new Promise((r) => setTimeout(r, 50));
      }
      await new Promise((r) => setTimeout(r, 1800));
      child.kill("SIGTERM");
      const code = await new Promise((r) => child.once("exit", r));
      expect(code).toBe(0);
      expect(stdout).toContain("stopped after 1 sample(s)");
      const files = readdirSync(join(agentDir, "metrics")).filter((n) => n.endsWith(".csv"));
      expect(files).toHaveLength(1);
      const { rows } = parseMetricsCsv(readFileSync(join(agentDir, "metrics", files[0]!)), {
        now: Date.now() + 60_000,
      });
      const row = rows[0]!;
      expect(row.intervalSeconds).toBeGreaterThan(1.5);
      expect(row.intervalSeconds).toBeLessThan(10);
      expect(row.cpuPeakPercent).not.toBeNull();
      expect(row.cpuPeakPercent!).toBeGreaterThanOrEqual(row.cpuPercent);
    });
  });
});
