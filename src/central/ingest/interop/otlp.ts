/**
 * OTLP metrics (the OpenTelemetry Collector's hostmetrics receiver, or any
 * SDK sending the same names) to PointGroups. Families read, by the
 * receiver's documentation (docs/integrations.md says the same):
 *
 * - `system.cpu.time` (Sum of seconds, attributes `state` and `cpu`):
 *   idle = states idle + wait, total = every state (steal is busy, as in the
 *   own agent), summed over every cpu. Cumulative: counters, and a new
 *   start_time_unix_nano is a reset (CpuCounters.start). Delta: the busy %
 *   of that point's own interval.
 * - `system.memory.usage` (`state`): total = state `total` when sent, else
 *   `system.memory.limit` when enabled, else used + free + buffered + cached
 *   (gopsutil's identity: its used is total − free − buffers − cached, and
 *   its cached already holds SReclaimable, so the slab states are not added
 *   again). Available = `system.linux.memory.available` when enabled (the
 *   kernel's MemAvailable, recommended), else free + buffered + cached.
 * - `system.filesystem.usage` (`state` used/free/reserved, `mountpoint`,
 *   `type`): total = used + free + reserved, free = free (bavail), used =
 *   used (blocks − bfree); pseudo filesystems dropped (mayBeReported).
 *
 * The server is the resource attribute config.interop.otlpServerAttribute
 * (default host.name). Every other metric is ignored. A data point of a
 * family read that cannot be used (no server, no time, a value that is not
 * a finite number ≥ 0) is refused and counted for partial_success.
 */
import { mayBeReported } from "../../../protocol/filesystems.js";
import { splitIntoCycles } from "./instants.js";
import { type OtlpResource, TEMPORALITY } from "./otlp-model.js";
import type { DiskPoint, PointGroup } from "./point-group.js";
import { serverFromLabel } from "./server-label.js";

export const OTLP_FAMILIES = {
  cpuTime: "system.cpu.time",
  memoryUsage: "system.memory.usage",
  memoryAvailable: "system.linux.memory.available",
  memoryLimit: "system.memory.limit",
  filesystemUsage: "system.filesystem.usage",
} as const;

const READ = new Set<string>(Object.values(OTLP_FAMILIES));

/** The metrics whose points the decoders keep. */
export function isOtlpFamilyRead(name: string): boolean {
  return READ.has(name);
}

export interface OtlpBatch {
  groups: PointGroup[];
  /** Data points behind each group (same order), for partial_success when the sink finds a group incomplete. */
  pointsPerGroup: number[];
  /** Data points of families read that were refused, and why (distinct reasons, the first few). */
  rejectedPoints: number;
  rejections: string[];
}

interface Reading {
  timeMs: number;
  startMs: number;
  metric: string;
  temporality: number;
  attributes: Map<string, string>;
  value: number;
}

export function otlpToPointGroups(resources: readonly OtlpResource[], serverAttribute: string): OtlpBatch {
  const batch: OtlpBatch = { groups: [], pointsPerGroup: [], rejectedPoints: 0, rejections: [] };
  const refuse = (count: number, why: string) => {
    batch.rejectedPoints += count;
    if (!batch.rejections.includes(why) && batch.rejections.length < 5) batch.rejections.push(why);
  };
  const byServer = new Map<string, Reading[]>();
  for (const resource of resources) {
    const metrics = resource.metrics.filter((m) => READ.has(m.name) && m.kind !== "other");
    const points = metrics.reduce((n, m) => n + m.points.length, 0);
    if (points === 0) continue;
    const server = serverFromLabel(serverAttribute, resource.attributes.get(serverAttribute));
    if (server === null) {
      refuse(points, `a resource without the attribute ${serverAttribute} (the server name)`);
      continue;
    }
    const readings = byServer.get(server) ?? [];
    byServer.set(server, readings);
    for (const m of metrics) {
      for (const p of m.points) {
        if (p.value === null) continue; // a gap marker (no recorded value): nothing to use, nothing wrong
        if (p.timeMs <= 0) refuse(1, `${m.name}: a data point without time_unix_nano`);
        else if (!Number.isFinite(p.value) || p.value < 0)
          refuse(1, `${m.name}: a value that is not a finite number ≥ 0`);
        else
          readings.push({
            timeMs: p.timeMs,
            startMs: p.startMs,
            metric: m.name,
            temporality: m.temporality,
            attributes: p.attributes,
            value: p.value,
          });
      }
    }
  }
  for (const [server, readings] of [...byServer].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    for (const cycle of splitIntoCycles(readings)) {
      batch.groups.push(pointGroup(server, cycle.timeMs, cycle.readings));
      batch.pointsPerGroup.push(cycle.readings.length);
    }
  }
  return batch;
}

