/**
 * What several central instances sharing one database agree on through it:
 * which instance runs a scheduled job's period (a lease per job), and which
 * instances are serving right now (a heartbeat per instance). Both tables
 * live in the database every instance already shares, so no extra service
 * (ZooKeeper, Redis) is needed, and both backends implement the same SQL
 * shape (conditional upserts), so SQLite behaves the same for several
 * processes on one file.
 *
 * Timestamps are the callers' clocks (epoch ms). Leases last minutes, so the
 * few milliseconds of skew between NTP-synced machines do not matter; a clock
 * hours off would let two instances run a period each (docs/scaling.md).
 */
export interface CoordinationStore {
  /**
   * Takes the lease of `job` for `period` (any increasing number, e.g. the
   * period's start) unless that period, or a later one, has completed, or
   * another holder's lease has not expired yet. True when `holder` now holds
   * it, until `now + leaseMs`. Taking a lease one already holds renews it.
   */
  claimJob(job: string, period: number, holder: string, now: number, leaseMs: number): Promise<boolean>;
  /** Marks `period` of `job` done and releases the lease (only if `holder` still holds it). */
  completeJob(job: string, period: number, holder: string): Promise<boolean>;
  /** Releases the lease without completing the period (the job failed: another instance may retry it). */
  releaseJob(job: string, holder: string): Promise<void>;
  /** The last completed period of `job`, or null. */
  lastCompletedPeriod(job: string): Promise<number | null>;

  /** Records that `instance` is serving, until `now + ttlMs` unless renewed. */
  heartbeat(instance: InstanceInfo, now: number, ttlMs: number): Promise<void>;
  /** Removes an instance's heartbeat (clean shutdown). */
  leave(instanceId: string): Promise<void>;
  /** Instances whose heartbeat has not expired at `now`, by id. */
  liveInstances(now: number): Promise<LiveInstance[]>;
}

export interface InstanceInfo {
  /** Unique per process: host, pid and a random suffix. */
  id: string;
  /** What an operator needs to find it: host name and listen address. */
  description: string;
  startedAt: number;
}

export interface LiveInstance extends InstanceInfo {
  lastSeen: number;
  expiresAt: number;
}
