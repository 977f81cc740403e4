/**
 * The official OpenTelemetry JS SDK (sdk-metrics 2.12.0 with the OTLP
 * exporters 0.223.0, the last releases for Node 20) sending to `central
 * serve` over loopback, once with the protobuf exporter (gzip) and once with
 * the JSON one. The instruments carry the hostmetrics receiver's names and
 * attributes, observed from this machine (/proc/stat, /proc/meminfo,
 * statfs of /) the way the receiver reads them (gopsutil), so what is stored
 * can be held to this machine's own figures.
 */
import { readFileSync, statfsSync } from "node:fs";
import os from "node:os";
import type { ObservableResult } from "@opentelemetry/api";
import { OTLPMetricExporter as JsonExporter } from "@opentelemetry/exporter-metrics-otlp-http";
import { OTLPMetricExporter as ProtobufExporter } from "@opentelemetry/exporter-metrics-otlp-proto";
// A dependency of sdk-metrics (same release, 2.12.0): how a MeterProvider gets its resource.
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  MeterProvider,
  PeriodicExportingMetricReader,
  type PushMetricExporter,
} from "@opentelemetry/sdk-metrics";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAgentToken } from "../../../src/central/http/app.js";
import { type FuzzCentral, startFuzzCentral } from "../../fuzz/central.js";
import { samplesOf, todayInReport } from "./push-harness.js";

/** /proc/stat's per-CPU columns in the hostmetrics receiver's state names (USER_HZ ticks). */
const CPU_STATES = ["user", "nice", "system", "idle", "wait", "interrupt", "softirq", "steal"] as const;
const USER_HZ = 100;

function observeCpu(result: ObservableResult): void {
  for (const line of readFileSync("/proc/stat", "utf8").split("\n")) {
    const m = /^cpu(\d+)\s+(.*)$/.exec(line);
    if (m === null) continue;
    const ticks = m[2]!.trim().split(/\s+/).map(Number);
    CPU_STATES.forEach((state, i) => {
      result.observe((ticks[i] ?? 0) / USER_HZ, { cpu: `cpu${m[1]}`, state });
    });
  }
}

function meminfo(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of readFileSync("/proc/meminfo", "utf8").split("\n")) {
    const m = /^(\w+):\s+(\d+) kB/.exec(line);
    if (m !== null) out[m[1]!] = Number(m[2]) * 1024;
  }
  return out;
}

/** gopsutil's reading, as the receiver reports it: cached holds SReclaimable, used = total − free − buffers − cached. */
function observeMemory(result: ObservableResult): void {
  const m = meminfo();
  const cached = m.Cached! + m.SReclaimable!;
  const states = {
    used: m.MemTotal! - m.MemFree! - m.Buffers! - cached,
    free: m.MemFree!,
    buffered: m.Buffers!,
    cached,
    slab_reclaimable: m.SReclaimable!,
    slab_unreclaimable: m.SUnreclaim!,
  };
  for (const [state, bytes] of Object.entries(states)) result.observe(bytes, { state });
}

function rootFsType(): string {
  const line = readFileSync("/proc/mounts", "utf8")
    .split("\n")
    .find((l) => l.split(" ")[1] === "/");
  return line?.split(" ")[2] ?? "unknown";
}

function observeFilesystem(result: ObservableResult): void {
  const s = statfsSync("/");
  const attributes = { device: "root", mode: "rw", mountpoint: "/", type: rootFsType() };
  result.observe((s.blocks - s.bfree) * s.bsize, { ...attributes, state: "used" });
  result.observe(s.bavail * s.bsize, { ...attributes, state: "free" });
  result.observe((s.bfree - s.bavail) * s.bsize, { ...attributes, state: "reserved" });
}

