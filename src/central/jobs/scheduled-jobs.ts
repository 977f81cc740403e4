import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { AutomationLog } from "../automation-log.js";
import type { CoordinationStore } from "../storage/coordination-store.js";

/**
 * Periodic work that must happen once per period across every central
 * instance sharing a database (retention, and whatever upkeep joins it),
 * however many instances run this runner. Each period of each job is a
 * lease in the shared database (storage/coordination-store.ts): the instance
 * that takes it runs the job and marks the period done; the others find it
 * taken or done and skip it. An instance that dies mid-job leaves its lease
 * to expire, after which another instance runs that period again, so a
 * period is done at least once and, short of a crash, exactly once. Jobs
 * therefore must be safe to repeat after a crash (retention is: deleting
 * what is past the cutoff twice deletes nothing more).
 *
 * Deliveries are not run here: their ticks and sends are claimed per
 * (week, group) row by the delivery store itself. The rollup refresher is
 * not either: it is meant to run on every instance at once (it claims the
 * hours it folds).
 */
export interface ScheduledJob {
  /** Unique name; the lease row's key. */
  name: string;
  /** One period: the job runs once per `everyMs` slot of wall-clock time (slots start at the epoch). */
  everyMs: number;
  /** `period` is the start (epoch ms) of the period claimed, which may have ended by the time the job runs. */
  run(period: number): Promise<void>;
}

export interface JobRunnerOptions {
  coordination: CoordinationStore;
  jobs: readonly ScheduledJob[];
  log?: AutomationLog | null;
  /** This instance's id in leases; default host:pid:random. */
  holder?: string;
  /** How long a lease lasts unless renewed; renewed every third of it while the job runs. Default 5 min. */
  leaseMs?: number;
  /** How often due jobs are looked for. Default 60 s. */
  checkMs?: number;
  now?: () => number;
}

export interface JobRun {
  job: string;
  period: number;
  ok: boolean;
  error?: string;
}

export const DEFAULT_JOB_LEASE_MS = 5 * 60_000;
const DEFAULT_CHECK_MS = 60_000;

export function instanceId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`;
}

export class JobRunner {
  readonly holder: string;
  private readonly leaseMs: number;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | null = null;
  private current: Promise<JobRun[]> | null = null;
  private stopped = false;

  constructor(private readonly o: JobRunnerOptions) {
    this.holder = o.holder ?? instanceId();
    this.leaseMs = o.leaseMs ?? DEFAULT_JOB_LEASE_MS;
    this.now = o.now ?? Date.now;
  }

  /** Runs what is due now, then checks again every checkMs until stop(). */
  start(): void {
    const tick = () => {
      if (this.stopped) return;
      void this.runDue().finally(() => {
        if (!this.stopped) {
          this.timer = setTimeout(tick, this.o.checkMs ?? DEFAULT_CHECK_MS);
          this.timer.unref();
        }
      });
    };
    tick();
  }

  /** Runs every job whose current period nobody has run or is running; resolves to what this instance ran. */
  runDue(): Promise<JobRun[]> {
    this.current ??= this.runDueNow().finally(() => {
      this.current = null;
    });
    return this.current;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    await this.current;
  }

  private async runDueNow(): Promise<JobRun[]> {
    const runs: JobRun[] = [];
    for (const job of this.o.jobs) {
      if (this.stopped) break;
      const now = this.now();
      const period = Math.floor(now / job.everyMs) * job.everyMs;
      try {
        if (!(await this.o.coordination.claimJob(job.name, period, this.holder, now, this.leaseMs))) continue;
      } catch (err) {
        this.o.log?.warn("job.claim_failed", { job: job.name, error: (err as Error).message });
        continue;
      }
      runs.push(await this.runClaimed(job, period));
    }
    return runs;
  }

  private async runClaimed(job: ScheduledJob, period: number): Promise<JobRun> {
    const c = this.o.coordination;
    // Renew while running, so a long job keeps its lease and a dead instance's lapses.
    const renew = setInterval(
      () => {
        void c.claimJob(job.name, period, this.holder, this.now(), this.leaseMs).catch(() => {});
      },
      Math.max(1_000, Math.floor(this.leaseMs / 3)),
    );
    renew.unref();
    const started = this.now();
    try {
      await job.run(period);
      clearInterval(renew);
      await c.completeJob(job.name, period, this.holder);
      this.o.log?.info("job.done", {
        job: job.name,
        period: new Date(period).toISOString(),
        ms: this.now() - started,
      });
      return { job: job.name, period, ok: true };
    } catch (err) {
      clearInterval(renew);
      const error = (err as Error).message;
      this.o.log?.error("job.failed", { job: job.name, period: new Date(period).toISOString(), error });
      await c.releaseJob(job.name, this.holder).catch(() => {});
      return { job: job.name, period, ok: false, error };
    }
  }
}
