import { InputError } from "../../../errors.js";
import {
  isRealFsType,
  type MetricRow,
  ROOT_MOUNT,
  realDisksOrRoot,
  serializeMetricsCsv,
  serverNameProblem,
} from "../../../protocol/index.js";
import { relayAllows } from "../../auth/tokens.js";
import type { AutomationLog } from "../../automation-log.js";
import type { CpuBaseline } from "../../storage/cpu-baseline-store.js";
import type { Storage } from "../../storage/store.js";
import type { CheckedFile, IngestService } from "../ingest-service.js";
import type { ServerInputRecorder } from "../server-inputs.js";
import type { DiskPoint, InteropSource, InteropWriter, PointGroup } from "./point-group.js";

/** What one accepted batch came to. */
export interface InteropBatchResult {
  /** Samples (server, timestamp) the batch gave, stored now or already stored. */
  samples: number;
  /** CSV v1 rows of those samples (one per mount). */
  rows: number;
  /** Rows newly stored; the rest were already there (a replay changes nothing). */
  inserted: number;
  /** The servers written, sorted. */
  servers: string[];
  /** Groups whose CPU counters had no earlier reading yet (a server's first group primes them), or were reset. */
  primed: number;
  /** Groups at or before the server's stored CPU baseline: a replay, already counted. */
  stale: number;
  /** Groups with fewer CPU series than the reading before: part of a reading split over requests, left out. */
  partial: number;
  /** Groups that gave no sample because a family was missing, the first 100. */
  incomplete: IncompleteGroup[];
  /** Every group that lacked a family, also those past the first 100. */
  incompleteCount: number;
}

export interface IncompleteGroup {
  server: string;
  timestamp: number;
  missing: Family[];
}

/** The families a sample needs. */
export type Family = "cpu" | "memory" | "disk";

export interface InteropSinkOptions {
  ingest: IngestService;
  store: Storage;
  log?: AutomationLog | null;
  /** Where the servers written are recorded as fed by this input (store.serverInputs); absent: not recorded. */
  inputs?: ServerInputRecorder;
}

const MAX_INCOMPLETE_KEPT = 100;
/** A reading with fewer CPU series than the stored one is taken as partial for this long, then as CPUs gone. */
const PARTIAL_READING_MAX_GAP_MS = 15 * 60_000;
const FORBIDDEN = { status: 403, reason: "forbidden_server" } as const;

/**
 * The one way every foreign input stores what it decoded: PointGroups become
 * CSV v1 rows and go through IngestService (checkFile, then storeChecked), one file per server
 * and batch, so each keeps a raw CSV v1 file in received_metrics/ (and
 * `central rebuild` works), the too-old and mount checks, and idempotence.
 *
 * CPU busy % comes from counters over the interval, as the agent computes it:
 * the previous reading of the same server and input is the one before it in
 * the batch, or the stored baseline (store.cpuBaselines), so readings may
 * arrive in separate requests at separate instances. A server's first
 * reading only primes the baseline; a reset (a counter going down, a new
 * OTLP start time) skips that interval. Baselines move only after every file
 * of the batch is stored: a batch retried after a failure gives the same
 * files again, which the ingest path finds already stored.
 */
export class InteropSink {
  constructor(readonly options: InteropSinkOptions) {}

  /**
   * Stores a decoded batch. Refuses the whole batch before storing any of it:
   * 403 (forbidden_server) when `writer` may not write a server it names,
   * 400 (bad_request) for an invalid server name, 400 (missing_families) when
   * no group gives a sample and some lack a family, and whatever the ingest
   * path refuses in any server's file (a sample too old, a bad value).
   */
  async accept(
    groups: readonly PointGroup[],
    source: InteropSource,
    writer: InteropWriter,
  ): Promise<InteropBatchResult> {
    const byServer = groupByServer(groups);
    for (const server of byServer.keys()) refuseServer(server, writer, source);
    const { ingest, store } = this.options;
    const counted = [...byServer].filter(([, gs]) => gs.some((g) => g.cpuCounters !== undefined));
    const stored = await store.cpuBaselines.read(
      source,
      counted.map(([s]) => s),
    );

    const result: InteropBatchResult = {
      samples: 0,
      rows: 0,
      inserted: 0,
      servers: [],
      primed: 0,
      stale: 0,
      partial: 0,
      incomplete: [],
      incompleteCount: 0,
    };
    const files = new Map<string, Uint8Array>();
    const baselines = new Map<string, CpuBaseline>();
    for (const [server, serverGroups] of byServer) {
      const rows = rowsOf(server, serverGroups, stored.get(server) ?? null, result);
      if (rows.baseline !== null) baselines.set(server, rows.baseline);
      if (rows.rows.length === 0) continue;
      files.set(server, new TextEncoder().encode(serializeMetricsCsv(rows.rows)));
      result.rows += rows.rows.length;
    }
    if (
      files.size === 0 &&
      result.incompleteCount > 0 &&
      result.primed === 0 &&
      result.stale === 0 &&
      result.partial === 0
    ) {
      throw missingFamilies(result.incomplete, result.incompleteCount);
    }
    // Each file is read and checked once, every one before any is stored: one server's refusal (its
    // rows, their age, its mounts) stores nothing of the batch.
    const checked: CheckedFile[] = [];
    try {
      for (const [server, bytes] of files)
        checked.push(await ingest.checkFile(bytes, { expectedServer: server }));
      for (const file of checked) result.inserted += (await ingest.storeChecked(file)).inserted;
    } finally {
      // The mounts of files not stored (a later file refused, a write failed) go back; stored ones are committed.
      for (const file of checked) file.mounts.release();
    }
    await store.cpuBaselines.advance(source, baselines);
    result.servers = [...files.keys()].sort();
    await this.options.inputs?.observeForeign(result.servers, source);
    if (files.size > 0 || result.incompleteCount > 0) {
      this.options.log?.info("foreign input", {
        source,
        servers: files.size,
        samples: result.samples,
        rows: result.rows,
        inserted: result.inserted,
        primed: result.primed,
        incomplete: result.incompleteCount,
      });
    }
    return result;
  }
}

