import { describe, expect, it } from "vitest";
import { type AlertsConfig, alertsConfigFromJson } from "../../../src/central/alerts/config.js";
import {
  batchesFor,
  decideLifecycle,
  type LifecycleInput,
  SUMMARY_REFRESH_MS,
} from "../../../src/central/alerts/lifecycle.js";
import type { AlertCondition, AlertEpisode } from "../../../src/central/alerts/types.js";
import type { AlertSilence } from "../../../src/central/storage/alert-store.js";

const MIN = 60_000;
const HOUR = 3_600_000;

const CONFIG = alertsConfigFromJson(
  {
    channels: [
      { name: "am", type: "alertmanager", url: "http://127.0.0.1:9093" },
      { name: "mail", type: "email", to: ["ops@example.com"] },
      { name: "db-pager", type: "ntfy", url: "https://ntfy.example.com/db" },
    ],
    routes: [
      { min_severity: "warning", channels: ["am"] },
      { min_severity: "critical", channels: ["mail"] },
      { group: "db", channels: ["db-pager"] },
    ],
    storm_threshold: 3,
  },
  "test",
  {},
);

const groupsOf = (server: string) => (server.startsWith("db-") ? ["db"] : []);

/** Runs evaluations the way the evaluator does: ids assigned, open episodes carried over. */
class Run {
  open: AlertEpisode[] = [];
  silences: AlertSilence[] = [];
  private nextId = 1;
  constructor(private readonly config: AlertsConfig = CONFIG) {}
  step(now: number, conditions: AlertCondition[]) {
    const input: LifecycleInput = {
      now,
      open: this.open,
      conditions,
      silences: this.silences,
      groupsOf,
      config: this.config,
      urlFor: (s) => `http://central.example/servers/${s}`,
    };
    const out = decideLifecycle(input);
    const byId = new Map(this.open.map((e) => [e.id, e]));
    for (const id of out.deletes) byId.delete(id);
    for (const u of out.updates) byId.set(u.id, u);
    for (const i of out.inserts) {
      const id = this.nextId++;
      byId.set(id, { ...i, id });
    }
    this.open = [...byId.values()].filter((e) => e.state !== "resolved");
    return { out, kinds: out.notices.map((n) => `${n.kind}:${n.server}:${n.rule}:${n.severity}`) };
  }
}

const cond = (
  server: string,
  rule: AlertCondition["rule"],
  severity: AlertCondition["severity"],
  mount = "",
): AlertCondition => ({
  server,
  rule,
  mount,
  severity,
  summary: `${rule} on ${server}`,
});

