import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { formatTimestamp } from "../protocol/index.js";
import { cpuPercentFromCounters, type PlatformCollector, platformCollector } from "./collector/index.js";
import { type AgentConfig, describeConfig, metricsEndpoint } from "./config.js";
import { currentBootId, readCpuState, stateIsUsable, writeCpuState } from "./cpu-state.js";
import { AgentLog } from "./log.js";
import { rowsFromSample, type Sample } from "./sample.js";
import { type DropReport, SpoolDirectory } from "./spool.js";
import { abortableSleep, type UploadSummary, uploadSpool, uploadTarget } from "./uploader.js";

export interface AgentRunOptions {
  /** The sample's timestamp, epoch ms (injectable clock). Default: end of the measurement, whole seconds. */
  now?: number;
  /** Skip the upload (collect and spool only). */
  skipUpload?: boolean;
  /** Platform readers; default the running platform's. */
  collector?: PlatformCollector;
  log?: AgentLog;
  signal?: AbortSignal;
}

export interface AgentRunResult {
  sample: Sample;
  /** "since_last_run": from the previous run's counters; "measured": a short fresh measurement. */
  cpuSource: "since_last_run" | "measured";
  rowsSpooled: number;
  spoolFile: string | null;
  dropped: DropReport;
  /** null when the upload was skipped. */
  upload: UploadSummary | null;
  /** Mounts that could not be measured and similar non-fatal trouble. */
  problems: string[];
}

/** The agent directory layout. */
export function agentPaths(agentDir: string) {
  return { metrics: join(agentDir, "metrics"), logs: join(agentDir, "Logs") };
}

/**
 * Collects one sample the one-shot way: CPU from the previous run's counters
 * when usable (so the figure covers the whole time since the last run), else
 * a fresh measurement of config.oneShotCpuMeasureMs; memory and disks now.
 */
export async function collectOneShotSample(
  config: AgentConfig,
  collector: PlatformCollector,
  /** The sample's timestamp; default the end of the measurement, in whole seconds. */
  now: number | undefined,
  useState: boolean,
): Promise<{ sample: Sample; cpuSource: AgentRunResult["cpuSource"]; problems: string[] }> {
  const bootId = currentBootId();
  const previous = useState ? await readCpuState(config.agentDir) : null;
  const current = await collector.readCpuCounters();
  const currentAt = Date.now();
  const sinceLastRun = stateIsUsable(previous, current, currentAt, bootId, config.oneShotCpuMeasureMs);
  const cpuSource: AgentRunResult["cpuSource"] = sinceLastRun ? "since_last_run" : "measured";
  // Since the last run: previous → current. Measured: current → a reading after the window.
  let start = current;
  let startAt = currentAt;
  let end = current;
  let endAt = currentAt;
  if (sinceLastRun) {
    start = previous.counters;
    startAt = previous.readAtMs;
  }
  // Memory and disks are read while the CPU window runs, so the wait is not added on top.
  const [memory, diskResult] = await Promise.all([
    collector.readMemory(),
    collector.readDisks(config.disks),
    sinceLastRun ? undefined : abortableSleep(config.oneShotCpuMeasureMs),
  ]);
  if (!sinceLastRun) {
    end = await collector.readCpuCounters();
    endAt = Date.now();
  }
  const cpuPercent = cpuPercentFromCounters(start, end) ?? 0;
  if (useState) await writeCpuState(config.agentDir, { counters: end, readAtMs: endAt, bootId });
  return {
    sample: {
      timestamp: now ?? Math.floor(Date.now() / 1000) * 1000,
      cpuPercent,
      cpuPeakPercent: null,
      intervalSeconds: (endAt - startAt) / 1000,
      memory,
      disks: diskResult.disks,
    },
    cpuSource,
    problems: diskResult.problems,
  };
}

/**
 * `agent run --once`: collect one sample, spool it atomically, apply the spool
 * limits, then upload everything spooled (oldest first).
 */
export async function runAgentOnce(config: AgentConfig, opts: AgentRunOptions = {}): Promise<AgentRunResult> {
  const paths = agentPaths(config.agentDir);
  await mkdir(config.agentDir, { recursive: true, mode: 0o700 });
  const log = opts.log ?? new AgentLog(paths.logs);
  const spool = new SpoolDirectory(paths.metrics, config.spool, log);
  await spool.init();
  await spool.removeStaleTemps();

  const collector = opts.collector ?? platformCollector();
  const { sample, cpuSource, problems } = await collectOneShotSample(config, collector, opts.now, true);
  const now = sample.timestamp;
  for (const p of problems) log.warn("disk_unreadable", `disk skipped: ${p}`);

  const rows = rowsFromSample(sample, config.serverName);
  let spoolFile: string | null = null;
  if (rows.length === 0) {
    log.warn(
      "no_disks",
      "no disk passed the filters: the sample has no rows and is not spooled (check disks.include_mounts)",
    );
  } else {
    spoolFile = (await spool.write(rows, sample.timestamp)).name;
  }
  log.info("sample", `sample at ${formatTimestamp(sample.timestamp)} spooled`, {
    mode: "once",
    cpu_percent: rows[0]?.cpuPercent ?? null,
    cpu_source: cpuSource,
    interval_seconds: rows[0]?.intervalSeconds ?? null,
    disks: sample.disks.map((d) => d.mount),
    file: spoolFile,
  });

  const dropped = await enforceSpoolLimits(spool, log, now);

  let upload: UploadSummary | null = null;
  if (!opts.skipUpload) {
    upload = await uploadSpool(
      spool,
      uploadTarget(metricsEndpoint(config.centralUrl), config.token, config.caFile, config.tags),
      {
        policy: config.upload,
        log,
        ...(opts.signal ? { signal: opts.signal } : {}),
      },
    );
  }
  return { sample, cpuSource, rowsSpooled: rows.length, spoolFile, dropped, upload, problems };
}

export async function enforceSpoolLimits(
  spool: SpoolDirectory,
  log: AgentLog,
  now: number,
): Promise<DropReport> {
  const dropped = await spool.enforceLimits(now);
  if (dropped.droppedFiles > 0) {
    log.warn(
      "spool_dropped",
      `spool limit reached (${Math.round(spool.limits.maxAgeMs / 86_400_000)} days / ${spool.limits.maxBytes} bytes): dropped ${dropped.droppedFiles} oldest file(s), ${dropped.droppedBytes} bytes, samples from ${formatTimestamp(dropped.oldest!)} to ${formatTimestamp(dropped.newest!)}`,
      { dropped_files: dropped.droppedFiles, dropped_bytes: dropped.droppedBytes },
    );
  }
  return dropped;
}

export { describeConfig };
