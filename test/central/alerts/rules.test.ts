import { describe, expect, it } from "vitest";
import { defaultAlertsConfig } from "../../../src/central/alerts/config.js";
import {
  type AlertEvidence,
  alertKeyText,
  evaluateRules,
  type RuleContext,
} from "../../../src/central/alerts/rules.js";
import { DEFAULT_THRESHOLDS } from "../../../src/central/report/thresholds.js";
import type { AlertHour, AlertWindow } from "../../../src/central/storage/alert-store.js";

const MIN = 60_000;
const HOUR = 3_600_000;
const GB = 1024 ** 3;

function context(open: string[] = []): RuleContext {
  const c = defaultAlertsConfig();
  return {
    rules: c.rules,
    thresholds: DEFAULT_THRESHOLDS,
    hysteresisPercent: c.hysteresisPercent,
    open: new Set(open),
  };
}

/** Evidence of one server seen a minute ago, with whatever the test adds. */
function evidence(now: number, add: Partial<AlertEvidence> = {}): AlertEvidence {
  return {
    now,
    lastSeen: new Map([["web-01", now - MIN]]),
    cpuWindow: new Map(),
    memoryWindow: new Map(),
    hours: new Map(),
    ...add,
  };
}

function window(now: number, spanMin: number, cpuMin: number, memMin: number): AlertWindow {
  return { samples: spanMin + 1, firstTs: now - MIN - spanMin * MIN, lastTs: now - MIN, cpuMin, memMin };
}

/** Hourly points ending in the current hour: used bytes from `used(i)` (i = 0 oldest) on a disk of `total`. */
function diskHours(
  now: number,
  n: number,
  total: number,
  used: (i: number) => number,
  mount = "/var",
): AlertHour[] {
  const hours: AlertHour[] = [];
  for (let i = 0; i < n; i++) {
    const lastTs = now - (n - 1 - i) * HOUR - MIN;
    hours.push({
      hour: lastTs - (lastTs % HOUR),
      lastTs,
      memAvg: 40,
      cpuPeak: 20,
      memMax: 45,
      disks: [{ mount, usedBytes: used(i), freeBytes: total - used(i), totalBytes: total }],
    });
  }
  return hours;
}

