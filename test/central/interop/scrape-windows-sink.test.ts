/**
 * windows_exporter's text, from the 0.31 fixture, through the parser, the
 * families and the real sink (SQLite, IngestService): two scrapes a minute
 * apart in which every core was idle 45 of the 60 seconds store one sample
 * of 25 % busy, memory used = total − physical free, and the C: and D:
 * drives only.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { IngestService } from "../../../src/central/ingest/ingest-service.js";
import { parseExposition } from "../../../src/central/ingest/interop/exposition.js";
import {
  groupsFromPromSamples,
  READ_FAMILIES,
} from "../../../src/central/ingest/interop/prometheus-families.js";
import { InteropSink } from "../../../src/central/ingest/interop/sink.js";
import type { MetricRow } from "../../../src/protocol/index.js";
import { type TempStore, tempStore } from "../../helpers/store-backends.js";

const TEXT = readFileSync(
  new URL("../../fixtures/interop/windows-exporter-0.31.prom", import.meta.url),
  "utf8",
);
/** A minute-aligned instant some hours ago, on the real clock. */
const t0 = Math.floor((Date.now() - 3 * 3_600_000) / 60_000) * 60_000;

/** The fixture a minute later: each core's idle counter `idleSeconds` further on. */
function later(idleSeconds: number): string {
  return TEXT.replace(
    /^(windows_cpu_time_total\{core="[^"]+",mode="idle"\}) (\S+)$/gm,
    (_m, series: string, v: string) => `${series} ${Number(v) + idleSeconds}`,
  );
}

const groupsOf = (text: string, at: number) =>
  groupsFromPromSamples(
    parseExposition(text, {
      defaultTimestampMs: at,
      ignoreTimestamps: true,
      keepName: (n) => READ_FAMILIES.has(n),
    }),
    () => "win-app-01",
  ).groups;

describe("windows_exporter fixture → sink", () => {
  let temp: TempStore;
  let data: string;
  let sink: InteropSink;

  beforeEach(async () => {
    temp = await tempStore();
    data = mkdtempSync(path.join(os.tmpdir(), "srvutil-scrape-win-"));
    const ingest = new IngestService({
      store: temp.store,
      dataDir: data,
      receivedMetricsDir: path.join(data, "received_metrics"),
      maxFutureSkewMs: 86_400_000,
      maxRows: 200_000,
      rawStore: "files",
    });
    sink = new InteropSink({ ingest, store: temp.store });
  });
  afterEach(async () => {
    await temp?.cleanup();
    rmSync(data, { recursive: true, force: true });
  });

  it("stores 25 % busy from the idle counters over four cores, physical memory, C: and D:", async () => {
    const first = await sink.accept(groupsOf(TEXT, t0), "scrape", { kind: "scrape" });
    expect(first).toMatchObject({ samples: 0, primed: 1 });
    const second = await sink.accept(groupsOf(later(45), t0 + 60_000), "scrape", { kind: "scrape" });
    expect(second).toMatchObject({ samples: 1, rows: 2, servers: ["win-app-01"] });

    const rows: MetricRow[] = [];
    for await (const r of temp.store.samples({
      servers: ["win-app-01"],
      from: t0 - 60_000,
      to: t0 + 120_000,
    })) {
      rows.push(r);
    }
    expect(rows.map((r) => r.diskMount)).toEqual(["C:", "D:"]);
    for (const r of rows) {
      expect(r.timestamp).toBe(t0 + 60_000);
      expect(r.cpuPercent).toBeCloseTo(25, 6);
      expect(r.memTotalBytes).toBe(17_110_138_880);
      expect(r.memAvailableBytes).toBe(9_130_381_312);
      expect(r.memUsedBytes).toBe(17_110_138_880 - 9_130_381_312);
    }
    expect(rows[0]).toMatchObject({ diskTotalBytes: 255_465_615_360, diskFreeBytes: 94_570_889_216 });
    expect(rows[1]).toMatchObject({ diskTotalBytes: 1_000_186_310_656, diskFreeBytes: 487_564_193_792 });
  });
});