/** A MeterProvider with the hostmetrics instruments, exporting every second through `exporter`. */
function hostmetricsProvider(server: string, exporter: PushMetricExporter): MeterProvider {
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ "host.name": server, "os.type": "linux" }),
    readers: [
      new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 1000, exportTimeoutMillis: 1000 }),
    ],
  });
  const meter = provider.getMeter("srvutil-test-hostmetrics");
  meter.createObservableCounter("system.cpu.time", { unit: "s" }).addCallback(observeCpu);
  meter.createObservableUpDownCounter("system.memory.usage", { unit: "By" }).addCallback(observeMemory);
  meter
    .createObservableUpDownCounter("system.linux.memory.available", { unit: "By" })
    .addCallback((r) => r.observe(meminfo().MemAvailable!));
  meter
    .createObservableUpDownCounter("system.filesystem.usage", { unit: "By" })
    .addCallback(observeFilesystem);
  meter.createObservableGauge("system.cpu.load_average.1m").addCallback((r) => r.observe(os.loadavg()[0]!));
  return provider;
}

describe("the OpenTelemetry JS SDK → POST /v1/metrics", () => {
  let c: FuzzCentral;

  beforeAll(async () => {
    c = await startFuzzCentral({ kind: "sqlite" }, { SRVUTIL_REPORT_TZ: "UTC" });
  });
  afterAll(async () => {
    await c?.close();
  });

  async function runExporter(server: string, exporter: PushMetricExporter): Promise<void> {
    const provider = hostmetricsProvider(server, exporter);
    const deadline = Date.now() + 30_000;
    try {
      // The first export primes the CPU baseline; each later one is a sample.
      while ((await samplesOf(c, server)).length < 3) {
        if (Date.now() > deadline) throw new Error(`no samples of ${server} within 30 s`);
        await new Promise((r) => setTimeout(r, 250));
      }
    } finally {
      await provider.shutdown();
    }
  }

  function expectThisMachine(rows: Awaited<ReturnType<typeof samplesOf>>): void {
    const root = statfsSync("/");
    expect(rows.length).toBeGreaterThanOrEqual(3);
    for (const row of rows) {
      expect(row.diskMount).toBe("/");
      expect(row.diskTotalBytes).toBe(root.blocks * root.bsize);
      expect(Math.abs(row.memTotalBytes - os.totalmem()) / os.totalmem()).toBeLessThan(0.01);
      expect(row.memAvailableBytes).toBeLessThanOrEqual(row.memTotalBytes);
      expect(row.cpuPercent).toBeGreaterThanOrEqual(0);
      expect(row.cpuPercent).toBeLessThanOrEqual(100);
    }
  }

  it("the protobuf exporter, gzip: samples with this machine's memory and root filesystem", async () => {
    const token = await createAgentToken(c.store, "otel-sdk-proto");
    process.env.OTEL_EXPORTER_OTLP_METRICS_COMPRESSION = "gzip";
    let exporter: ProtobufExporter;
    try {
      exporter = new ProtobufExporter({
        url: `${c.url}/v1/metrics`,
        headers: { Authorization: `Bearer ${token}` },
      });
    } finally {
      delete process.env.OTEL_EXPORTER_OTLP_METRICS_COMPRESSION;
    }
    await runExporter("otel-sdk-proto", exporter);
    expectThisMachine(await samplesOf(c, "otel-sdk-proto"));
  }, 60_000);

  it("the JSON exporter: the same", async () => {
    const token = await createAgentToken(c.store, "otel-sdk-json");
    const exporter = new JsonExporter({
      url: `${c.url}/v1/metrics`,
      headers: { Authorization: `Bearer ${token}` },
    });
    await runExporter("otel-sdk-json", exporter);
    expectThisMachine(await samplesOf(c, "otel-sdk-json"));
  }, 60_000);

  it("the weekly report names both servers with today's figures", async () => {
    const root = statfsSync("/");
    for (const server of ["otel-sdk-proto", "otel-sdk-json"]) {
      const today = await todayInReport(c, server);
      expect(today, `${server} today in the report`).toBeDefined();
      expect(today!.samples).toBeGreaterThanOrEqual(3);
      expect(today!.cpu.avg).not.toBeNull();
      expect(Math.abs(today!.memory.total_bytes - os.totalmem()) / os.totalmem()).toBeLessThan(0.01);
      expect(today!.disks).toEqual([
        expect.objectContaining({ mount: "/", total_bytes: root.blocks * root.bsize }),
      ]);
    }
  }, 60_000);
});
