import type Database from "better-sqlite3";
import type { CoordinationStore, InstanceInfo, LiveInstance } from "../coordination-store.js";
import { type Migration, runMigrations } from "./migrate.js";

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "job leases and instance heartbeats",
    sql: `
      CREATE TABLE job_leases (
        job TEXT PRIMARY KEY, holder TEXT, lease_until INTEGER NOT NULL DEFAULT 0,
        done_period INTEGER, done_at INTEGER
      );
      CREATE TABLE central_instances (
        id TEXT PRIMARY KEY, description TEXT NOT NULL, started_at INTEGER NOT NULL,
        last_seen INTEGER NOT NULL, expires_at INTEGER NOT NULL
      );
    `,
  },
];

/**
 * The same leases as PostgreSQL's (../postgres/coordination.ts) on one SQLite
 * file: each statement runs under SQLite's single writer lock, so processes
 * sharing the file (a second `central serve` by mistake, `central rebuild`)
 * see the same rules.
 */
export class SqliteCoordinationStore implements CoordinationStore {
  private st: ReturnType<typeof prepare> | null = null;

  constructor(private readonly db: Database.Database) {}

  async init(): Promise<void> {
    runMigrations(this.db, "coordination", MIGRATIONS);
    this.st = prepare(this.db);
  }

  private get s(): ReturnType<typeof prepare> {
    this.st ??= prepare(this.db);
    return this.st;
  }

  async claimJob(
    job: string,
    period: number,
    holder: string,
    now: number,
    leaseMs: number,
  ): Promise<boolean> {
    return this.s.claim.run({ job, holder, leaseUntil: now + leaseMs, period, now }).changes === 1;
  }

  async completeJob(job: string, period: number, holder: string): Promise<boolean> {
    return this.s.complete.run(period, Date.now(), job, holder).changes === 1;
  }

  async releaseJob(job: string, holder: string): Promise<void> {
    this.s.release.run(job, holder);
  }

  async lastCompletedPeriod(job: string): Promise<number | null> {
    const row = this.s.lastDone.get(job) as { done_period: number | null } | undefined;
    return row?.done_period ?? null;
  }

  async heartbeat(instance: InstanceInfo, now: number, ttlMs: number): Promise<void> {
    this.s.heartbeat.run(instance.id, instance.description, instance.startedAt, now, now + ttlMs);
  }

  async leave(instanceId: string): Promise<void> {
    this.s.leave.run(instanceId);
  }

  async liveInstances(now: number): Promise<LiveInstance[]> {
    const rows = this.s.live.all(now) as {
      id: string;
      description: string;
      started_at: number;
      last_seen: number;
      expires_at: number;
    }[];
    return rows.map((x) => ({
      id: x.id,
      description: x.description,
      startedAt: x.started_at,
      lastSeen: x.last_seen,
      expiresAt: x.expires_at,
    }));
  }
}

function prepare(db: Database.Database) {
  return {
    claim: db.prepare(
      `INSERT INTO job_leases (job, holder, lease_until) VALUES (@job, @holder, @leaseUntil)
       ON CONFLICT (job) DO UPDATE SET holder = excluded.holder, lease_until = excluded.lease_until
       WHERE (job_leases.done_period IS NULL OR job_leases.done_period < @period)
         AND (job_leases.holder IS NULL OR job_leases.holder = excluded.holder OR job_leases.lease_until <= @now)`,
    ),
    complete: db.prepare(
      "UPDATE job_leases SET done_period = ?, done_at = ?, holder = NULL, lease_until = 0 WHERE job = ? AND holder = ?",
    ),
    release: db.prepare("UPDATE job_leases SET holder = NULL, lease_until = 0 WHERE job = ? AND holder = ?"),
    lastDone: db.prepare("SELECT done_period FROM job_leases WHERE job = ?"),
    heartbeat: db.prepare(
      `INSERT INTO central_instances (id, description, started_at, last_seen, expires_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET description = excluded.description, last_seen = excluded.last_seen,
         expires_at = excluded.expires_at`,
    ),
    leave: db.prepare("DELETE FROM central_instances WHERE id = ?"),
    live: db.prepare(
      "SELECT id, description, started_at, last_seen, expires_at FROM central_instances WHERE expires_at > ? ORDER BY id",
    ),
  };
}
