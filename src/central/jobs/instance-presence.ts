import type { AutomationLog } from "../automation-log.js";
import type { CoordinationStore, InstanceInfo } from "../storage/coordination-store.js";

/** How often a serving instance renews its heartbeat, and how long one lasts. */
export const HEARTBEAT_EVERY_MS = 10_000;
export const HEARTBEAT_TTL_MS = 30_000;

/**
 * Keeps this `central serve` listed in the shared database while it runs,
 * so commands that must not run next to a live instance (`central rebuild`)
 * can name the instances to stop. A killed instance drops off the list
 * within HEARTBEAT_TTL_MS; a clean shutdown removes it at once.
 */
export class InstancePresence {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly coordination: CoordinationStore,
    readonly instance: InstanceInfo,
    private readonly log: AutomationLog | null = null,
  ) {}

  async start(): Promise<void> {
    await this.coordination.heartbeat(this.instance, Date.now(), HEARTBEAT_TTL_MS);
    this.timer = setInterval(() => {
      this.coordination.heartbeat(this.instance, Date.now(), HEARTBEAT_TTL_MS).catch((err: unknown) => {
        this.log?.warn("instance.heartbeat_failed", { error: (err as Error).message });
      });
    }, HEARTBEAT_EVERY_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    await this.coordination.leave(this.instance.id).catch(() => {});
  }
}
