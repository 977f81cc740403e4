/**
 * The scraper end to end, with the real programs: the Debian
 * prometheus-node-exporter 1.5.0 on loopback, scraped by a real
 * `central serve` (SQLite) through SRVUTIL_SCRAPE_CONFIG, and a second
 * target that is down. Then: the scraped server's samples are stored with
 * this machine's figures, `srvutil report build` names it with today's
 * figures, the down target is logged once (not every interval) and its
 * error is shown by GET /api/v1/scrape/targets.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { DateTime } from "luxon";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseExposition } from "../../../src/central/ingest/interop/exposition.js";
import { groupsFromPromSamples } from "../../../src/central/ingest/interop/prometheus-families.js";
import { REPO_ROOT, runCli, srvutilCommand } from "../../helpers/cli.js";
import { freePort } from "../../helpers/net.js";
import { type RunningNodeExporter, startNodeExporter } from "../../helpers/node-exporter.js";

const INTERVAL_SECONDS = 2;

async function waitFor<T>(what: string, check: () => Promise<T | null>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => null);
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

interface TargetView {
  server: string;
  state: string;
  scraped_by: string | null;
  last_error: string | null;
  last_success_at: string | null;
  down_since: string | null;
  last_error_at: string | null;
}

describe("scrape end to end: node_exporter → central serve → report", () => {
  let dir: string;
  let exporter: RunningNodeExporter;
  let central: ChildProcess | undefined;
  let output = "";
  let url: string;
  let env: NodeJS.ProcessEnv;
  let viewer: string;
  let downUrl: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-scrape-e2e-"));
    exporter = await startNodeExporter();
    downUrl = `http://127.0.0.1:${await freePort()}/metrics`;
    const configFile = path.join(dir, "scrape.json");
    writeFileSync(
      configFile,
      JSON.stringify({
        targets: [
          { server: "scraped-01", url: exporter.url, interval_seconds: INTERVAL_SECONDS },
          { server: "down-01", url: downUrl, interval_seconds: INTERVAL_SECONDS, timeout_seconds: 1 },
        ],
      }),
    );
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    env = {
      ...process.env,
      SRVUTIL_DATA_DIR: path.join(dir, "central"),
      SRVUTIL_LISTEN: `127.0.0.1:${port}`,
      SRVUTIL_REPORT_TZ: "UTC",
      SRVUTIL_REPORT_CRON: "0 7 1 1 *",
      SRVUTIL_SCRAPE_CONFIG: configFile,
    };
    const add = await runCli(["central", "token", "add", "--role", "viewer", "scrape-e2e"], env);
    expect(add.code, add.stderr).toBe(0);
    viewer = add.stdout.trim().split("\n").at(-1) ?? "";
    const [cmd, args] = srvutilCommand(["central", "serve"]);
    central = spawn(cmd, args, { env, cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
    central.stdout?.on("data", (d) => {
      output += d;
    });
    central.stderr?.on("data", (d) => {
      output += d;
    });
    await waitFor(
      "central serve ready",
      async () => ((await fetch(`${url}/readyz`)).ok ? true : null),
      30_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${output}`);
    });
  }, 60_000);

  afterAll(async () => {
    if (central !== undefined && central.exitCode === null) {
      const exited = new Promise((r) => central?.once("exit", r));
      central.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
      central.kill("SIGKILL");
    }
    await exporter?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const targets = async (): Promise<TargetView[]> => {
    const res = await fetch(`${url}/api/v1/scrape/targets`, {
      headers: { authorization: `Bearer ${viewer}` },
    });
    expect(res.status).toBe(200);
    return ((await res.json()) as { targets: TargetView[] }).targets;
  };

  it("stores this machine's figures for the scraped server and keeps a raw CSV v1 file per scrape", async () => {
    // The first scrape primes the CPU counters; the second gives the first sample.
    const samples = await waitFor(
      "two samples of scraped-01",
      async () => {
        const res = await fetch(
          `${url}/api/v1/servers/scraped-01/samples?from=${new Date(Date.now() - 3_600_000).toISOString()}&to=${new Date(Date.now() + 60_000).toISOString()}`,
          {
            headers: { authorization: `Bearer ${viewer}` },
          },
        );
        if (res.status !== 200) return null;
        const body = (await res.json()) as { samples: Record<string, number | string | null>[] };
        const stamps = new Set(body.samples.map((s) => s.timestamp));
        return stamps.size >= 2 ? body.samples : null;
      },
      30_000,
    );
    // The same machine read directly: MemTotal and /'s size do not move.
    const direct = groupsFromPromSamples(
      parseExposition(await (await fetch(exporter.url)).text(), { defaultTimestampMs: Date.now() }),
      () => "x",
    ).groups[0];
    const root = samples.filter((s) => s.disk_mount === "/");
    expect(root.length).toBeGreaterThanOrEqual(2);
    for (const s of root) {
      expect(s.server).toBe("scraped-01");
      expect(s.mem_total_bytes).toBe(direct?.memory?.totalBytes);
      expect(s.disk_total_bytes).toBe(direct?.disks.find((d) => d.mount === "/")?.totalBytes);
      expect(s.cpu_percent).toBeGreaterThanOrEqual(0);
      expect(s.cpu_percent).toBeLessThanOrEqual(100);
      expect(s.interval_seconds).toBeGreaterThan(INTERVAL_SECONDS * 0.5);
      expect(s.interval_seconds).toBeLessThan(INTERVAL_SECONDS * 3);
    }
    const rawDir = path.join(dir, "central", "received_metrics", "scraped-01");
    const files = readdirSync(rawDir, { recursive: true }).filter((f) => String(f).endsWith(".csv"));
    expect(files.length).toBeGreaterThanOrEqual(2);
  }, 60_000);

  it("builds a report that names the server with today's figures", async () => {
    const week = DateTime.utc().toFormat("kkkk-'W'WW");
    const today = DateTime.utc().toISODate();
    const build = await runCli(["report", "build", "--week", week, "--format", "json", "--out", "-"], env);
    expect(build.code, build.stderr).toBe(0);
    const report = JSON.parse(build.stdout) as {
      servers: {
        server: string;
        days: {
          date: string;
          samples: number;
          cpu: { avg: number | null };
          memory: { total_bytes: number | null };
          disks: { mount: string }[];
        }[];
      }[];
    };
    const server = report.servers.find((s) => s.server === "scraped-01");
    expect(server, JSON.stringify(report.servers.map((s) => s.server))).toBeDefined();
    const day = server?.days.find((d) => d.date === today);
    expect(day?.samples).toBeGreaterThanOrEqual(1);
    expect(day?.cpu.avg).toBeGreaterThanOrEqual(0);
    expect(day?.memory.total_bytes).toBeGreaterThan(0);
    expect(day?.disks.map((d) => d.mount)).toContain("/");
  }, 60_000);

  it("logs the down target once, not every interval, and shows its error", async () => {
    // Several intervals have passed since start; wait for one more failed turn to be sure.
    await new Promise((r) => setTimeout(r, INTERVAL_SECONDS * 2_000));
    const view = await targets();
    const down = view.find((t) => t.server === "down-01");
    expect(down).toMatchObject({ state: "down", last_success_at: null });
    expect(down?.last_error).toMatch(/ECONNREFUSED/);
    expect(Date.parse(down?.down_since ?? "")).toBeLessThanOrEqual(Date.parse(down?.last_error_at ?? ""));
    expect(view.find((t) => t.server === "scraped-01")).toMatchObject({
      state: "up",
      last_error: null,
      down_since: null,
    });

    const log = readFileSync(path.join(dir, "central", "Logs", "automation.log"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { event: string; server?: string; error?: string; url?: string });
    const downLines = log.filter((l) => l.event === "scrape target down");
    expect(downLines).toHaveLength(1);
    expect(downLines[0]).toMatchObject({ server: "down-01", url: downUrl });
    expect(downLines[0]?.error).toMatch(/ECONNREFUSED/);
    expect(log.filter((l) => l.event === "scrape started")).toHaveLength(1);

    const anonymous = await fetch(`${url}/api/v1/scrape/targets`);
    expect(anonymous.status).toBe(401);
  }, 30_000);
});
