/**
 * The scraper of `central serve`: every target of SRVUTIL_SCRAPE_CONFIG is
 * fetched each interval (./fetch-target.ts), parsed (exposition.ts),
 * decoded (prometheus-families.ts, server = the target's `server`) and
 * stored through the InteropSink like any other foreign input.
 *
 * With several instances on one database each target is scraped by exactly
 * one of them (./ownership.ts over the live instances). A target that fails
 * is logged once when it goes down and once when it comes back, not every
 * interval. Its state is written to store.scrapeStatus when it changes
 * (first scrape, up↔down, another error) and otherwise at most every
 * STATUS_REFRESH_MS, so every instance's dashboard and
 * GET /api/v1/scrape/targets show it without a write per scrape.
 */
import type { AutomationLog } from "../automation-log.js";
import { parseExposition } from "../ingest/interop/exposition.js";
import { groupsFromPromSamples, READ_FAMILIES } from "../ingest/interop/prometheus-families.js";
import type { InteropSink } from "../ingest/interop/sink.js";
import type { CoordinationStore } from "../storage/coordination-store.js";
import type { ScrapeStatusStore } from "../storage/scrape-status-store.js";
import type { ScrapeTarget } from "./config.js";
import { fetchExposition } from "./fetch-target.js";
import { ownerOf } from "./ownership.js";

export type TargetState =
  /** Not scraped yet by this instance. */
  | "pending"
  /** The last scrape was stored. */
  | "up"
  /** The last scrape failed: `lastError` says why. */
  | "down"
  /** Another instance scrapes it (`scrapedBy`). */
  | "elsewhere";

export interface TargetStatus {
  server: string;
  url: string;
  intervalSeconds: number;
  state: TargetState;
  /** The instance that scrapes it, as far as this one knows; null before the first turn. */
  scrapedBy: string | null;
  lastScrapeAt: number | null;
  lastSuccessAt: number | null;
  lastError: string | null;
  lastErrorAt: number | null;
  /** When it went down (null while not down). */
  downSince: number | null;
}

export interface ScraperOptions {
  targets: readonly ScrapeTarget[];
  /** InteropSink.accept (a test double in unit tests). */
  accept: InteropSink["accept"];
  coordination: Pick<CoordinationStore, "liveInstances">;
  /** This instance's id, as its heartbeat names it. */
  instanceId: string;
  log: AutomationLog | null;
  /** Body cap of one scrape, after decompression. */
  maxBytes?: number;
  /** How long one read of the live instances is reused by every target (default 5 s). */
  membershipTtlMs?: number;
  /** Where each target's state is shared with the other instances (absent: kept in memory only). */
  statusStore?: Pick<ScrapeStatusStore, "record" | "forgetOthers"> | null;
  /** How often an unchanged state is written again, so its times stay fresh (default STATUS_REFRESH_MS). */
  statusRefreshMs?: number;
}

/** An unchanged state is written again after this: "last success" is then at most this old. */
export const STATUS_REFRESH_MS = 5 * 60_000;

/** What this instance last wrote for a target. */
interface RecordedStatus {
  state: "up" | "down";
  error: string | null;
  at: number;
}

/** The first scrape of a target comes within this (spread by the target, so a fleet does not start at once). */
const MAX_FIRST_DELAY_MS = 15_000;

