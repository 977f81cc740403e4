/**
 * collectd's write_http plugin with `Format "JSON"` (5.12) to PointGroups.
 * A body is an array of value lists:
 * `{"values":[…],"dstypes":[…],"dsnames":[…],"time":1251533299.265,"interval":10,
 *   "host":"h","plugin":"cpu","plugin_instance":"0","type":"cpu","type_instance":"idle"}`.
 * Families read (docs/integrations.md says the same):
 *
 * - `cpu` (type `cpu`, jiffies as derive counters; StoreRates false, the
 *   default): idle = idle + wait, total = every type_instance, summed over
 *   every plugin_instance (CPU). With `ValuesPercentage true` (type
 *   `percent`, one aggregate): busy % = 100 − idle − wait.
 * - `memory` (type `memory`): 5.12 has no "available" type_instance, so
 *   available = free + buffered + cached + slab_recl (reclaimable slab is
 *   given back under pressure as page cache is; an `available` value is
 *   used when a later collectd sends one). total = the sum of every other
 *   type_instance (collectd's used is total − free − buffers − cached −
 *   slab, so they add up to MemTotal).
 * - `df` (type `df_complex`): free = free (bavail), used = used, total =
 *   free + reserved + used. plugin_instance is the mount point mangled:
 *   `root` is `/`, any other has its slashes turned into dashes (`var-lib`
 *   is `/var/lib`). The mapping turns every dash back into a slash, so a
 *   mount point with a dash in its name (`/mnt/my-disk`) comes back as
 *   `/mnt/my/disk`: the mapping is ambiguous and documented so. collectd
 *   says no filesystem type; mount points under /dev, /proc, /sys and /run
 *   (never user data) are dropped, and the sample collectd.conf ignores the
 *   pseudo filesystem types at the source.
 *
 * The server is the value list's `host`. Every other plugin is ignored.
 * write_http flushes when its buffer is full, so one reading cycle may be
 * split over two bodies: a cycle of a body whose CPU or memory values are
 * fewer than that body's fullest cycle of the same host lacks that family
 * (no sample is made of it), and CpuCounters.series carries the count of CPU
 * series summed, so the sink leaves out a cycle split over two bodies
 * rather than compare its partial sums with a whole one.
 */
import { splitIntoCycles } from "./instants.js";
import type { DiskPoint, PointGroup } from "./point-group.js";
import { serverFromLabel } from "./server-label.js";

/** A body that is not collectd's JSON format: answered 400, nothing stored. */
export class CollectdFormatError extends Error {}

interface Reading {
  timeMs: number;
  intervalMs: number;
  plugin: "cpu" | "memory" | "df";
  type: string;
  pluginInstance: string;
  typeInstance: string;
  value: number;
}

export function collectdToPointGroups(body: unknown): PointGroup[] {
  if (!Array.isArray(body)) throw new CollectdFormatError("body must be a JSON array of value lists");
  const byHost = new Map<string, Reading[]>();
  body.forEach((item, i) => {
    const reading = readingOf(item, `[${i}]`);
    if (reading === null) return;
    const list = byHost.get(reading.host) ?? [];
    list.push(reading.reading);
    byHost.set(reading.host, list);
  });
  const groups: PointGroup[] = [];
  for (const [host, readings] of [...byHost].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    // Readings of one cycle lie milliseconds apart; half the shortest interval keeps cycles apart.
    const window = Math.min(1000, ...readings.map((r) => r.intervalMs / 2));
    const cycles = splitIntoCycles(readings, window);
    const fullest = (pick: (r: Reading) => boolean) =>
      Math.max(0, ...cycles.map((c) => c.readings.filter(pick).length));
    const cpuSeries = fullest(isCpuCounter);
    const memorySeries = fullest(isMemory);
    for (const cycle of cycles) {
      groups.push(pointGroup(host, cycle.timeMs, cycle.readings, cpuSeries, memorySeries));
    }
  }
  return groups;
}

const isCpuCounter = (r: Reading) => r.plugin === "cpu" && r.type === "cpu";
const isMemory = (r: Reading) => r.plugin === "memory" && r.type === "memory";

