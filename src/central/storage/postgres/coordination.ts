import type pg from "pg";
import {
  coordinationTables,
  type InstanceRow,
  COORDINATION_SQL as SQL,
  toLiveInstance,
} from "../coordination-rows.js";
import type { CoordinationStore, InstanceInfo, LiveInstance } from "../coordination-store.js";
import { type Migration, runPgMigrations } from "./migrate.js";

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "job leases and instance heartbeats",
    sql: coordinationTables("BIGINT"),
  },
];

/**
 * Leases as conditional upserts: `INSERT … ON CONFLICT DO UPDATE … WHERE`
 * locks the job's row, so of two instances claiming at once exactly one
 * sees a row count of 1; the other's WHERE then finds the lease taken.
 */
export class PgCoordinationStore implements CoordinationStore {
  constructor(private readonly pool: pg.Pool) {}

  async init(): Promise<void> {
    await runPgMigrations(this.pool, "coordination", MIGRATIONS);
  }

  async claimJob(
    job: string,
    period: number,
    holder: string,
    now: number,
    leaseMs: number,
  ): Promise<boolean> {
    const r = await this.pool.query(SQL.claim, [job, holder, now + leaseMs, period, now]);
    return r.rowCount === 1;
  }

  async completeJob(job: string, period: number, holder: string): Promise<boolean> {
    const r = await this.pool.query(SQL.complete, [period, Date.now(), job, holder]);
    return r.rowCount === 1;
  }

  async releaseJob(job: string, holder: string): Promise<void> {
    await this.pool.query(SQL.release, [job, holder]);
  }

  async lastCompletedPeriod(job: string): Promise<number | null> {
    const r = await this.pool.query<{ done_period: number | null }>(SQL.lastDone, [job]);
    return r.rows[0]?.done_period ?? null;
  }

  async heartbeat(instance: InstanceInfo, now: number, ttlMs: number): Promise<void> {
    await this.pool.query(SQL.heartbeat, [
      instance.id,
      instance.description,
      instance.startedAt,
      now,
      now + ttlMs,
    ]);
  }

  async leave(instanceId: string): Promise<void> {
    await this.pool.query(SQL.leave, [instanceId]);
  }

  async liveInstances(now: number): Promise<LiveInstance[]> {
    return (await this.pool.query<InstanceRow>(SQL.live, [now])).rows.map(toLiveInstance);
  }
}