function spreadOffset(key: string, intervalMs: number): number {
  let h = 0;
  for (let i = 0; i < key.length; i += 1) h = (h * 31 + key.charCodeAt(i)) >>> 0;
  return h % Math.min(intervalMs, MAX_FIRST_DELAY_MS);
}

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export class Scraper {
  private readonly status = new Map<string, TargetStatus>();
  private readonly recorded = new Map<string, RecordedStatus>();
  /** A write of the state failed: logged once until one succeeds again. */
  private statusWriteFailing = false;
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly inFlight = new Set<Promise<void>>();
  private membership: { ids: string[]; until: number } | null = null;
  /**
   * When the instances seen last changed (or were first read), plus the time
   * another instance may still scrape on its older list (its membership TTL
   * and a scrape's timeout). An owner writes its state again on its first
   * scrape after this, so a write made on an older list is not left standing.
   */
  private settledAt = 0;
  private stopped = false;
  /** Aborts the fetches under way at stop(), so a long timeout_seconds never holds a shutdown. */
  private readonly stopping = new AbortController();

  constructor(private readonly options: ScraperOptions) {
    for (const t of options.targets) {
      this.status.set(t.server, {
        server: t.server,
        url: t.url,
        intervalSeconds: t.intervalMs / 1000,
        state: "pending",
        scrapedBy: null,
        lastScrapeAt: null,
        lastSuccessAt: null,
        lastError: null,
        lastErrorAt: null,
        downSince: null,
      });
    }
  }

  start(): void {
    this.forgetRemovedTargets();
    if (this.options.targets.length === 0) return;
    this.options.log?.info("scrape started", {
      targets: this.options.targets.length,
      instance: this.options.instanceId,
    });
    for (const t of this.options.targets) {
      this.schedule(t, Date.now() + spreadOffset(`${t.server} ${t.url}`, t.intervalMs));
    }
  }

  /**
   * Targets taken out of the config would keep their last state on the
   * dashboard (a failing one as a silent server) for ever: every instance
   * has the same config, so the one starting with the new config forgets them.
   */
  private forgetRemovedTargets(): void {
    const store = this.options.statusStore;
    if (store === undefined || store === null) return;
    const run: Promise<void> = store
      .forgetOthers(this.options.targets.map((t) => t.server))
      .then((forgotten) => {
        if (forgotten > 0) this.options.log?.info("scrape targets forgotten", { targets: forgotten });
      })
      .catch((err: unknown) => {
        this.options.log?.warn("scrape status not stored", { error: errorText(err) });
      })
      .finally(() => this.inFlight.delete(run));
    this.inFlight.add(run);
  }

  /** Stops the timers and waits for the scrapes under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping.abort();
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    await Promise.allSettled([...this.inFlight]);
  }

  /** Every target's status, by server name. */
  targets(): TargetStatus[] {
    return [...this.status.values()].map((s) => ({ ...s }));
  }

  private schedule(target: ScrapeTarget, at: number): void {
    if (this.stopped) return;
    const timer = setTimeout(
      () => {
        const run = this.scrapeOnce(target).finally(() => {
          this.inFlight.delete(run);
          // The next turn keeps the grid (at + n × interval); a scrape that overran skips the turns it missed.
          let next = at + target.intervalMs;
          const now = Date.now();
          if (next <= now) next += Math.ceil((now - next) / target.intervalMs) * target.intervalMs;
          this.schedule(target, next);
        });
        this.inFlight.add(run);
      },
      Math.max(0, at - Date.now()),
    );
    timer.unref();
    this.timers.set(target.server, timer);
  }

  private async liveIds(now: number): Promise<string[]> {
    if (this.membership !== null && now < this.membership.until) return this.membership.ids;
    const live = await this.options.coordination.liveInstances(now);
    const ids = live.map((i) => i.id);
    // This instance scrapes even before its first heartbeat is visible (or while the database is slow to show it).
    if (!ids.includes(this.options.instanceId)) ids.push(this.options.instanceId);
    const ttl = this.options.membershipTtlMs ?? 5000;
    const before = this.membership?.ids ?? null;
    if (before === null || [...before].sort().join("\n") !== [...ids].sort().join("\n")) {
      const longestTimeout = Math.max(0, ...this.options.targets.map((t) => t.timeoutMs));
      this.settledAt = now + ttl + longestTimeout;
    }
    this.membership = { ids, until: now + ttl };
    return ids;
  }

  /** One turn of one target: scrape it if this instance owns it. Never throws. */
  async scrapeOnce(target: ScrapeTarget): Promise<void> {
    const status = this.status.get(target.server);
    if (status === undefined) return;
    let owner: string;
    try {
      owner = ownerOf(`${target.server} ${target.url}`, await this.liveIds(Date.now()));
    } catch (err) {
      this.markDown(target, status, `cannot read the live instances: ${errorText(err)}`);
      return;
    }
    status.scrapedBy = owner;
    if (owner !== this.options.instanceId) {
      status.state = "elsewhere";
      // The owner writes the state now; if it comes back here, the first scrape is written again.
      this.recorded.delete(target.server);
      return;
    }
    if (status.state === "elsewhere") status.state = "pending";
    const at = Date.now();
    status.lastScrapeAt = at;
    try {
      const text = await fetchExposition(target, {
        signal: this.stopping.signal,
        ...(this.options.maxBytes !== undefined ? { maxBytes: this.options.maxBytes } : {}),
      });
      // Every sample of one scrape is one reading at the scrape's instant, whatever timestamps the text
      // carries (exporters normally give none): a text with some would otherwise split into incomplete groups.
      const samples = parseExposition(text, {
        defaultTimestampMs: at,
        ignoreTimestamps: true,
        keepName: (n) => READ_FAMILIES.has(n),
      });
      const { groups } = groupsFromPromSamples(samples, () => target.server);
      if (groups.length === 0) {
        throw new Error(
          "the answer has no node_exporter or windows_exporter CPU, memory or filesystem metrics: is this an exporter's /metrics?",
        );
      }
      await this.options.accept(groups, "scrape", { kind: "scrape" });
      this.markUp(target, status);
    } catch (err) {
      this.markDown(target, status, errorText(err));
    }
    // A scrape the stop abandoned says nothing about the target.
    if (!this.stopped) await this.recordStatus(target, status);
  }

  /** Writes the target's state when it changed or is due a refresh. Never throws: a failed write is logged. */
  private async recordStatus(target: ScrapeTarget, status: TargetStatus): Promise<void> {
    const store = this.options.statusStore;
    if (store === undefined || store === null) return;
    if (status.state !== "up" && status.state !== "down") return;
    const now = Date.now();
    const error = status.state === "down" ? status.lastError : null;
    const last = this.recorded.get(target.server);
    const due =
      last === undefined ||
      last.state !== status.state ||
      last.error !== error ||
      now - last.at >= (this.options.statusRefreshMs ?? STATUS_REFRESH_MS) ||
      (last.at < this.settledAt && now >= this.settledAt);
    if (!due) return;
    try {
      await store.record({
        server: target.server,
        url: target.url,
        instance: this.options.instanceId,
        state: status.state,
        lastSuccessAt: status.lastSuccessAt,
        downSince: status.state === "down" ? status.downSince : null,
        lastError: error,
        updatedAt: now,
      });
      this.recorded.set(target.server, { state: status.state, error, at: now });
      if (this.statusWriteFailing) {
        this.statusWriteFailing = false;
        this.options.log?.info("scrape status stored again", { server: target.server });
      }
    } catch (err) {
      // Scraping goes on; the next scrape tries the write again (nothing was marked recorded).
      if (!this.statusWriteFailing) {
        this.statusWriteFailing = true;
        this.options.log?.warn("scrape status not stored", {
          server: target.server,
          error: errorText(err),
        });
      }
    }
  }

  private markUp(target: ScrapeTarget, status: TargetStatus): void {
    const wasDown = status.state === "down";
    status.state = "up";
    status.lastSuccessAt = Date.now();
    status.downSince = null;
    if (wasDown) {
      this.options.log?.info("scrape target up", {
        server: target.server,
        url: target.url,
        after: status.lastError,
      });
    }
  }

  private markDown(target: ScrapeTarget, status: TargetStatus, error: string): void {
    const wasDown = status.state === "down";
    status.state = "down";
    status.lastError = error;
    status.lastErrorAt = Date.now();
    if (!wasDown) status.downSince = status.lastErrorAt;
    if (!wasDown)
      this.options.log?.warn("scrape target down", { server: target.server, url: target.url, error });
  }
}
