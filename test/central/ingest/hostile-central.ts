import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createAgentToken } from "../../../src/central/auth/tokens.js";
import { openStorage } from "../../../src/central/storage/open.js";
import { srvutilCommand } from "../../helpers/cli.js";
import { freePort } from "../../helpers/net.js";

/**
 * A real `central serve` in a child process, for the hostile-input tests:
 * what a request costs is measured where a user would see it, in the server
 * process. Peak memory is the kernel's high-water mark of the child's
 * resident set (VmHWM in /proc/PID/status), reset before a request
 * (clear_refs) and read after it, so neither an earlier request nor the
 * test process (which builds the hostile bodies) blurs it.
 */
export interface HostileCentral {
  base: string;
  dir: string;
  tokens: Record<string, string>;
  /** Peak resident set of the server process since the last resetPeak(), bytes. */
  peakRss(): number;
  /** Resident set now, bytes. */
  rss(): number;
  /** Starts a new peak: the kernel's high-water mark is set back to the resident set now. */
  resetPeak(): void;
  /** Bytes of Logs/automation.log and its rotated files together. */
  logBytes(): number;
  /** The longest line, in bytes, of Logs/automation.log and its rotated files. */
  longestLogLine(): number;
  /** Files under received_metrics/. */
  rawFiles(): string[];
  stop(): Promise<void>;
}

export async function startHostileCentral(
  servers: readonly string[],
  env: Record<string, string> = {},
): Promise<HostileCentral> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-hostile-"));
  const port = await freePort();
  const store = await openStorage(`sqlite:${path.join(dir, "srvutil.db")}`);
  const tokens: Record<string, string> = {};
  try {
    for (const s of servers) tokens[s] = await createAgentToken(store, s);
  } finally {
    await store.close();
  }
  const [cmd, argv] = srvutilCommand(["central", "serve"]);
  const child: ChildProcess = spawn(cmd, [...argv], {
    env: {
      ...process.env,
      SRVUTIL_DATA_DIR: dir,
      SRVUTIL_LISTEN: `127.0.0.1:${port}`,
      SRVUTIL_RATE_LIMIT_PER_SECOND: "0",
      SRVUTIL_LOG_LEVEL: "error",
      ...env,
    },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (d) => {
    stderr += d;
  });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`central serve exited: ${stderr}`);
    try {
      if ((await fetch(`${base}/readyz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (i > 600) throw new Error(`central serve did not become ready: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const logDir = path.join(dir, "Logs");
  const logFiles = () =>
    existsSync(logDir)
      ? readdirSync(logDir)
          .filter((n) => n.startsWith("automation.log"))
          .map((n) => path.join(logDir, n))
      : [];
  return {
    base,
    dir,
    tokens,
    peakRss: () => procStatus(child.pid!, "VmHWM"),
    rss: () => procStatus(child.pid!, "VmRSS"),
    // "5" resets the peak resident set size (proc(5), /proc/pid/clear_refs).
    resetPeak: () => writeFileSync(`/proc/${child.pid}/clear_refs`, "5"),
    logBytes: () => logFiles().reduce((sum, f) => sum + statSync(f).size, 0),
    longestLogLine: () => {
      let longest = 0;
      for (const f of logFiles()) {
        for (const line of readFileSync(f, "utf8").split("\n")) {
          longest = Math.max(longest, Buffer.byteLength(line));
        }
      }
      return longest;
    },
    rawFiles: () => {
      const root = path.join(dir, "received_metrics");
      if (!existsSync(root)) return [];
      return readdirSync(root, { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile())
        .map((e) => path.join(e.parentPath, e.name));
    },
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function procStatus(pid: number, field: "VmHWM" | "VmRSS"): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(status);
  if (kb === null) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(kb[1]) * 1024;
}

/** One request's cost as the server process paid it. */
export interface Cost {
  status: number;
  /** Bytes of the answer body. */
  answerBytes: number;
  body: string;
  ms: number;
  /** The server's peak resident set during the request above its resident set before, bytes. */
  rssGrowth: number;
}

export async function measure(central: HostileCentral, send: () => Promise<Response>): Promise<Cost> {
  central.resetPeak();
  const before = central.rss();
  const t0 = performance.now();
  const res = await send();
  const buf = Buffer.from(await res.arrayBuffer());
  const ms = performance.now() - t0;
  return {
    status: res.status,
    answerBytes: buf.length,
    body: buf.toString("utf8", 0, Math.min(buf.length, 4096)),
    ms,
    rssGrowth: central.peakRss() - before,
  };
}

export const MiB = 1024 * 1024;
