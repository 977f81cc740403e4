/**
 * End to end with the real programs: /usr/bin/prometheus-node-exporter
 * (1.5.0) on a loopback port, /usr/bin/prometheus (2.42) scraping it every
 * 2 s and sending remote_write (with the keep-list and queue_config of
 * docs/integrations.md, "Prometheus remote_write") to a real `central serve` with a relay
 * token made by the CLI; then `report build` names the server with today's
 * figures, which are this machine's own (memory total from /proc/meminfo,
 * the root filesystem's size from statfs).
 */
import { type ChildProcess, spawn } from "node:child_process";
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statfsSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, srvutilCommand } from "../../helpers/cli.js";
import { isoWeekAgo, utcDateDaysAgo } from "../../helpers/clock.js";
import { freePort } from "../../helpers/net.js";
import { requireProgram } from "../../helpers/programs.js";

const SERVER = "e2e-node-01";
/** The families srvutil reads from node_exporter (docs/integrations.md, "Prometheus remote_write"'s keep-list). */
const KEEP =
  "node_cpu_seconds_total|node_memory_MemTotal_bytes|node_memory_MemAvailable_bytes|node_filesystem_(size|free|avail)_bytes";

function started(name: string, child: ChildProcess): { output: () => string } {
  let output = "";
  child.stdout?.on("data", (d) => {
    output = (output + d).slice(-20_000);
  });
  child.stderr?.on("data", (d) => {
    output = (output + d).slice(-20_000);
  });
  child.on("error", (err) => {
    output += `\n${name}: ${err.message}`;
  });
  return { output: () => output };
}

async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | null>,
  log: () => string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => null);
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`${what} did not happen in ${timeoutMs} ms\n${log()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}

describe("remote_write end to end: node_exporter → Prometheus 2.42 → central serve → report", () => {
  const prometheus = requireProgram("prometheus", "prometheus");
  const nodeExporter = requireProgram("prometheus-node-exporter", "prometheus-node-exporter");
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let centralUrl: string;
  const children: ChildProcess[] = [];
  const logs: { name: string; output: () => string }[] = [];
  const allLogs = () => logs.map((l) => `--- ${l.name}\n${l.output()}`).join("\n");
  const spawnLogged = (name: string, cmd: string, args: string[], childEnv?: NodeJS.ProcessEnv) => {
    const child = spawn(cmd, args, { env: childEnv ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
    children.push(child);
    logs.push({ name, ...started(name, child) });
    return child;
  };

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-rw-e2e-"));
    const port = await freePort();
    centralUrl = `http://127.0.0.1:${port}`;
    env = {
      ...process.env,
      SRVUTIL_DATA_DIR: path.join(dir, "central"),
      SRVUTIL_LISTEN: `127.0.0.1:${port}`,
      SRVUTIL_REPORT_TZ: "UTC",
      SRVUTIL_REPORT_CRON: "off",
    };
    const [cmd, args] = srvutilCommand(["central", "serve"]);
    spawnLogged("central serve", cmd, args, env);
    await waitFor(
      "central serve listening",
      30_000,
      async () => ((await fetch(`${centralUrl}/healthz`)).ok ? true : null),
      allLogs,
    );
  }, 60_000);

  afterAll(async () => {
    for (const child of children.reverse()) await stop(child);
    rmSync(dir, { recursive: true, force: true });
  });

  it("a report names the server with today's figures from this machine", async () => {
    const add = await runCli(
      ["central", "token", "add", "e2e-prometheus", "--role", "relay", "--servers", "e2e-node-*"],
      env,
    );
    expect(add.code, add.stderr).toBe(0);
    const token = add.stdout.trim().split("\n").at(-1)!;

    const nodePort = await freePort();
    spawnLogged("node_exporter", nodeExporter, [`--web.listen-address=127.0.0.1:${nodePort}`]);
    await waitFor(
      "node_exporter listening",
      15_000,
      async () => ((await fetch(`http://127.0.0.1:${nodePort}/metrics`)).ok ? true : null),
      allLogs,
    );

    const config = [
      "global:",
      "  scrape_interval: 2s",
      "  scrape_timeout: 2s",
      "scrape_configs:",
      "  - job_name: node",
      "    static_configs:",
      `      - targets: ["127.0.0.1:${nodePort}"]`,
      // The server name srvutil reads: the instance label's host (SRVUTIL_PROMETHEUS_SERVER_LABEL).
      `        labels: { instance: "${SERVER}:9100" }`,
      "remote_write:",
      `  - url: ${centralUrl}/api/v1/prometheus/write`,
      "    authorization:",
      `      credentials: ${token}`,
      "    write_relabel_configs:",
      "      - source_labels: [__name__]",
      `        regex: "${KEEP}"`,
      "        action: keep",
      "    queue_config:",
      "      max_shards: 1",
      "      min_shards: 1",
      "      capacity: 10000",
      "      max_samples_per_send: 5000",
      "      batch_send_deadline: 1s",
      "",
    ].join("\n");
    writeFileSync(path.join(dir, "prometheus.yml"), config);
    spawnLogged("prometheus", prometheus, [
      `--config.file=${path.join(dir, "prometheus.yml")}`,
      `--storage.tsdb.path=${path.join(dir, "tsdb")}`,
      `--web.listen-address=127.0.0.1:${await freePort()}`,
    ]);

    // Prometheus' first scrape primes the CPU counters; wait for three raw files of the server.
    const received = path.join(dir, "central", "received_metrics", SERVER);
    const csvFiles = () =>
      existsSync(received)
        ? readdirSync(received, { recursive: true })
            .map(String)
            .filter((f) => f.endsWith(".csv"))
        : [];
    await waitFor(
      "three batches stored",
      90_000,
      async () => (csvFiles().length >= 3 ? true : null),
      allLogs,
    );
    expect(allLogs()).not.toMatch(/non-recoverable error|status 4\d\d/);

    const today = utcDateDaysAgo(0);
    const build = await runCli(
      ["report", "build", "--week", isoWeekAgo(0), "--format", "json", "--out", "-"],
      env,
    );
    expect(build.code, build.stderr).toBe(0);
    const report = JSON.parse(build.stdout);
    const server = report.servers.find((s: { server: string }) => s.server === SERVER);
    expect(server, build.stdout.slice(0, 2000)).toBeDefined();
    const day = server.days.find((d: { date: string }) => d.date === today);
    expect(day.samples).toBeGreaterThanOrEqual(2);
    expect(day.cpu.avg).toBeGreaterThanOrEqual(0);
    expect(day.cpu.avg).toBeLessThanOrEqual(100);
    const memTotal = Number(/^MemTotal:\s+(\d+) kB/m.exec(readFileSync("/proc/meminfo", "utf8"))![1]) * 1024;
    expect(day.memory.total_bytes).toBe(memTotal);
    expect(day.memory.used_avg_bytes).toBeGreaterThan(0);
    expect(day.memory.used_avg_bytes).toBeLessThan(memTotal);
    const root = statfsSync("/");
    const disk = day.disks.find((d: { mount: string }) => d.mount === "/");
    expect(disk, JSON.stringify(day.disks)).toBeDefined();
    expect(disk.total_bytes).toBe(root.blocks * root.bsize);
  }, 150_000);
});
