/**
 * collectd decoding, from a body the real collectd 5.12 sent (write_http,
 * Format "JSON", Interval 2, BufferSize 16384, captured on loopback):
 * test/fixtures/interop/collectd-5.12.json. Its first cycle has no CPU (the
 * cpu plugin dispatches from its second read on) and its last cycle's df
 * values went into the next body: both lack a family.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  CollectdFormatError,
  collectdToPointGroups,
  mountOfDfInstance,
} from "../../../src/central/ingest/interop/collectd.js";
import { PSEUDO_FS_TYPES } from "../../../src/protocol/filesystems.js";
import { REPO_ROOT } from "../../helpers/cli.js";

const FIXTURE = path.join(import.meta.dirname, "../../fixtures/interop/collectd-5.12.json");
type ValueList = Record<string, unknown> & { plugin: string; time: number; type_instance: string };
const realBody = () => JSON.parse(readFileSync(FIXTURE, "utf8")) as ValueList[];

describe("collectd write_http JSON to PointGroups", () => {
  it("the real collectd body: one group per read cycle, the cut-off cycles lacking their family", () => {
    const groups = collectdToPointGroups(realBody());
    expect(groups.map((g) => [g.server, g.timestamp])).toEqual([
      ["collectd-web-01", 1796635322020],
      ["collectd-web-01", 1796635323978],
      ["collectd-web-01", 1796635325978],
      ["collectd-web-01", 1796635327978],
    ]);
    expect(groups.map((g) => [g.cpuCounters !== undefined, g.memory !== undefined, g.disks.length])).toEqual([
      [false, true, 1],
      [true, true, 1],
      [true, true, 1],
      [true, true, 0],
    ]);
    const second = groups[1]!;
    // Jiffies of cpu 0 and 1: idle + wait against every state; 16 series (2 CPUs × 8 states) summed.
    expect(second.cpuCounters).toEqual({ idle: 44532, total: 207058, start: null, series: 16 });
    // total = the six type_instances; available = free + buffered + cached + slab_recl.
    expect(second.memory).toEqual({ totalBytes: 25276157952, availableBytes: 23520096256 });
    expect(second.disks).toEqual([
      { mount: "/", fsType: null, totalBytes: 270553174016, usedBytes: 34374426624, freeBytes: 74569867264 },
    ]);
  });

  it("a cycle with fewer CPU series than the body's fullest lacks CPU (a buffer flush cut it)", () => {
    const body = realBody();
    const cut = body.filter(
      (v) => !(v.plugin === "cpu" && Math.round(v.time) === 1796635326 && v.type_instance === "steal"),
    );
    const groups = collectdToPointGroups(cut);
    expect(groups[2]!.cpuCounters).toBeUndefined();
    expect(groups[1]!.cpuCounters).toBeDefined();
  });

  it("an `available` type_instance is used as it is; ValuesPercentage gives the busy %", () => {
    const base = { dsnames: ["value"], dstypes: ["gauge"], interval: 10, host: "h", time: 1796635300.5 };
    const groups = collectdToPointGroups([
      {
        ...base,
        values: [600],
        plugin: "memory",
        plugin_instance: "",
        type: "memory",
        type_instance: "used",
      },
      {
        ...base,
        values: [400],
        plugin: "memory",
        plugin_instance: "",
        type: "memory",
        type_instance: "free",
      },
      {
        ...base,
        values: [700],
        plugin: "memory",
        plugin_instance: "",
        type: "memory",
        type_instance: "available",
      },
      { ...base, values: [70], plugin: "cpu", plugin_instance: "", type: "percent", type_instance: "idle" },
      { ...base, values: [5], plugin: "cpu", plugin_instance: "", type: "percent", type_instance: "wait" },
      { ...base, values: [25], plugin: "cpu", plugin_instance: "", type: "percent", type_instance: "user" },
      { ...base, values: [1, 2], dsnames: ["rx", "tx"], plugin: "interface", type: "if_octets" },
    ]);
    expect(groups).toEqual([
      {
        server: "h",
        timestamp: 1796635300500,
        memory: { totalBytes: 1000, availableBytes: 700 },
        cpuBusyPercent: { value: 25, intervalSeconds: 10 },
        disks: [],
      },
    ]);
  });

  it("maps df plugin instances to mount points; system mounts are dropped", () => {
    expect(mountOfDfInstance("root")).toBe("/");
    expect(mountOfDfInstance("var-lib")).toBe("/var/lib");
    expect(mountOfDfInstance("boot-efi")).toBe("/boot/efi");
    // The documented ambiguity: a dash in a mount point's name reads as a slash.
    expect(mountOfDfInstance("mnt-my-disk")).toBe("/mnt/my/disk");
    expect(mountOfDfInstance("dev-shm")).toBeNull();
    expect(mountOfDfInstance("run-lock")).toBeNull();
    expect(mountOfDfInstance("sys-fs-cgroup")).toBeNull();
    expect(mountOfDfInstance("dev")).toBeNull();
    expect(mountOfDfInstance("devices")).toBe("/devices");
  });

  it.each([
    ["not an array", { values: [] }],
    ["an element that is not an object", [1]],
    ["a plugin that is not a string", [{ plugin: 3 }]],
    [
      "a cpu value list without host",
      [{ plugin: "cpu", type: "cpu", time: 1, interval: 1, values: [1], dsnames: ["value"] }],
    ],
    [
      "a negative value",
      [
        {
          plugin: "memory",
          plugin_instance: "",
          type: "memory",
          type_instance: "free",
          host: "h",
          time: 1796635300,
          interval: 10,
          values: [-1],
          dsnames: ["value"],
          dstypes: ["gauge"],
        },
      ],
    ],
    [
      "values and dsnames of different lengths",
      [
        {
          plugin: "df",
          plugin_instance: "root",
          type: "df_complex",
          type_instance: "free",
          host: "h",
          time: 1796635300,
          interval: 10,
          values: [1, 2],
          dsnames: ["value"],
          dstypes: ["gauge"],
        },
      ],
    ],
  ])("refuses %s", (_, body) => {
    expect(() => collectdToPointGroups(body)).toThrow(CollectdFormatError);
  });

  it("docs/integrations.md's collectd.conf ignores exactly the agent's pseudo filesystems", () => {
    const doc = readFileSync(path.join(REPO_ROOT, "docs/integrations.md"), "utf8");
    const ignored = [...doc.matchAll(/^\s*FSType "([^"]+)"$/gm)].map((m) => m[1]);
    expect(ignored.sort()).toEqual([...PSEUDO_FS_TYPES].sort());
  });
});
