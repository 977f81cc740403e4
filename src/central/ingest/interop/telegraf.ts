/**
 * Telegraf's `outputs.http` with `data_format = "json"` to PointGroups. The
 * body is the JSON serializer's batch format
 * `{"metrics": [{"fields": {…}, "name": "cpu", "tags": {…}, "timestamp": 1458229140}]}`
 * (`json_timestamp_units = "1s"`, Telegraf's default: integer seconds); with
 * `use_batch_format = false` the single-metric objects, one per line.
 * Metrics read (docs/integrations.md says the same):
 *
 * - `cpu` with tag `cpu=cpu-total`: busy % = 100 − usage_idle − usage_iowait
 *   (Telegraf computes the shares over its own interval; steal is busy);
 * - `mem`: `total` and `available`;
 * - `disk`: `total`, `free` (bavail), `used` (blocks − bfree), tags `path`
 *   and `fstype`; pseudo filesystems dropped (mayBeReported).
 *
 * The server is the tag config.interop.telegrafServerTag (default `host`).
 * Every other metric is ignored.
 */
import { mayBeReported } from "../../../protocol/filesystems.js";
import { splitIntoCycles } from "./instants.js";
import type { DiskPoint, PointGroup } from "./point-group.js";
import { serverFromLabel } from "./server-label.js";

/** A body that is not Telegraf's JSON format: answered 400, nothing stored. */
export class TelegrafFormatError extends Error {}

/** Timestamps at or above this many seconds (year 5138) are a finer json_timestamp_units than "1s". */
const MAX_SECONDS = 1e11;

interface Reading {
  timeMs: number;
  name: "cpu" | "mem" | "disk";
  tags: Record<string, string>;
  fields: Record<string, number>;
}

/** Parses the body (a batch, or single metrics one per line) and maps it. */
export function parseTelegrafBody(text: string): unknown[] {
  const trimmed = text.trim();
  if (trimmed === "") throw new TelegrafFormatError("body is empty");
  try {
    const parsed: unknown = JSON.parse(trimmed);
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) && "metrics" in parsed) {
      const metrics = (parsed as { metrics: unknown }).metrics;
      if (!Array.isArray(metrics)) throw new TelegrafFormatError("metrics must be an array");
      return metrics;
    }
    return [parsed];
  } catch (err) {
    if (err instanceof TelegrafFormatError) throw err;
    // use_batch_format = false: one JSON object per line.
    return trimmed.split("\n").map((line, i) => {
      try {
        return JSON.parse(line) as unknown;
      } catch (lineErr) {
        throw new TelegrafFormatError(
          `line ${i + 1} is not JSON: ${(lineErr as Error).message.slice(0, 120)}`,
        );
      }
    });
  }
}

export function telegrafToPointGroups(metrics: readonly unknown[], serverTag: string): PointGroup[] {
  const byServer = new Map<string, Reading[]>();
  metrics.forEach((m, i) => {
    const read = readingOf(m, `metrics[${i}]`, serverTag);
    if (read === null) return;
    const list = byServer.get(read.server) ?? [];
    list.push(read.reading);
    byServer.set(read.server, list);
  });
  const groups: PointGroup[] = [];
  for (const [server, readings] of [...byServer].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    for (const cycle of splitIntoCycles(readings))
      groups.push(pointGroup(server, cycle.timeMs, cycle.readings));
  }
  return groups;
}

function pointGroup(server: string, timestamp: number, readings: readonly Reading[]): PointGroup {
  const group: PointGroup = { server, timestamp, disks: [] };
  // Readings come sorted by time: the last of each kind is the latest.
  const cpu = readings.filter((r) => r.name === "cpu").at(-1);
  const idle = cpu?.fields.usage_idle;
  if (idle !== undefined) {
    const busy = 100 - idle - (cpu?.fields.usage_iowait ?? 0);
    group.cpuBusyPercent = { value: Math.min(100, Math.max(0, busy)), intervalSeconds: null };
  }
  const mem = readings.filter((r) => r.name === "mem").at(-1);
  const total = mem?.fields.total;
  const available = mem?.fields.available;
  if (total !== undefined && available !== undefined && total > 0) {
    group.memory = { totalBytes: total, availableBytes: Math.min(available, total) };
  }
  const disks = new Map<string, DiskPoint>();
  for (const r of readings) {
    if (r.name !== "disk") continue;
    const mount = r.tags.path;
    const fsType = r.tags.fstype ?? null;
    const { total: size, free, used } = r.fields;
    if (mount === undefined || mount === "") continue;
    if (!mayBeReported(mount, fsType)) continue;
    if (size === undefined || free === undefined || used === undefined || size <= 0) continue;
    disks.set(mount, { mount, fsType, totalBytes: size, usedBytes: used, freeBytes: free });
  }
  group.disks = [...disks.values()].sort((a, b) => (a.mount < b.mount ? -1 : a.mount > b.mount ? 1 : 0));
  return group;
}

function readingOf(m: unknown, path: string, serverTag: string): { server: string; reading: Reading } | null {
  const metric = object(m, path);
  if (typeof metric.name !== "string") throw new TelegrafFormatError(`${path}.name must be a string`);
  const name = metric.name;
  if (name !== "cpu" && name !== "mem" && name !== "disk") return null;
  const tags: Record<string, string> = {};
  for (const [k, v] of Object.entries(object(metric.tags ?? {}, `${path}.tags`))) {
    if (typeof v !== "string")
      throw new TelegrafFormatError(`${path}.tags.${k.slice(0, 60)} must be a string`);
    tags[k] = v;
  }
  if (name === "cpu" && tags.cpu !== "cpu-total") return null; // per-CPU series: cpu-total has it all
  const fields: Record<string, number> = {};
  for (const [k, v] of Object.entries(object(metric.fields, `${path}.fields`))) {
    // Only numbers count; string and boolean fields (none in these three) are left out.
    if (typeof v === "number" && Number.isFinite(v)) {
      if (v < 0 && name !== "cpu") {
        throw new TelegrafFormatError(`${path}.fields.${k.slice(0, 60)} must not be negative`);
      }
      fields[k] = v;
    }
  }
  const ts = metric.timestamp;
  if (typeof ts !== "number" || !Number.isFinite(ts) || ts <= 0) {
    throw new TelegrafFormatError(`${path}.timestamp must be seconds since the epoch`);
  }
  if (ts >= MAX_SECONDS) {
    throw new TelegrafFormatError(
      `${path}.timestamp ${ts} is not in seconds: set json_timestamp_units = "1s" in outputs.http`,
    );
  }
  const server = serverFromLabel(serverTag, tags[serverTag]);
  if (server === null) {
    throw new TelegrafFormatError(`${path} has no tag ${serverTag.slice(0, 60)} (the server name)`);
  }
  return { server, reading: { timeMs: Math.round(ts * 1000), name, tags, fields } };
}

function object(v: unknown, path: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new TelegrafFormatError(`${path} must be an object`);
  }
  return v as Record<string, unknown>;
}
