/**
 * What FleetJudge keeps between evaluations (the hour cache, the pressure
 * windows), on SQLite and PostgreSQL: a judge that has judged before judges
 * exactly what a new one judges, after new uploads, after an upload that
 * ends a CPU pressure, and with nothing new; and it reads the windows of
 * only the servers whose last sample moved. Real stores, real clock,
 * samples through the ingest.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { defaultAlertsConfig } from "../../../src/central/alerts/config.js";
import { FleetJudge, type JudgeSettings } from "../../../src/central/alerts/judge.js";
import { alertKeyText } from "../../../src/central/alerts/rules.js";
import type { AlertCondition } from "../../../src/central/alerts/types.js";
import { DEFAULT_THRESHOLDS } from "../../../src/central/report/thresholds.js";
import type { AlertStore } from "../../../src/central/storage/alert-store.js";
import type { MetricRow } from "../../../src/protocol/index.js";
import { storeBackends, type TempStore, upload } from "../../helpers/store-backends.js";

const BACKENDS = await storeBackends();
const MIN = 60_000;
const GIB = 1024 ** 3;
const config = defaultAlertsConfig();
const settings: JudgeSettings = {
  rules: config.rules,
  thresholds: DEFAULT_THRESHOLDS,
  hysteresisPercent: config.hysteresisPercent,
};

/** One sample a minute over [from, to), `cpu` throughout, / at 40 %. */
function rows(server: string, from: number, to: number, cpu: number): MetricRow[] {
  const out: MetricRow[] = [];
  for (let ts = from; ts < to; ts += MIN) {
    out.push({
      timestamp: ts,
      server,
      cpuPercent: cpu,
      cpuPeakPercent: null,
      intervalSeconds: 60,
      memTotalBytes: 16 * GIB,
      memUsedBytes: 4 * GIB,
      memAvailableBytes: 12 * GIB,
      diskMount: "/",
      diskTotalBytes: 100 * GIB,
      diskUsedBytes: 40 * GIB,
      diskFreeBytes: 60 * GIB,
    });
  }
  return out;
}

const keys = (cs: readonly AlertCondition[]) => cs.map((c) => `${alertKeyText(c)} ${c.severity}`).sort();

describe.each(BACKENDS)("what the rules keep between evaluations, on $name", ({ skipReason, make }) => {
  let t: TempStore;
  beforeEach(async (ctx) => {
    if (skipReason !== undefined) ctx.skip(skipReason);
    t = await make();
  });
  afterEach(async () => t?.cleanup());

  it("judges what a new judge judges, reading the windows of the servers that moved only", async () => {
    const now = Date.now();
    const start = now - (now % MIN) - 70 * MIN;
    const servers = ["busy-01", "busy-02", "busy-03", "calm-01"];
    for (const server of servers)
      await upload(t.store, rows(server, start, start + 70 * MIN, server.startsWith("busy") ? 97 : 10));
    await t.store.rollups.refresh();

    const windowReads: string[][] = [];
    const reads: Pick<AlertStore, "lastSeen" | "recentWindow" | "hours"> = {
      lastSeen: () => t.store.alerts.lastSeen(),
      hours: (from, to, s) => t.store.alerts.hours(from, to, s),
      recentWindow: (span, s) => {
        windowReads.push([...(s ?? [])].sort());
        return t.store.alerts.recentWindow(span, s);
      },
    };
    const kept = new FleetJudge(reads, settings);
    const judgeBoth = async (at: number) => {
      const a = await kept.judge(at, []);
      const b = await new FleetJudge(t.store.alerts, settings).judge(at, []);
      expect(keys(a.conditions)).toEqual(keys(b.conditions));
      return keys(a.conditions);
    };

    const first = await judgeBoth(now);
    expect(first.filter((k) => k.includes("cpu_pressure"))).toHaveLength(3);
    const everyBusy = windowReads
      .flat()
      .filter((s) => s.startsWith("busy"))
      .sort();
    expect(new Set(everyBusy)).toEqual(new Set(["busy-01", "busy-02", "busy-03"]));

    // Nothing new: no window is read again, and the judgement is the same.
    windowReads.length = 0;
    expect(await judgeBoth(now)).toEqual(first);
    expect(windowReads.flat()).toEqual([]);

    // One low sample from busy-02 ends its pressure (a window's lowest sample is below the level):
    // only its windows are read again. Judged at the same instant, so the hourly re-read is not in play.
    await upload(t.store, rows("busy-02", start + 70 * MIN, start + 71 * MIN, 5));
    await t.store.rollups.refresh();
    windowReads.length = 0;
    const later = await judgeBoth(now);
    expect(later.filter((k) => k.includes("cpu_pressure"))).toHaveLength(2);
    expect(later.filter((k) => k.includes("cpu_pressure") && k.includes("busy-02"))).toEqual([]);
    expect(windowReads.flat().every((s) => s === "busy-02")).toBe(true);
  });
});
