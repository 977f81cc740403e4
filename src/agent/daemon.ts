import { mkdir } from "node:fs/promises";
import { formatTimestamp } from "../protocol/index.js";
import {
  type CpuCounters,
  cpuPercentFromCounters,
  type PlatformCollector,
  platformCollector,
} from "./collector/index.js";
import { type AgentConfig, describeConfig, metricsEndpoint } from "./config.js";
import { AgentLog } from "./log.js";
import { agentPaths, enforceSpoolLimits } from "./once.js";
import { rowsFromSample } from "./sample.js";
import { SpoolDirectory } from "./spool.js";
import type { SelfUpdateContext } from "./update/apply.js";
import { type UploadSummary, uploadSpool, uploadTarget } from "./uploader.js";
import { AGENT_VERSION } from "./version.js";

export interface DaemonOptions {
  /** Stops the daemon: the current partial interval is sampled and spooled, then it resolves. */
  signal: AbortSignal;
  /** Sample clock (epoch ms); default Date.now. Timers always run on real time. */
  now?: () => number;
  collector?: PlatformCollector;
  log?: AgentLog;
  /** This agent's own file, for self-update; null or absent: no self-update (e.g. `srvutil agent run`). */
  selfUpdate?: SelfUpdateContext | null;
}

export interface DaemonSummary {
  samples: number;
  uploadRounds: number;
  lastUpload: UploadSummary | null;
  /** The daemon stopped to let the service manager start another version of its file. */
  restart: "updated" | "rolled_back" | null;
}

/** A final sample shorter than this is not worth a row (the CPU figure would be noise). */
const MIN_FINAL_INTERVAL_MS = 1000;

/**
 * `agent run` as a service: CPU counters are read every cpuSubsampleSeconds
 * (the highest sub-interval becomes cpu_peak_percent), a sample is spooled
 * every sampleIntervalSeconds with the average over exactly that interval,
 * and the spool is uploaded every uploadIntervalSeconds (and once at start,
 * to drain a backlog). Work is serialized: a slow upload never overlaps another.
 */