/** Groups of one batch by server, each server's in time order, groups of the same instant merged. */
function groupByServer(groups: readonly PointGroup[]): Map<string, PointGroup[]> {
  const byKey = new Map<string, PointGroup>();
  for (const g of groups) {
    const key = `${g.server}\u0000${g.timestamp}`;
    const seen = byKey.get(key);
    byKey.set(key, seen === undefined ? { ...g, disks: [...g.disks] } : merge(seen, g));
  }
  const byServer = new Map<string, PointGroup[]>();
  for (const g of byKey.values()) {
    const list = byServer.get(g.server);
    if (list === undefined) byServer.set(g.server, [g]);
    else list.push(g);
  }
  for (const list of byServer.values()) list.sort((a, b) => a.timestamp - b.timestamp);
  return new Map([...byServer].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function merge(a: PointGroup, b: PointGroup): PointGroup {
  const disks = new Map(a.disks.map((d) => [d.mount, d]));
  for (const d of b.disks) if (!disks.has(d.mount)) disks.set(d.mount, d);
  const cpuCounters = a.cpuCounters ?? b.cpuCounters;
  const cpuBusyPercent = a.cpuBusyPercent ?? b.cpuBusyPercent;
  const memory = a.memory ?? b.memory;
  return {
    server: a.server,
    timestamp: a.timestamp,
    ...(cpuCounters === undefined ? {} : { cpuCounters }),
    ...(cpuBusyPercent === undefined ? {} : { cpuBusyPercent }),
    ...(memory === undefined ? {} : { memory }),
    disks: [...disks.values()],
  };
}

function refuseServer(server: string, writer: InteropWriter, source: InteropSource): void {
  const problem = serverNameProblem(server);
  if (problem !== null) {
    throw new InputError(
      `${source}: the server name '${server.slice(0, 80)}' taken from the batch is not usable: ${problem} ` +
        "(docs/integrations.md says which label names the server, and how to choose another)",
    );
  }
  if (writer.kind === "agent" && writer.server !== server) {
    throw new InputError(
      `the batch names server '${server}' but this agent token may only write for '${writer.server}' ` +
        "(a Prometheus or Collector that carries several servers needs a relay token: " +
        "`srvutil central token add NAME --role relay --servers 'GLOB'`)",
      FORBIDDEN,
    );
  }
  if (writer.kind === "relay" && !relayAllows(writer.servers, server)) {
    throw new InputError(
      `the batch names server '${server}' but relay token '${writer.name}' may only write for '${writer.servers}'`,
      FORBIDDEN,
    );
  }
}

/** One server's rows, and the CPU baseline to store after them (null: the server sent no counters). */
function rowsOf(
  server: string,
  groups: readonly PointGroup[],
  stored: CpuBaseline | null,
  result: InteropBatchResult,
): { rows: MetricRow[]; baseline: CpuBaseline | null } {
  const rows: MetricRow[] = [];
  let previous = stored;
  let moved = false;
  for (const g of groups) {
    let cpu: { percent: number; intervalSeconds: number | null } | null = null;
    let cpuKnown = false;
    if (g.cpuBusyPercent !== undefined && Number.isFinite(g.cpuBusyPercent.value)) {
      cpuKnown = true;
      cpu = { percent: g.cpuBusyPercent.value, intervalSeconds: g.cpuBusyPercent.intervalSeconds };
    } else if (g.cpuCounters !== undefined && countersUsable(g.cpuCounters)) {
      cpuKnown = true;
      const reading: CpuBaseline = { timestamp: g.timestamp, ...g.cpuCounters };
      if (previous !== null && g.timestamp <= previous.timestamp) {
        result.stale++;
        continue;
      }
      if (
        previous !== null &&
        reading.series < previous.series &&
        g.timestamp - previous.timestamp < PARTIAL_READING_MAX_GAP_MS
      ) {
        // Part of a reading split over two requests: its sums cover some CPUs only. Neither counted nor
        // kept, so the next whole reading is compared with the last whole one (a longer interval).
        result.partial++;
        continue;
      }
      // More series than before (the stored reading was partial, or CPUs were added) or fewer for long
      // (CPUs removed): a new baseline, as a reset.
      cpu = previous === null || reading.series !== previous.series ? null : busyBetween(previous, reading);
      if (cpu === null) result.primed++;
      previous = reading;
      moved = true;
    }
    const missing: Family[] = [];
    if (!cpuKnown) missing.push("cpu");
    const memory = g.memory !== undefined && memoryUsable(g.memory) ? g.memory : null;
    if (memory === null) missing.push("memory");
    const disks = realDisks(g.disks.filter(diskUsable));
    if (disks.length === 0) missing.push("disk");
    if (missing.length > 0) {
      result.incompleteCount++;
      if (result.incomplete.length < MAX_INCOMPLETE_KEPT) {
        result.incomplete.push({ server, timestamp: g.timestamp, missing });
      }
      continue;
    }
    if (cpu === null || memory === null) continue;
    result.samples++;
    const available = Math.min(Math.round(memory.availableBytes), Math.round(memory.totalBytes));
    for (const d of disks) {
      rows.push({
        timestamp: g.timestamp,
        server,
        cpuPercent: Math.round(Math.min(100, Math.max(0, cpu.percent)) * 100) / 100,
        cpuPeakPercent: null,
        intervalSeconds: cpu.intervalSeconds,
        memTotalBytes: Math.round(memory.totalBytes),
        memUsedBytes: Math.round(memory.totalBytes) - available,
        memAvailableBytes: available,
        diskMount: d.mount,
        diskTotalBytes: Math.round(d.totalBytes),
        diskUsedBytes: Math.round(d.usedBytes),
        diskFreeBytes: Math.round(d.freeBytes),
      });
    }
  }
  return { rows, baseline: moved ? previous : null };
}

/**
 * Busy % between two readings, or null for a reset: a counter that went
 * down (a reboot, an exporter restart), a new start time, or no time counted.
 */
function busyBetween(
  before: CpuBaseline,
  after: CpuBaseline,
): { percent: number; intervalSeconds: number | null } | null {
  if (before.start !== null && after.start !== null && before.start !== after.start) return null;
  const total = after.total - before.total;
  const idle = after.idle - before.idle;
  if (!(total > 0) || idle < 0 || idle > total) return null;
  return {
    percent: (100 * (total - idle)) / total,
    intervalSeconds: Math.round((after.timestamp - before.timestamp) / 1000),
  };
}

/** The disks a sample reports, as the agent chooses them (realDisksOrRoot). */
function realDisks(disks: readonly DiskPoint[]): DiskPoint[] {
  const root = disks.find((d) => d.mount === ROOT_MOUNT);
  return realDisksOrRoot(
    disks.filter((d) => isRealFsType(d.fsType)),
    root,
  );
}

const finiteNonNegative = (n: number) => Number.isFinite(n) && n >= 0;

function countersUsable(c: { idle: number; total: number }): boolean {
  return finiteNonNegative(c.idle) && finiteNonNegative(c.total);
}

function memoryUsable(m: { totalBytes: number; availableBytes: number }): boolean {
  return finiteNonNegative(m.totalBytes) && m.totalBytes > 0 && finiteNonNegative(m.availableBytes);
}

function diskUsable(d: DiskPoint): boolean {
  return (
    d.mount !== "" &&
    finiteNonNegative(d.totalBytes) &&
    finiteNonNegative(d.usedBytes) &&
    finiteNonNegative(d.freeBytes) &&
    // A reading torn between two statfs calls; CSV v1 refuses it, so the disk is left out.
    d.usedBytes <= d.totalBytes &&
    d.freeBytes <= d.totalBytes
  );
}

function missingFamilies(incomplete: readonly IncompleteGroup[], count: number): InputError {
  const first = incomplete[0]!;
  const families = [...new Set(incomplete.flatMap((g) => g.missing))];
  return new InputError(
    `the batch gave no sample: a sample needs CPU, memory and at least one disk, and ${count} ` +
      `group${count === 1 ? "" : "s"} lacked ${families.join(", ")} (first: server '${first.server}' at ` +
      `${new Date(first.timestamp).toISOString()}, missing ${first.missing.join(", ")}); ` +
      "docs/integrations.md lists the metrics each input must send",
    { reason: "missing_families" },
  );
}