describe("alert rules", () => {
  it("server_silent: past the configured time without a sample, and nothing else for that server", () => {
    const now = Date.now();
    const quiet = evidence(now, {
      lastSeen: new Map([
        ["web-01", now - 61 * MIN],
        ["web-02", now - 59 * MIN],
      ]),
      hours: new Map([["web-01", diskHours(now, 3, 100 * GB, () => 99 * GB)]]),
    });
    const found = evaluateRules(quiet, context());
    expect(found.map((c) => [c.server, c.rule, c.severity])).toEqual([
      ["web-01", "server_silent", "critical"],
    ]);
    expect(found[0]!.summary).toMatch(/^no sample for 1 h 01 min \(last \d{4}-\d\d-\d\dT\d\d:\d\d UTC\)/);
  });

  it("CPU and memory pressure: the lowest value over a covered window, not one spike", () => {
    const now = Date.now();
    const at = (cpuWin: AlertWindow, memWin: AlertWindow, open: string[] = []) =>
      evaluateRules(
        evidence(now, {
          cpuWindow: new Map([["web-01", cpuWin]]),
          memoryWindow: new Map([["web-01", memWin]]),
        }),
        context(open),
      ).map((c) => `${c.rule}:${c.severity}`);
    expect(at(window(now, 60, 80, 86), window(now, 30, 80, 86))).toEqual([
      "cpu_pressure:warning",
      "memory_pressure:warning",
    ]);
    expect(at(window(now, 60, 92, 10), window(now, 30, 92, 96))).toEqual([
      "cpu_pressure:critical",
      "memory_pressure:critical",
    ]);
    // A high minimum over 20 minutes of a 60-minute rule is a burst, not sustained.
    expect(at(window(now, 20, 99, 10), window(now, 20, 99, 10))).toEqual([]);
    // Hysteresis: 73 % holds an open CPU alert (75 − 3) but does not start one.
    expect(at(window(now, 60, 73, 10), window(now, 30, 10, 10))).toEqual([]);
    expect(
      at(window(now, 60, 73, 10), window(now, 30, 10, 10), [
        alertKeyText({ server: "web-01", rule: "cpu_pressure", mount: "" }),
      ]),
    ).toEqual(["cpu_pressure:warning"]);
    expect(
      at(window(now, 60, 71, 10), window(now, 30, 10, 10), [
        alertKeyText({ server: "web-01", rule: "cpu_pressure", mount: "" }),
      ]),
    ).toEqual([]);
  });

  it("disk_nearly_full: the report's thresholds on the newest figures", () => {
    const now = Date.now();
    const at = (percent: number) =>
      evaluateRules(
        evidence(now, { hours: new Map([["web-01", diskHours(now, 2, 100 * GB, () => percent * GB)]]) }),
        context(),
      ).map((c) => `${c.rule}:${c.mount}:${c.severity}`);
    expect(at(80)).toEqual([]);
    expect(at(90)).toEqual(["disk_nearly_full:/var:warning"]);
    expect(at(96)).toEqual(["disk_nearly_full:/var:critical"]);
  });

  it("disk_full_soon: a steady fill pages before the critical threshold, with the hours left", () => {
    const now = Date.now();
    // 24 hourly points: 50 % → 80 % of 100 GB, +1.3 GB/h; 20 GB free at the newest point → about 15 hours.
    const filling = diskHours(now, 24, 100 * GB, (i) => 50 * GB + i * 1.3 * GB);
    const found = evaluateRules(evidence(now, { hours: new Map([["web-01", filling]]) }), context());
    expect(found.map((c) => `${c.rule}:${c.mount}:${c.severity}`)).toEqual(["disk_full_soon:/var:critical"]);
    expect(found[0]!.summary).toMatch(
      /^\/var full in about 15 hours \(80 % now, \+1\.3 GiB\/h over 24 hours, fit R² 1\.00\)$/,
    );
    // The same growth with a week of room is a warning; with a year of room nothing.
    const slow = diskHours(now, 24, 630 * GB, (i) => 500 * GB + i * 1.3 * GB);
    expect(
      evaluateRules(evidence(now, { hours: new Map([["web-01", slow]]) }), context()).map((c) => c.severity),
    ).toEqual(["warning"]);
    const slower = diskHours(now, 24, 10_000 * GB, (i) => 500 * GB + i * 1.3 * GB);
    expect(evaluateRules(evidence(now, { hours: new Map([["web-01", slower]]) }), context())).toEqual([]);
    // Cleaned up two hours ago: the line starts over, too few points to forecast.
    const cleaned = diskHours(now, 24, 100 * GB, (i) =>
      i < 22 ? 50 * GB + i * 1.3 * GB : 20 * GB + i * 0.1 * GB,
    );
    expect(evaluateRules(evidence(now, { hours: new Map([["web-01", cleaned]]) }), context())).toEqual([]);
    // Noise with no trend (R² below the report's 0.7) forecasts nothing.
    const noisy = diskHours(now, 24, 100 * GB, (i) => (i % 2 === 0 ? 50 : 70) * GB + i * 0.05 * GB);
    expect(evaluateRules(evidence(now, { hours: new Map([["web-01", noisy]]) }), context())).toEqual([]);
  });

  it("memory_trend: the report's trend model reaching 100 % within 24 hours; a restart starts it over", () => {
    const now = Date.now();
    const climb = (n: number, level: (i: number) => number): AlertHour[] =>
      diskHours(now, n, 100 * GB, () => 10 * GB).map((h, i) => ({ ...h, memAvg: level(i) }));
    const leaking = climb(60, (i) => 30 + i * 1.1);
    const found = evaluateRules(evidence(now, { hours: new Map([["web-01", leaking]]) }), context());
    expect(found.map((c) => `${c.rule}:${c.severity}`)).toEqual(["memory_trend:critical"]);
    expect(found[0]!.summary).toMatch(/reaches 100 % in about \d+ hours$/);
    const restarted = climb(60, (i) => (i < 30 ? 30 + i * 1.1 : 20 + (i - 30) * 1.1));
    expect(evaluateRules(evidence(now, { hours: new Map([["web-01", restarted]]) }), context())).toEqual([]);
    const slow = climb(60, (i) => 30 + i * 0.3);
    expect(evaluateRules(evidence(now, { hours: new Map([["web-01", slow]]) }), context())).toEqual([]);
  });

  it("judges the same hours arrays again as it judges fresh copies, as time moves past their oldest points", () => {
    // The rules keep their fits with the hours array (the alerts' hour cache hands the same one again
    // while a server's hours are unchanged): the window start moving past a point must fit again.
    const now = Date.now();
    const fill = diskHours(now, 80, 100 * GB, (i) =>
      i < 10 ? 90 * GB - i * 3 * GB : 50 * GB + i * 0.55 * GB,
    ).map((h, i) => ({ ...h, memAvg: i < 20 ? 80 - i : 25 + i * 0.9 }));
    const kept = evidence(now, { hours: new Map([["web-01", fill]]) });
    for (let minutes = 0; minutes <= 12 * 60; minutes += 50) {
      const at = now + minutes * MIN;
      const seen = new Map([["web-01", at - MIN]]);
      const again = evaluateRules({ ...kept, now: at, lastSeen: seen }, context());
      const fresh = evaluateRules(
        { ...kept, now: at, lastSeen: seen, hours: new Map([["web-01", structuredClone(fill)]]) },
        context(),
      );
      expect(again).toEqual(fresh);
    }
    // The fits changed on the way (points left the 72-hour window): the comparison judged something.
    const first = evaluateRules({ ...kept, now, lastSeen: new Map([["web-01", now - MIN]]) }, context());
    const last = evaluateRules(
      { ...kept, now: now + 12 * 60 * MIN, lastSeen: new Map([["web-01", now + 12 * 60 * MIN - MIN]]) },
      context(),
    );
    expect(first.map((c) => c.summary)).not.toEqual(last.map((c) => c.summary));
  });
});