function pointGroup(server: string, timestamp: number, readings: readonly Reading[]): PointGroup {
  const group: PointGroup = { server, timestamp, disks: [] };
  // Within a cycle the latest reading of each series counts (readings are sorted by time).
  const latest = (metric: string, key: (r: Reading) => string) => {
    const series = new Map<string, Reading>();
    for (const r of readings) if (r.metric === metric) series.set(key(r), r);
    return [...series.values()];
  };
  const cpu = latest(OTLP_FAMILIES.cpuTime, (r) => `${r.attributes.get("cpu") ?? ""}\0${state(r)}`);
  if (cpu.length > 0) cpuOf(cpu, group);
  const memory = new Map(latest(OTLP_FAMILIES.memoryUsage, state).map((r) => [state(r), r.value]));
  const available = latest(OTLP_FAMILIES.memoryAvailable, () => "").at(0)?.value;
  const limit = latest(OTLP_FAMILIES.memoryLimit, () => "").at(0)?.value;
  const mem = memoryOf(memory, available, limit);
  if (mem !== null) group.memory = mem;
  const fs = latest(
    OTLP_FAMILIES.filesystemUsage,
    (r) => `${r.attributes.get("mountpoint") ?? ""}\0${state(r)}`,
  );
  group.disks = disksOf(fs);
  return group;
}

function state(r: Reading): string {
  return r.attributes.get("state") ?? "";
}

const IDLE_STATES = new Set(["idle", "wait"]);

function cpuOf(cpu: readonly Reading[], group: PointGroup): void {
  let idle = 0;
  let total = 0;
  let start = 0;
  let end = 0;
  for (const r of cpu) {
    total += r.value;
    if (IDLE_STATES.has(state(r))) idle += r.value;
    start = Math.max(start, r.startMs);
    end = Math.max(end, r.timeMs);
  }
  if (cpu.every((r) => r.temporality === TEMPORALITY.delta)) {
    // Delta points already cover one interval each: their busy share is the interval's busy %.
    if (total > 0) {
      const seconds = start > 0 ? Math.max(0, (end - start) / 1000) : null;
      group.cpuBusyPercent = { value: (100 * (total - idle)) / total, intervalSeconds: seconds };
    }
    return;
  }
  group.cpuCounters = { idle, total, start: start > 0 ? start : null, series: cpu.length };
}

function memoryOf(
  states: Map<string, number>,
  linuxAvailable: number | undefined,
  limit: number | undefined,
): { totalBytes: number; availableBytes: number } | null {
  const part = (s: string) => states.get(s) ?? 0;
  const free = states.get("free");
  const used = states.get("used");
  const total =
    states.get("total") ??
    limit ??
    (used !== undefined && free !== undefined ? used + free + part("buffered") + part("cached") : undefined);
  const available =
    linuxAvailable ?? (free === undefined ? undefined : free + part("buffered") + part("cached"));
  if (total === undefined || available === undefined || total <= 0) return null;
  return { totalBytes: total, availableBytes: Math.min(available, total) };
}

function disksOf(fs: readonly Reading[]): DiskPoint[] {
  const byMount = new Map<string, { type: string | null; states: Map<string, number> }>();
  for (const r of fs) {
    const mount = r.attributes.get("mountpoint");
    if (mount === undefined || mount === "") continue;
    const type = r.attributes.get("type") ?? null;
    if (!mayBeReported(mount, type)) continue;
    const entry = byMount.get(mount) ?? { type, states: new Map<string, number>() };
    entry.states.set(state(r), r.value);
    byMount.set(mount, entry);
  }
  const disks: DiskPoint[] = [];
  for (const [mount, { type, states }] of byMount) {
    const used = states.get("used");
    const free = states.get("free");
    if (used === undefined || free === undefined) continue;
    const total = used + free + (states.get("reserved") ?? 0);
    if (total <= 0) continue;
    disks.push({ mount, fsType: type, totalBytes: total, usedBytes: used, freeBytes: free });
  }
  return disks.sort((a, b) => (a.mount < b.mount ? -1 : a.mount > b.mount ? 1 : 0));
}
