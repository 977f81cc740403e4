import type { LiveInstance } from "./coordination-store.js";

/**
 * The "coordination" component's tables and statements, the same on both
 * backends, with PostgreSQL's `$N` placeholders (SQLite: fromPg). SQLite:
 * ./sqlite/coordination.ts, PostgreSQL: ./postgres/coordination.ts.
 */
export function coordinationTables(int: "INTEGER" | "BIGINT"): string {
  return `CREATE TABLE job_leases (
    job TEXT PRIMARY KEY, holder TEXT, lease_until ${int} NOT NULL DEFAULT 0,
    done_period ${int}, done_at ${int}
  );
  CREATE TABLE central_instances (
    id TEXT PRIMARY KEY, description TEXT NOT NULL, started_at ${int} NOT NULL,
    last_seen ${int} NOT NULL, expires_at ${int} NOT NULL
  );`;
}

export const COORDINATION_SQL = {
  /** job, holder, lease until, period, now: taken if free, expired, already ours, and the period not done. */
  claim: `INSERT INTO job_leases (job, holder, lease_until) VALUES ($1, $2, $3)
    ON CONFLICT (job) DO UPDATE SET holder = excluded.holder, lease_until = excluded.lease_until
    WHERE (job_leases.done_period IS NULL OR job_leases.done_period < $4)
      AND (job_leases.holder IS NULL OR job_leases.holder = excluded.holder OR job_leases.lease_until <= $5)`,
  /** period, done at, job, holder. */
  complete:
    "UPDATE job_leases SET done_period = $1, done_at = $2, holder = NULL, lease_until = 0 WHERE job = $3 AND holder = $4",
  release: "UPDATE job_leases SET holder = NULL, lease_until = 0 WHERE job = $1 AND holder = $2",
  lastDone: "SELECT done_period FROM job_leases WHERE job = $1",
  heartbeat: `INSERT INTO central_instances (id, description, started_at, last_seen, expires_at) VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (id) DO UPDATE SET description = excluded.description, last_seen = excluded.last_seen,
      expires_at = excluded.expires_at`,
  leave: "DELETE FROM central_instances WHERE id = $1",
  live: "SELECT id, description, started_at, last_seen, expires_at FROM central_instances WHERE expires_at > $1 ORDER BY id",
} as const;

export interface InstanceRow {
  id: string;
  description: string;
  started_at: number;
  last_seen: number;
  expires_at: number;
}

export const toLiveInstance = (x: InstanceRow): LiveInstance => ({
  id: x.id,
  description: x.description,
  startedAt: x.started_at,
  lastSeen: x.last_seen,
  expiresAt: x.expires_at,
});
