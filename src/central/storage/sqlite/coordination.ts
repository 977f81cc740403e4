import type Database from "better-sqlite3";
import {
  coordinationTables,
  type InstanceRow,
  COORDINATION_SQL as SQL,
  toLiveInstance,
} from "../coordination-rows.js";
import type { CoordinationStore, InstanceInfo, LiveInstance } from "../coordination-store.js";
import { type Migration, runMigrations } from "./migrate.js";
import { fromPg } from "./prepared.js";

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "job leases and instance heartbeats",
    sql: coordinationTables("INTEGER"),
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
    return this.s.claim.run(job, holder, now + leaseMs, period, now).changes === 1;
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
    return (this.s.live.all(now) as InstanceRow[]).map(toLiveInstance);
  }
}

function prepare(db: Database.Database) {
  const p = (sql: string) => db.prepare(fromPg(sql));
  return {
    claim: p(SQL.claim),
    complete: p(SQL.complete),
    release: p(SQL.release),
    lastDone: p(SQL.lastDone),
    heartbeat: p(SQL.heartbeat),
    leave: p(SQL.leave),
    live: p(SQL.live),
  };
}
