import type { AutomationLog } from "../automation-log.js";
import type { RollupRefreshResult, RollupStore } from "../storage/rollups/port.js";

/** How often `central serve` folds new uploads into the rollups. */
export const ROLLUP_REFRESH_MS = 30_000;

/**
 * Keeps the rollups close to the raw rows while `central serve` runs, so the
 * Monday report reads O(servers × days) rows instead of catching up on a
 * week of uploads first. Report builds refresh too, so this is an
 * optimisation, never needed for correctness.
 *
 * Every instance of a fleet runs one: the store's refresh is safe to run
 * concurrently. Work goes in small bounded steps, one per turn of the event
 * loop: a refresh after 30 s of a busy fleet folds in tens of thousands of
 * uploads, and done in one go it held the event loop (and every upload
 * waiting on it) for seconds on SQLite, whose calls are synchronous.
 */
export class RollupMaintainer {
  private running = false;
  private stopped = false;
  private first: NodeJS.Timeout | null = null;
  private timer: NodeJS.Timeout | null = null;
  private current: Promise<void> | null = null;
  private started = false;
  /** Catch-ups so far that folded something in: a page cached under an older one may be stale. */
  private generation = 0;

  constructor(
    private readonly rollups: RollupStore,
    private readonly log: AutomationLog | null,
    private readonly everyMs = ROLLUP_REFRESH_MS,
  ) {}

  /** Registers the report zone (its days stay current from now on), then refreshes soon and periodically. */
  async start(timeZone: string): Promise<void> {
    await this.rollups.registerZone(timeZone);
    this.started = true;
    // Soon after start (catch up on what arrived while down), then periodically.
    this.first = setTimeout(() => this.refreshSoon(), Math.min(1_000, this.everyMs));
    this.timer = setInterval(() => this.refreshSoon(), this.everyMs);
    this.first.unref();
    this.timer.unref();
  }

  /** Starts a catch-up unless one is running; resolves when it has finished. */
  refreshSoon(): Promise<void> {
    if (this.running || this.stopped) return this.current ?? Promise.resolve();
    this.running = true;
    this.current = this.catchUp().finally(() => {
      this.running = false;
    });
    return this.current;
  }

  /**
   * For a page that shows the newest figures (the dashboard): folds what was
   * uploaded since the last catch-up now, instead of at the next 30-s tick,
   * so an upload shows at once. A catch-up with nothing new is one cheap
   * read, and views at the same moment share one. Waits at most `maxWaitMs`
   * (a page never hangs on a backlog). Resolves to the generation: a cache
   * filled under an older one may be stale.
   */
  async freshen(maxWaitMs = 2_000): Promise<number> {
    if (!this.started || this.stopped) return this.generation;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.refreshSoon(),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, maxWaitMs);
      }),
    ]);
    clearTimeout(timer);
    return this.generation;
  }

  /** Stops the timers and waits for the step in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.first !== null) clearTimeout(this.first);
    if (this.timer !== null) clearInterval(this.timer);
    await this.current;
  }

  private async catchUp(): Promise<void> {
    let more = true;
    while (more && !this.stopped) {
      try {
        const step = await this.rollups.refresh({ maxBatches: 1, batchSize: "serving" });
        more = step.more;
        if (step.uploads > 0 || step.hours > 0 || step.rebuilt) this.generation++;
      } catch (err) {
        this.log?.warn("rollups.refresh_failed", { error: (err as Error).message });
        return;
      }
      // Let waiting uploads run between steps.
      if (more) await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
}

/**
 * After a bulk write (`central import`, `central rebuild`): registers the
 * report zone and folds everything into the rollups now, so the first report
 * afterwards reads rollups only, as fast as a warm one.
 */
export async function catchUpRollups(rollups: RollupStore, timeZone: string): Promise<RollupRefreshResult> {
  await rollups.registerZone(timeZone);
  return rollups.refresh();
}
