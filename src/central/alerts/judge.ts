/**
 * The rules' half of an evaluation: read what the rules need (the servers'
 * last samples, their hourly rollups, the raw windows of the servers near a
 * pressure level) and judge every server. What holds is handed to the
 * lifecycle (./lifecycle.ts) by the service (./service.ts).
 *
 * It is the costly half (at 10,000 servers about 0.6 s of reads and fits),
 * so `central serve` runs it on a worker thread with a connection of its own
 * (./judge-worker.ts): the uploads' event loop stays free. FleetJudge is the
 * same work in the calling thread: inside the worker, for an in-memory
 * database, and in the benchmark's split of where the time goes.
 */
import type { ReportThresholds } from "../report/types.js";
import type { AlertHour, AlertStore, AlertWindow } from "../storage/alert-store.js";
import type { AlertRuleSettings } from "./config.js";
import { AlertHourCache } from "./hour-cache.js";
import { type AlertEvidence, evaluateRules } from "./rules.js";
import { SLICE_SERVERS, slices, yieldToEventLoop } from "./slices.js";
import type { AlertCondition } from "./types.js";

/** What the rules need besides the data: structured-cloneable, it travels to the worker. */
export interface JudgeSettings {
  rules: AlertRuleSettings;
  thresholds: ReportThresholds;
  hysteresisPercent: number;
}

export interface Judgement {
  conditions: AlertCondition[];
  /** Servers judged (every server ever seen). */
  servers: number;
}

/** Judges the fleet at `now`; `openFiring` are the alertKeyText of the episodes firing now (hysteresis). */
export interface Judge {
  judge(now: number, openFiring: readonly string[]): Promise<Judgement>;
  close(): Promise<void>;
}

const HOUR_MS = 3_600_000;

export class FleetJudge implements Judge {
  private readonly hourCache: AlertHourCache;
  /**
   * Each pressure window read, by its length in minutes, with the server's
   * last sample when read: a window ends at the server's own last sample, so
   * it is the same until that moves. Emptied every hour, as the hour cache
   * re-reads every hour, for samples sent late behind the last one.
   */
  private readonly windowCache = new Map<number, Map<string, { at: number; window: AlertWindow | null }>>();
  private windowCacheHour = 0;

  constructor(
    private readonly reads: Pick<AlertStore, "lastSeen" | "recentWindow" | "hours">,
    private readonly settings: JudgeSettings,
    /**
     * Servers per read and per batch of rules (./slices.ts). In the calling
     * thread small, so uploads are served in between; on the worker, where
     * no event loop waits, larger: fewer round trips to the database.
     */
    private readonly sliceServers = SLICE_SERVERS,
  ) {
    this.hourCache = new AlertHourCache(reads, sliceServers);
  }

  async judge(now: number, openFiring: readonly string[]): Promise<Judgement> {
    const evidence = await this.readEvidence(now);
    const context = { ...this.settings, open: new Set(openFiring) };
    // A slice of servers at a time, like the reads (fits over 72 hours of 10,000 servers add up).
    const conditions: AlertCondition[] = [];
    for (const slice of slices([...evidence.lastSeen.keys()].sort(), this.sliceServers)) {
      const lastSeen = new Map(slice.map((server) => [server, evidence.lastSeen.get(server)!]));
      conditions.push(...evaluateRules({ ...evidence, lastSeen }, context));
      await yieldToEventLoop();
    }
    return { conditions, servers: evidence.lastSeen.size };
  }

  async close(): Promise<void> {}

  /** What the rules read now. */
  async readEvidence(now: number): Promise<AlertEvidence> {
    const { rules, thresholds: t, hysteresisPercent: low } = this.settings;
    const historyHours = Math.max(rules.disk_full_soon.historyHours, rules.memory_trend.historyHours);
    // The last samples first: the hour cache re-reads the settled hours of the servers whose moved.
    const lastSeen = await this.reads.lastSeen();
    const hours = await this.hourCache.read(now, historyHours, lastSeen);
    // Raw windows only for the servers whose last hour reached the lowest level a pressure alert
    // can hold at (its threshold less the hysteresis): a window whose lowest sample is above it
    // lies in hours whose peak is above it too. A last hour not folded yet counts as reached (samples
    // not folded into it yet are judged at a later evaluation, after the 30-s rollup refresh).
    const reached = (server: string, peak: (h: AlertHour) => number, level: number): boolean => {
      const seen = lastSeen.get(server)!;
      const hour = seen - (seen % HOUR_MS);
      const h = hours.get(server)?.find((x) => x.hour === hour);
      return h === undefined ? seen >= now - 2 * HOUR_MS : peak(h) >= level;
    };
    const servers = [...lastSeen.keys()];
    if (now - (now % HOUR_MS) !== this.windowCacheHour) {
      this.windowCache.clear();
      this.windowCacheHour = now - (now % HOUR_MS);
    }
    const none = Promise.resolve(new Map<string, AlertWindow>());
    // Both at once: on PostgreSQL each takes a connection of its own.
    const [cpuWindow, memoryWindow] = await Promise.all([
      rules.cpu_pressure.enabled
        ? this.windows(
            rules.cpu_pressure.sustainedMinutes,
            lastSeen,
            servers.filter((s) => reached(s, (h) => h.cpuPeak, t.cpu_day_avg_warning - low)),
          )
        : none,
      rules.memory_pressure.enabled
        ? this.windows(
            rules.memory_pressure.sustainedMinutes,
            lastSeen,
            servers.filter((s) => reached(s, (h) => h.memMax, t.memory_day_avg_warning - low)),
          )
        : none,
    ]);
    return { now, lastSeen, cpuWindow, memoryWindow, hours };
  }

  /** Each server's own last `minutes` of samples, read a slice of servers at a time for those whose last sample moved. */
  private async windows(
    minutes: number,
    lastSeen: ReadonlyMap<string, number>,
    servers: readonly string[],
  ): Promise<Map<string, AlertWindow>> {
    const cache =
      this.windowCache.get(minutes) ?? new Map<string, { at: number; window: AlertWindow | null }>();
    this.windowCache.set(minutes, cache);
    const stale = servers.filter((server) => cache.get(server)?.at !== lastSeen.get(server));
    for (const slice of slices(stale, this.sliceServers)) {
      const read = await this.reads.recentWindow(minutes * 60_000, slice);
      for (const server of slice)
        cache.set(server, { at: lastSeen.get(server)!, window: read.get(server) ?? null });
      await yieldToEventLoop();
    }
    const out = new Map<string, AlertWindow>();
    for (const server of servers) {
      const w = cache.get(server)?.window;
      if (w != null) out.set(server, w);
    }
    return out;
  }
}