function pointGroup(
  host: string,
  timestamp: number,
  readings: readonly Reading[],
  cpuSeries: number,
  memorySeries: number,
): PointGroup {
  const group: PointGroup = { server: host, timestamp, disks: [] };
  const cpu = latestBy(readings.filter(isCpuCounter), (r) => `${r.pluginInstance}\0${r.typeInstance}`);
  if (cpu.length > 0 && cpu.length === cpuSeries) {
    let idle = 0;
    let total = 0;
    for (const r of cpu) {
      total += r.value;
      if (r.typeInstance === "idle" || r.typeInstance === "wait") idle += r.value;
    }
    group.cpuCounters = { idle, total, start: null, series: cpu.length };
  }
  const percent = latestBy(
    readings.filter((r) => r.plugin === "cpu" && r.type === "percent"),
    (r) => r.typeInstance,
  );
  if (group.cpuCounters === undefined && percent.some((r) => r.typeInstance === "idle")) {
    const idle = percent.filter((r) => r.typeInstance === "idle" || r.typeInstance === "wait");
    const busy = 100 - idle.reduce((a, r) => a + r.value, 0);
    group.cpuBusyPercent = {
      value: Math.min(100, Math.max(0, busy)),
      intervalSeconds: percent[0]!.intervalMs / 1000,
    };
  }
  const memory = new Map(
    latestBy(readings.filter(isMemory), (r) => r.typeInstance).map((r) => [r.typeInstance, r.value]),
  );
  if (memory.size > 0 && memory.size === memorySeries && memory.has("free")) {
    let total = 0;
    for (const [state, v] of memory) if (state !== "available") total += v;
    const part = (s: string) => memory.get(s) ?? 0;
    const available =
      memory.get("available") ?? part("free") + part("buffered") + part("cached") + part("slab_recl");
    if (total > 0) group.memory = { totalBytes: total, availableBytes: Math.min(available, total) };
  }
  group.disks = disksOf(readings.filter((r) => r.plugin === "df" && r.type === "df_complex"));
  return group;
}

/** The latest reading of each series (readings come sorted by time). */
function latestBy(readings: readonly Reading[], key: (r: Reading) => string): Reading[] {
  const series = new Map<string, Reading>();
  for (const r of readings) series.set(key(r), r);
  return [...series.values()];
}

function disksOf(df: readonly Reading[]): DiskPoint[] {
  const byMount = new Map<string, Map<string, number>>();
  for (const r of df) {
    const mount = mountOfDfInstance(r.pluginInstance);
    if (mount === null) continue;
    const states = byMount.get(mount) ?? new Map<string, number>();
    states.set(r.typeInstance, r.value);
    byMount.set(mount, states);
  }
  const disks: DiskPoint[] = [];
  for (const [mount, states] of byMount) {
    const free = states.get("free");
    const used = states.get("used");
    if (free === undefined || used === undefined) continue;
    const total = free + used + (states.get("reserved") ?? 0);
    if (total <= 0) continue;
    disks.push({ mount, fsType: null, totalBytes: total, usedBytes: used, freeBytes: free });
  }
  return disks.sort((a, b) => (a.mount < b.mount ? -1 : a.mount > b.mount ? 1 : 0));
}

/** Kernel and runtime mounts: never user data, and collectd does not say their filesystem type. */
const SYSTEM_MOUNT_ROOTS = ["/dev", "/proc", "/sys", "/run"];

/**
 * The mount point of a df plugin_instance: `root` → `/`, otherwise every
 * dash becomes a slash (`var-lib` → `/var/lib`; ambiguous for names with a
 * dash). Null for mounts under /dev, /proc, /sys and /run.
 */
export function mountOfDfInstance(instance: string): string | null {
  if (instance === "") return null;
  const mount = instance === "root" ? "/" : `/${instance.replaceAll("-", "/")}`;
  if (SYSTEM_MOUNT_ROOTS.some((root) => mount === root || mount.startsWith(`${root}/`))) return null;
  return mount;
}

/** One value list: null when its plugin is not read; a malformed value list of a read plugin throws. */
function readingOf(item: unknown, path: string): { host: string; reading: Reading } | null {
  if (typeof item !== "object" || item === null || Array.isArray(item)) {
    throw new CollectdFormatError(`${path} must be a value list object`);
  }
  const v = item as Record<string, unknown>;
  if (typeof v.plugin !== "string") throw new CollectdFormatError(`${path}.plugin must be a string`);
  const plugin = v.plugin;
  if (plugin !== "cpu" && plugin !== "memory" && plugin !== "df") return null;
  const text = (key: string) => {
    const value = v[key];
    if (typeof value !== "string") throw new CollectdFormatError(`${path}.${key} must be a string`);
    return value;
  };
  const host = serverFromLabel("host", text("host"));
  if (host === null) throw new CollectdFormatError(`${path}.host is empty`);
  const type = text("type");
  const time = v.time;
  if (typeof time !== "number" || !Number.isFinite(time) || time <= 0) {
    throw new CollectdFormatError(`${path}.time must be seconds since the epoch`);
  }
  const interval = v.interval;
  if (typeof interval !== "number" || !Number.isFinite(interval) || interval <= 0) {
    throw new CollectdFormatError(`${path}.interval must be a number of seconds > 0`);
  }
  const { values, dsnames } = v;
  if (!Array.isArray(values) || !Array.isArray(dsnames) || values.length !== dsnames.length) {
    throw new CollectdFormatError(`${path}.values and ${path}.dsnames must be arrays of the same length`);
  }
  const index = dsnames.indexOf("value");
  if (index === -1) return null; // not a single-value type this decoder reads
  const value = values[index];
  // collectd writes an unknown gauge (NaN) as null.
  if (value === null) return null;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new CollectdFormatError(`${path}.values[${index}] must be a finite number ≥ 0`);
  }
  return {
    host,
    reading: {
      timeMs: Math.round(time * 1000),
      intervalMs: interval * 1000,
      plugin,
      type,
      pluginInstance: text("plugin_instance"),
      typeInstance: text("type_instance"),
      value,
    },
  };
}
