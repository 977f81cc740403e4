import { readdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { platformCollector } from "../../src/agent/collector/index.js";
import { runAgentDaemon } from "../../src/agent/daemon.js";
import { AgentLog } from "../../src/agent/log.js";
import { SpoolDirectory, spoolFileName, timestampFromSpoolName } from "../../src/agent/spool.js";
import { backoffDelayMs, mergeCsv, parseRetryAfter, planBatches } from "../../src/agent/uploader.js";
import { type MetricRow, parseMetricsCsv } from "../../src/protocol/index.js";
import { configFor, makeAgentDir } from "./helpers/agent-env.js";
import { TestCentral } from "./helpers/central.js";

let agent: { dir: string; cleanup: () => void };
beforeEach(() => {
  agent = makeAgentDir();
});
afterEach(() => agent.cleanup());

const row = (timestamp: number, mount = "/"): MetricRow => ({
  timestamp,
  server: "s1",
  cpuPercent: 12.5,
  cpuPeakPercent: null,
  intervalSeconds: 60,
  memTotalBytes: 100,
  memUsedBytes: 40,
  memAvailableBytes: 60,
  diskMount: mount,
  diskTotalBytes: 1000,
  diskUsedBytes: 400,
  diskFreeBytes: 500,
});

describe("SpoolDirectory", () => {
  it("names sort by sample time and decode back", () => {
    const a = spoolFileName(Date.UTC(2026, 0, 2, 3, 4, 5, 6));
    expect(a).toMatch(/^20260102T030405006Z-[0-9a-f]{8}\.csv$/);
    expect(timestampFromSpoolName(a)).toBe(Date.UTC(2026, 0, 2, 3, 4, 5, 6));
    expect(timestampFromSpoolName("notes.txt")).toBeNull();
    const names = [Date.UTC(2026, 10, 1), Date.UTC(2025, 11, 31), Date.UTC(2026, 0, 1)].map(spoolFileName);
    expect([...names].sort().map(timestampFromSpoolName)).toEqual([
      Date.UTC(2025, 11, 31),
      Date.UTC(2026, 0, 1),
      Date.UTC(2026, 10, 1),
    ]);
  });

  it("writes valid CSV v1 atomically, lists oldest first, ignores temp and foreign files, cleans stale temps", async () => {
    const spool = new SpoolDirectory(join(agent.dir, "metrics"), { maxAgeMs: 1e12, maxBytes: 1e9 });
    await spool.init();
    const late = await spool.write(
      [row(Date.UTC(2026, 0, 2)), row(Date.UTC(2026, 0, 2), "/data")],
      Date.UTC(2026, 0, 2),
    );
    const early = await spool.write([row(Date.UTC(2026, 0, 1))], Date.UTC(2026, 0, 1));
    writeFileSync(join(spool.dir, ".tmp-20260103T000000000Z-aa.csv.1234"), "timestamp,ser");
    writeFileSync(join(spool.dir, "README"), "x");
    expect((await spool.list()).map((f) => f.name)).toEqual([early.name, late.name]);
    const parsed = parseMetricsCsv(readFileSync(late.path));
    expect(parsed.rows.map((r) => r.diskMount)).toEqual(["/", "/data"]);
    // A fresh temp file may belong to a write in progress: kept. An old one is debris: removed.
    // "Fresh" is this process's clock, which a faked one (npm run test:future) moves but not the file system's.
    const fresh = new Date();
    utimesSync(join(spool.dir, ".tmp-20260103T000000000Z-aa.csv.1234"), fresh, fresh);
    expect(await spool.removeStaleTemps()).toBe(0);
    const old = new Date(Date.now() - 3600_000);
    utimesSync(join(spool.dir, ".tmp-20260103T000000000Z-aa.csv.1234"), old, old);
    expect(await spool.removeStaleTemps()).toBe(1);
    expect(readdirSync(spool.dir).sort()).toEqual(["README", early.name, late.name, "rejected"].sort());
  });
});

describe("upload planning", () => {
  it("batches oldest first up to the byte cap and merges with one header", () => {
    const f = (name: string, bytes: number) => ({ name, path: name, bytes, timestamp: 0 });
    expect(
      planBatches([f("a", 400), f("b", 400), f("c", 400), f("d", 2000)], 1000).map((b) =>
        b.map((x) => x.name),
      ),
    ).toEqual([["a", "b"], ["c"], ["d"]]);
    const merged = mergeCsv([Buffer.from("h1,h2\n1,2\n"), Buffer.from("h1,h2\n3,4\n5,6\n")]).toString();
    expect(merged).toBe("h1,h2\n1,2\n3,4\n5,6\n");
  });

  it("backs off exponentially with full jitter, capped", () => {
    const policy = {
      timeoutMs: 1,
      maxAttempts: 9,
      backoffInitialMs: 1000,
      backoffMaxMs: 60_000,
      maxBatchBytes: 1,
    };
    expect(backoffDelayMs(0, policy, () => 1)).toBe(1000);
    expect(backoffDelayMs(3, policy, () => 1)).toBe(8000);
    expect(backoffDelayMs(10, policy, () => 1)).toBe(60_000);
    expect(backoffDelayMs(3, policy, () => 0.5)).toBe(4000);
    expect(backoffDelayMs(3, policy, () => 0)).toBe(100); // floor: never hammer
  });

  it("reads Retry-After as seconds or an HTTP date", () => {
    expect(parseRetryAfter("120")).toBe(120_000);
    const now = Date.UTC(2026, 0, 1);
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:30 GMT", now)).toBe(30_000);
    expect(parseRetryAfter("soon")).toBeNull();
    expect(parseRetryAfter(undefined)).toBeNull();
  });
});

describe("daemon", () => {
  it("samples on its interval with interval_seconds and cpu_peak_percent, uploads on its own cadence, flushes on stop", async () => {
    const central = new TestCentral("tok");
    await central.start();
    try {
      const config = configFor(agent.dir, central.url, "tok");
      config.sampleIntervalSeconds = 0.4;
      config.cpuSubsampleSeconds = 0.1;
      config.uploadIntervalSeconds = 0.9;
      const controller = new AbortController();
      const log = new AgentLog(join(agent.dir, "Logs"), { echoToStderr: false });
      const done = runAgentDaemon(config, { signal: controller.signal, log, collector: platformCollector() });
      await new Promise((r) => setTimeout(r, 2100));
      controller.abort();
      const summary = await done;
      // ~5 samples in 2.1 s (timers on a busy machine may slip one) + the final partial one.
      expect(summary.samples).toBeGreaterThanOrEqual(4);
      expect(summary.uploadRounds).toBeGreaterThanOrEqual(1);
      const rows = [...central.rows.values()];
      expect(rows.length).toBeGreaterThan(0);
      for (const r of rows) {
        expect(r.intervalSeconds).toBeGreaterThan(0.2);
        expect(r.intervalSeconds).toBeLessThan(1.5);
        expect(r.cpuPeakPercent).not.toBeNull();
        expect(r.cpuPeakPercent!).toBeGreaterThanOrEqual(r.cpuPercent);
      }
      // Delivered + still spooled = everything sampled, nothing twice.
      const spooled = readdirSync(join(agent.dir, "metrics")).filter((n) => n.endsWith(".csv")).length;
      expect(central.timestamps().length + spooled).toBe(summary.samples);
      for (const n of central.deliveries.values()) expect(n).toBe(1);
      const log2 = readFileSync(log.path, "utf8");
      expect(log2).toContain('"event":"daemon_stop"');
      expect(log2).not.toContain('"tok"');
    } finally {
      await central.stop();
    }
  });
});
