/**
 * The same machine, the same moments, seen through the real node_exporter
 * 1.5.0 (scraped and decoded as `central serve` does) and through srvutil's
 * own agent collectors: the figures agree within the agent's tolerances
 * (memory within 1 %, disk totals exact, CPU busy within 3 points while a
 * busy loop holds one core).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  cpuPercentFromCounters,
  DEFAULT_DISK_FILTER,
  platformCollector,
} from "../../../src/agent/collector/index.js";
import { parseExposition } from "../../../src/central/ingest/interop/exposition.js";
import type { PointGroup } from "../../../src/central/ingest/interop/point-group.js";
import {
  groupsFromPromSamples,
  READ_FAMILIES,
} from "../../../src/central/ingest/interop/prometheus-families.js";
import { fetchExposition } from "../../../src/central/scrape/fetch-target.js";
import { type RunningNodeExporter, startNodeExporter } from "../../helpers/node-exporter.js";
import { requireProgram } from "../../helpers/programs.js";

const collector = platformCollector("linux");
let exporter: RunningNodeExporter;
let busyLoop: ChildProcess | null = null;

beforeAll(async () => {
  exporter = await startNodeExporter();
});
afterAll(async () => {
  busyLoop?.kill("SIGKILL");
  await exporter?.stop();
});

async function scrape(): Promise<PointGroup> {
  const at = Date.now();
  const text = await fetchExposition({
    server: "this-host",
    url: exporter.url,
    intervalMs: 60_000,
    timeoutMs: 10_000,
    auth: null,
    tlsCa: null,
  });
  const samples = parseExposition(text, { defaultTimestampMs: at, keepName: (n) => READ_FAMILIES.has(n) });
  const { groups } = groupsFromPromSamples(samples, () => "this-host");
  expect(groups).toHaveLength(1);
  const group = groups[0];
  if (group === undefined) throw new Error("no group");
  return group;
}

describe("node_exporter and the agent agree on this machine", () => {
  it("memory: the same total, available within 1 %", async () => {
    const [group, agent] = await Promise.all([scrape(), collector.readMemory()]);
    expect(group.memory?.totalBytes).toBe(agent.totalBytes);
    const available = group.memory?.availableBytes ?? 0;
    expect(Math.abs(available - agent.availableBytes) / agent.totalBytes).toBeLessThan(0.01);
  });

  it("disks: the same totals for the same mounts, / among them", async () => {
    const [group, agent] = await Promise.all([scrape(), collector.readDisks(DEFAULT_DISK_FILTER)]);
    const agentByMount = new Map(agent.disks.map((d) => [d.mount, d]));
    const common = group.disks.filter((d) => agentByMount.has(d.mount));
    expect(common.map((d) => d.mount)).toContain("/");
    for (const d of common) {
      const a = agentByMount.get(d.mount);
      expect({ mount: d.mount, total: d.totalBytes }).toEqual({ mount: d.mount, total: a?.totalBytes });
      // used and free move with other writers between the two reads: within 1 % of the size.
      expect(Math.abs(d.freeBytes - (a?.freeBytes ?? 0)) / d.totalBytes).toBeLessThan(0.01);
      expect(Math.abs(d.usedBytes - (a?.usedBytes ?? 0)) / d.totalBytes).toBeLessThan(0.01);
    }
  });

  it("CPU busy within 3 points over the same 5 s, while a busy loop holds core 0", async () => {
    const taskset = requireProgram("taskset", "util-linux");
    busyLoop = spawn(taskset, ["-c", "0", process.execPath, "-e", "for(;;){}"], { stdio: "ignore" });
    await new Promise((r) => setTimeout(r, 500));
    const [g0, a0] = await Promise.all([scrape(), collector.readCpuCounters()]);
    await new Promise((r) => setTimeout(r, 5_000));
    const [g1, a1] = await Promise.all([scrape(), collector.readCpuCounters()]);
    busyLoop.kill("SIGKILL");
    busyLoop = null;
    const c0 = g0.cpuCounters;
    const c1 = g1.cpuCounters;
    if (c0 === undefined || c1 === undefined) throw new Error("node_exporter gave no CPU counters");
    // The sink's arithmetic (point-group.ts): busy = 100 × (Δtotal − Δidle) / Δtotal.
    const viaExporter = (100 * (c1.total - c0.total - (c1.idle - c0.idle))) / (c1.total - c0.total);
    const viaAgent = cpuPercentFromCounters(a0, a1) ?? Number.NaN;
    const cores = (await import("node:os")).availableParallelism();
    // One of `cores` cores is held busy: at least that share, give or take the scheduler.
    expect(viaAgent).toBeGreaterThan((100 / cores) * 0.85);
    expect(Math.abs(viaExporter - viaAgent)).toBeLessThan(3);
  });
});
