import { execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readDisksLinux } from "../../src/agent/collector/disk_linux.js";
import { readMemoryLinux } from "../../src/agent/collector/memory_linux.js";
import { DEFAULT_DISK_FILTER } from "../../src/agent/collector/types.js";
import { runAgentOnce } from "../../src/agent/once.js";
import { configFor, makeAgentDir } from "./helpers/agent-env.js";

/**
 * The agent's readings against the kernel's own files and df, taken at the
 * same moment. The reference figures are parsed here independently of the
 * agent's parsers.
 */
const NOT_LINUX =
  process.platform === "linux" ? undefined : `reads /proc and df: Linux only (this is ${process.platform})`;

function kernelCpu(): { busy: number; total: number } {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - f[3]! - f[4]!, total };
}

function processTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]); // utime, stime
}

let agent: { dir: string; cleanup: () => void } | undefined;
beforeEach((ctx) => {
  if (NOT_LINUX !== undefined) ctx.skip(NOT_LINUX);
  agent = makeAgentDir();
});
afterEach(() => {
  agent?.cleanup();
  agent = undefined;
});

describe("Linux accuracy against the kernel and df", () => {
  it("memory is within 1 % of /proc/meminfo", async () => {
    const before = readFileSync("/proc/meminfo", "utf8");
    const reading = await readMemoryLinux();
    const kib = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(before)![1]) * 1024;
    expect(reading.totalBytes).toBe(kib("MemTotal"));
    expect(Math.abs(reading.availableBytes - kib("MemAvailable"))).toBeLessThanOrEqual(
      kib("MemTotal") * 0.01,
    );
    expect(Math.abs(reading.usedBytes - (kib("MemTotal") - kib("MemAvailable")))).toBeLessThanOrEqual(
      kib("MemTotal") * 0.01,
    );
  });

  it("disk bytes equal df -B1 (allowing for concurrent writes)", async () => {
    const { disks } = await readDisksLinux(DEFAULT_DISK_FILTER);
    const df = execFileSync("df", ["-B1", "--output=target,fstype,size,used,avail"], { encoding: "utf8" });
    const rows = new Map<string, { fstype: string; size: number; used: number; avail: number }>();
    for (const line of df.trim().split("\n").slice(1)) {
      const m = /^(.*?)\s+(\S+)\s+(\d+)\s+(\d+)\s+(\d+)$/.exec(line.trim());
      if (m) rows.set(m[1]!, { fstype: m[2]!, size: Number(m[3]), used: Number(m[4]), avail: Number(m[5]) });
    }
    expect(disks.map((d) => d.mount)).toContain("/");
    // Other processes write to the same disk between the two readings; 64 MiB is far below any real error
    // (counting root's reserve as free would be off by gigabytes).
    const drift = 64 * 1024 * 1024;
    for (const d of disks) {
      const ref = rows.get(d.mount);
      expect(ref, `df has no row for ${d.mount}`).toBeDefined();
      expect(d.totalBytes).toBe(ref!.size);
      expect(Math.abs(d.usedBytes - ref!.used)).toBeLessThanOrEqual(drift);
      expect(Math.abs(d.freeBytes - ref!.avail)).toBeLessThanOrEqual(drift);
    }
    // Every real filesystem df shows is reported (df lists pseudo ones too).
    for (const [target, r] of rows) {
      if (["ext4", "xfs", "btrfs", "ext3", "ext2", "vfat", "zfs"].includes(r.fstype)) {
        expect(disks.map((d) => d.mount)).toContain(target);
      }
    }
  });

  it("one-shot CPU since the last run tracks a known load within 3 points", async () => {
    const config = configFor(agent!.dir, "http://127.0.0.1:9", "t");
    await runAgentOnce(config, { skipUpload: true });
    const kernelStart = kernelCpu();
    const startedAt = Date.now();
    // Hold one core busy for ~2.5 s.
    const child = spawn(process.execPath, [
      "-e",
      "const end = Date.now() + 2500; while (Date.now() < end) {}",
    ]);
    await new Promise((r) => setTimeout(r, 2300));
    const childTicks = processTicks(child.pid!); // the child's own CPU time since it started
    const kernelEnd = kernelCpu();
    const elapsedS = (Date.now() - startedAt) / 1000;
    const second = await runAgentOnce(config, { skipUpload: true });
    await new Promise((r) => child.once("exit", r));

    expect(second.cpuSource).toBe("since_last_run");
    const agentPct = second.sample.cpuPercent;
    const kernelPct = ((kernelEnd.busy - kernelStart.busy) / (kernelEnd.total - kernelStart.total)) * 100;
    const clkTck = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
    const childShare = (childTicks / clkTck / (elapsedS * cpus().length)) * 100;

    // The busy child is visible: the machine was at least as busy as the child alone made it.
    // (On a machine shared with other work the child may not get a whole core; what it got is the known load.)
    expect(childShare).toBeGreaterThan(5);
    expect(agentPct).toBeGreaterThanOrEqual(childShare - 3);
    // And the figure matches the kernel's counters over the same interval.
    expect(Math.abs(agentPct - kernelPct)).toBeLessThanOrEqual(3);
  });
});
