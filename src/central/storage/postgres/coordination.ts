import type pg from "pg";
import type { CoordinationStore, InstanceInfo, LiveInstance } from "../coordination-store.js";
import { type Migration, runPgMigrations } from "./migrate.js";

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "job leases and instance heartbeats",
    sql: `
      CREATE TABLE job_leases (
        job TEXT PRIMARY KEY, holder TEXT, lease_until BIGINT NOT NULL DEFAULT 0,
        done_period BIGINT, done_at BIGINT
      );
      CREATE TABLE central_instances (
        id TEXT PRIMARY KEY, description TEXT NOT NULL, started_at BIGINT NOT NULL,
        last_seen BIGINT NOT NULL, expires_at BIGINT NOT NULL
      );
    `,
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
    const r = await this.pool.query(
      `INSERT INTO job_leases (job, holder, lease_until) VALUES ($1, $2, $3)
       ON CONFLICT (job) DO UPDATE SET holder = excluded.holder, lease_until = excluded.lease_until
       WHERE (job_leases.done_period IS NULL OR job_leases.done_period < $4)
         AND (job_leases.holder IS NULL OR job_leases.holder = excluded.holder OR job_leases.lease_until <= $5)`,
      [job, holder, now + leaseMs, period, now],
    );
    return r.rowCount === 1;
  }

  async completeJob(job: string, period: number, holder: string): Promise<boolean> {
    const r = await this.pool.query(
      `UPDATE job_leases SET done_period = $2, done_at = $4, holder = NULL, lease_until = 0
       WHERE job = $1 AND holder = $3`,
      [job, period, holder, Date.now()],
    );
    return r.rowCount === 1;
  }

  async releaseJob(job: string, holder: string): Promise<void> {
    await this.pool.query(
      "UPDATE job_leases SET holder = NULL, lease_until = 0 WHERE job = $1 AND holder = $2",
      [job, holder],
    );
  }

  async lastCompletedPeriod(job: string): Promise<number | null> {
    const r = await this.pool.query<{ done_period: number | null }>(
      "SELECT done_period FROM job_leases WHERE job = $1",
      [job],
    );
    return r.rows[0]?.done_period ?? null;
  }

  async heartbeat(instance: InstanceInfo, now: number, ttlMs: number): Promise<void> {
    await this.pool.query(
      `INSERT INTO central_instances (id, description, started_at, last_seen, expires_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (id) DO UPDATE SET description = excluded.description, last_seen = excluded.last_seen,
         expires_at = excluded.expires_at`,
      [instance.id, instance.description, instance.startedAt, now, now + ttlMs],
    );
  }

  async leave(instanceId: string): Promise<void> {
    await this.pool.query("DELETE FROM central_instances WHERE id = $1", [instanceId]);
  }

  async liveInstances(now: number): Promise<LiveInstance[]> {
    const r = await this.pool.query<{
      id: string;
      description: string;
      started_at: number;
      last_seen: number;
      expires_at: number;
    }>(
      "SELECT id, description, started_at, last_seen, expires_at FROM central_instances WHERE expires_at > $1 ORDER BY id",
      [now],
    );
    return r.rows.map((x) => ({
      id: x.id,
      description: x.description,
      startedAt: x.started_at,
      lastSeen: x.last_seen,
      expiresAt: x.expires_at,
    }));
  }
}