export async function runAgentDaemon(config: AgentConfig, options: DaemonOptions): Promise<DaemonSummary> {
  // Stops on the caller's signal, or when self-update wants a restart.
  const stopper = new AbortController();
  const { signal } = stopper;
  if (options.signal.aborted) stopper.abort();
  else options.signal.addEventListener("abort", () => stopper.abort(), { once: true });
  // Whole-second timestamps, unless samples come faster than that (tests, benchmarks):
  // two samples must never share a timestamp, the central would count them once.
  const now =
    options.now ??
    (config.sampleIntervalSeconds >= 1 ? () => Math.floor(Date.now() / 1000) * 1000 : Date.now);
  const paths = agentPaths(config.agentDir);
  await mkdir(config.agentDir, { recursive: true, mode: 0o700 });
  const log = options.log ?? new AgentLog(paths.logs);
  const spool = new SpoolDirectory(paths.metrics, config.spool, log);
  await spool.init();
  await spool.removeStaleTemps();
  const collector = options.collector ?? platformCollector();
  const target = uploadTarget(metricsEndpoint(config.centralUrl), config.token, config.caFile, config.tags);
  log.info("daemon_start", "agent daemon started", {
    version: AGENT_VERSION,
    config: describeConfig(config),
    pid: process.pid,
  });

  const summary: DaemonSummary = { samples: 0, uploadRounds: 0, lastUpload: null, restart: null };
  // Loaded only here: node:crypto and the updater stay out of one-shot runs.
  const updater = options.selfUpdate ? await import("./update/daemon-hooks.js") : null;
  const update = updater ? await updater.startSelfUpdate(config, options.selfUpdate!, log) : null;
  if (update?.rolledBack) {
    summary.restart = "rolled_back";
    return summary;
  }
  let intervalStart: CpuCounters = await collector.readCpuCounters();
  let intervalStartAt = Date.now();
  let subPrevious = intervalStart;
  let subPreviousAt = intervalStartAt;
  let peak: number | null = null;
  // A sub-interval much shorter than the period (the sample and sub-sample timers fire
  // together every minute) would be a few clock ticks long and make a noisy peak: it is
  // folded into the next sub-interval, or at a sample boundary left out of the peak
  // (it always counts in the average).
  const minSubIntervalMs = (config.cpuSubsampleSeconds * 1000) / 2;

  const subsample = async (): Promise<CpuCounters> => {
    const c = await collector.readCpuCounters();
    const at = Date.now();
    if (at - subPreviousAt < minSubIntervalMs) return c;
    const p = cpuPercentFromCounters(subPrevious, c);
    if (p !== null) peak = peak === null ? p : Math.max(peak, p);
    subPrevious = c;
    subPreviousAt = at;
    return c;
  };

  const takeSample = async () => {
    const end = await subsample();
    const endAt = Date.now();
    subPrevious = end;
    subPreviousAt = endAt;
    const avg = cpuPercentFromCounters(intervalStart, end);
    const [memory, diskResult] = await Promise.all([
      collector.readMemory(),
      collector.readDisks(config.disks),
    ]);
    for (const p of diskResult.problems) log.warn("disk_unreadable", `disk skipped: ${p}`);
    const sample = {
      timestamp: now(),
      cpuPercent: avg ?? 0,
      cpuPeakPercent: peak === null ? avg : Math.max(peak, avg ?? 0),
      intervalSeconds: (endAt - intervalStartAt) / 1000,
      memory,
      disks: diskResult.disks,
    };
    intervalStart = end;
    intervalStartAt = endAt;
    peak = null;
    const rows = rowsFromSample(sample, config.serverName);
    if (rows.length === 0) {
      log.warn("no_disks", "no disk passed the filters: sample not spooled (check disks.include_mounts)");
      return;
    }
    const file = await spool.write(rows, sample.timestamp);
    summary.samples++;
    // On trial, upload right after each sample: the trial ends with the first successful upload.
    if (update?.onTrial()) startUpload();
    log.info("sample", `sample at ${formatTimestamp(sample.timestamp)} spooled`, {
      mode: "daemon",
      cpu_percent: rows[0]!.cpuPercent,
      cpu_peak_percent: rows[0]!.cpuPeakPercent,
      interval_seconds: rows[0]!.intervalSeconds,
      file: file.name,
    });
  };

  const uploadRound = async () => {
    await enforceSpoolLimits(spool, log, now());
    if ((await spool.list()).length === 0) return;
    summary.lastUpload = await uploadSpool(spool, target, { policy: config.upload, log, signal });
    summary.uploadRounds++;
    if (summary.lastUpload.uploadedFiles > 0 && summary.lastUpload.failure === null) {
      await update?.uploaded();
    }
  };

  // One queue for all work so sampling, sub-sampling and uploads never interleave on shared state.
  // Uploads run outside the queue's critical path: a long retry must not delay samples.
  let sampleChain: Promise<void> = Promise.resolve();
  const enqueue = (job: () => Promise<unknown>, what: string) => {
    sampleChain = sampleChain.then(job).then(
      () => {},
      (err: Error) => log.error(`${what}_failed`, `${what} failed: ${err.message}`),
    );
  };
  let uploading: Promise<void> | null = null;
  const startUpload = () => {
    if (uploading || signal.aborted) return;
    uploading = uploadRound()
      .catch((err: Error) => log.error("upload_failed", `upload round failed: ${err.message}`))
      .finally(() => {
        uploading = null;
      });
  };

  const timers: NodeJS.Timeout[] = [];
  if (config.cpuSubsampleSeconds < config.sampleIntervalSeconds) {
    timers.push(setInterval(() => enqueue(subsample, "cpu_subsample"), config.cpuSubsampleSeconds * 1000));
  }
  timers.push(setInterval(() => enqueue(takeSample, "sample"), config.sampleIntervalSeconds * 1000));
  timers.push(setInterval(startUpload, config.uploadIntervalSeconds * 1000));
  startUpload();
  if (update !== null) {
    const stopFor = (why: "updated" | "rolled_back") => {
      summary.restart = why;
      stopper.abort();
    };
    timers.push(...update.schedule(stopFor, () => uploading ?? Promise.resolve()));
  }

  await new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
  for (const t of timers) clearInterval(t);
  // Flush: the partial interval since the last sample becomes a final sample.
  if (Date.now() - intervalStartAt >= MIN_FINAL_INTERVAL_MS) enqueue(takeSample, "final_sample");
  await sampleChain;
  await uploading;
  log.info("daemon_stop", "agent daemon stopped", { samples: summary.samples });
  return summary;
}