describe("alert lifecycle", () => {
  it("pending, firing, resolved: one notice each way, with hysteresis in time", () => {
    const run = new Run();
    const t0 = Date.now();
    const full = cond("web-01", "disk_nearly_full", "warning", "/var");
    expect(run.step(t0, [full]).kinds).toEqual([]);
    expect(run.open.map((e) => e.state)).toEqual(["pending"]);
    expect(run.step(t0 + 4 * MIN, [full]).kinds).toEqual([]);
    expect(run.step(t0 + 5 * MIN, [full]).kinds).toEqual(["firing:web-01:disk_nearly_full:warning"]);
    expect(run.step(t0 + 6 * MIN, [full]).kinds).toEqual([]);
    // Gone for less than resolve_after_minutes (10), back: no notice either way.
    expect(run.step(t0 + 7 * MIN, []).kinds).toEqual([]);
    expect(run.open[0]!.clearSince).toBe(t0 + 7 * MIN);
    expect(run.step(t0 + 12 * MIN, [full]).kinds).toEqual([]);
    expect(run.open[0]!.clearSince).toBeNull();
    expect(run.step(t0 + 13 * MIN, []).kinds).toEqual([]);
    const resolved = run.step(t0 + 23 * MIN, []);
    expect(resolved.kinds).toEqual(["resolved:web-01:disk_nearly_full:warning"]);
    expect(resolved.out.notices[0]!.startsAt).toBe(t0 + 5 * MIN);
    expect(resolved.out.notices[0]!.endsAt).toBe(t0 + 23 * MIN);
    expect(run.open).toEqual([]);
  });

  it("a pending alert whose condition clears is dropped without a word", () => {
    const run = new Run();
    const t0 = Date.now();
    run.step(t0, [cond("web-01", "disk_full_soon", "critical", "/")]);
    const gone = run.step(t0 + MIN, []);
    expect(gone.kinds).toEqual([]);
    expect(gone.out.deletes).toHaveLength(1);
    expect(run.open).toEqual([]);
  });

  it("a steady evaluation writes nothing; a drifting summary is written every 5 minutes, a change at once", () => {
    const run = new Run();
    const t0 = Date.now();
    const soon = (hours: number): AlertCondition => ({
      ...cond("web-01", "disk_full_soon", "warning", "/var"),
      summary: `/var full in about ${hours} hours`,
    });
    const quiet = cond("web-02", "cpu_pressure", "warning");
    expect(run.step(t0, [soon(60), quiet]).out.inserts).toHaveLength(2);
    // Held, same summary: nothing to write.
    expect(run.step(t0 + MIN, [soon(60), quiet]).out.updates).toEqual([]);
    // The forecast drifts: not written before SUMMARY_REFRESH_MS has passed since the last write…
    expect(run.step(t0 + 2 * MIN, [soon(59), quiet]).out.updates).toEqual([]);
    expect(run.open.find((e) => e.server === "web-01")!.summary).toBe("/var full in about 60 hours");
    // …then written, and only that episode.
    const refreshed = run.step(t0 + SUMMARY_REFRESH_MS, [soon(58), quiet]).out.updates;
    expect(refreshed.map((e) => [e.server, e.summary])).toEqual([["web-01", "/var full in about 58 hours"]]);
    // The pending alert fires (forMinutes, 30 by default): written at once with its notice.
    const fired = run.step(t0 + 30 * MIN, [soon(57), quiet]);
    expect(fired.out.updates.map((e) => [e.server, e.state])).toEqual([["web-01", "firing"]]);
    // A condition that clears starts the hysteresis (written), and one that comes back ends it (written).
    expect(run.step(t0 + 31 * MIN, [soon(57)]).out.updates.map((e) => [e.server, e.clearSince])).toEqual([
      ["web-02", t0 + 31 * MIN],
    ]);
    expect(run.step(t0 + 32 * MIN, [soon(57)]).out.updates).toEqual([]);
    expect(
      run.step(t0 + 33 * MIN, [soon(57), quiet]).out.updates.map((e) => [e.server, e.clearSince]),
    ).toEqual([["web-02", null]]);
  });

  it("worse notifies at once, better waits for the resolve; reminders until acknowledged", () => {
    const run = new Run();
    const t0 = Date.now();
    expect(run.step(t0, [cond("web-01", "cpu_pressure", "warning")]).kinds).toEqual([
      "firing:web-01:cpu_pressure:warning",
    ]);
    expect(run.step(t0 + MIN, [cond("web-01", "cpu_pressure", "critical")]).kinds).toEqual([
      "firing:web-01:cpu_pressure:critical",
    ]);
    expect(run.step(t0 + 2 * MIN, [cond("web-01", "cpu_pressure", "warning")]).kinds).toEqual([]);
    expect(run.open[0]!.severity).toBe("critical");
    expect(run.step(t0 + MIN + 23 * HOUR, [cond("web-01", "cpu_pressure", "warning")]).kinds).toEqual([]);
    expect(run.step(t0 + MIN + 24 * HOUR, [cond("web-01", "cpu_pressure", "warning")]).kinds).toEqual([
      "reminder:web-01:cpu_pressure:critical",
    ]);
    run.open[0] = { ...run.open[0]!, acknowledgedAt: t0 + 25 * HOUR, acknowledgedBy: "ana" };
    expect(run.step(t0 + 60 * HOUR, [cond("web-01", "cpu_pressure", "warning")]).kinds).toEqual([]);
  });

  it("a silence keeps the state moving but sends nothing", () => {
    const run = new Run();
    const t0 = Date.now();
    run.silences = [
      {
        id: 1,
        server: "db-*",
        rule: null,
        group: null,
        startsAt: t0 - HOUR,
        endsAt: t0 + HOUR,
        reason: "maintenance",
        createdBy: "ana",
        createdAt: t0 - HOUR,
      },
    ];
    const s = run.step(t0, [
      cond("db-01", "server_silent", "critical"),
      cond("web-01", "server_silent", "critical"),
    ]);
    expect(s.kinds).toEqual(["firing:web-01:server_silent:critical"]);
    expect(run.open.map((e) => `${e.server}:${e.state}`).sort()).toEqual(["db-01:firing", "web-01:firing"]);
    run.silences = [{ ...run.silences[0]!, server: null, rule: "server_silent", group: "db" }];
    expect(run.step(t0 + 11 * MIN, [cond("web-01", "server_silent", "critical")]).kinds).toEqual([]);
    expect(run.step(t0 + 22 * MIN, [cond("web-01", "server_silent", "critical")]).kinds).toEqual([]);
    expect(run.open.map((e) => e.server)).toEqual(["web-01"]);
  });

  it("routes by group, rule and severity; without routes every channel gets warning and up", () => {
    const t0 = Date.now();
    const run = new Run();
    const { out } = run.step(t0, [
      cond("db-01", "cpu_pressure", "warning"),
      cond("web-01", "server_silent", "critical"),
    ]);
    const batches = batchesFor(out.notices, CONFIG, groupsOf, t0);
    expect(batches.map((b) => [b.channel, b.notices.map((n) => n.server), b.storm])).toEqual([
      ["am", ["db-01", "web-01"], null],
      ["db-pager", ["db-01"], null],
      ["mail", ["web-01"], null],
    ]);
    const open = alertsConfigFromJson(
      { channels: CONFIG.channels.map((c) => ({ name: c.name, type: "slack", url: "http://x.example" })) },
      "t",
      {},
    );
    expect(batchesFor(out.notices, open, groupsOf, t0).map((b) => [b.channel, b.notices.length])).toEqual([
      ["am", 2],
      ["mail", 2],
      ["db-pager", 2],
    ]);
  });

  it("a storm (many servers at once) is one summarised message per channel", () => {
    const t0 = Date.now();
    const run = new Run();
    const conditions = Array.from({ length: 40 }, (_, i) =>
      cond(`web-${String(i).padStart(2, "0")}`, "server_silent", "critical"),
    );
    const { out } = run.step(t0, conditions);
    const batches = batchesFor(out.notices, CONFIG, groupsOf, t0);
    expect(batches.map((b) => [b.channel, b.notices.length, b.storm])).toEqual([
      ["am", 40, { total: 40, firing: 40, resolved: 0 }],
      ["mail", 40, { total: 40, firing: 40, resolved: 0 }],
    ]);
  });
});
