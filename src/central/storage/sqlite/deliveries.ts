import type Database from "better-sqlite3";
import {
  DeliveryLeaseWrites,
  type DeliveryRow,
  planEnqueue,
  type Statement,
  toDeliveryRecord,
} from "../delivery-rows.js";
import type {
  ClaimedDelivery,
  ClaimOptions,
  DeliveryKey,
  DeliveryRecord,
  DeliveryState,
  DeliveryStore,
  EnqueueOptions,
  EnqueueOutcome,
} from "../delivery-store.js";
import { type Migration, runMigrations } from "./migrate.js";
import { fromPg } from "./prepared.js";

/**
 * The "deliveries" migration component (separate version sequence from the
 * metrics schema). Times are epoch ms UTC. `queued_by` is what queued the
 * delivery (schedule, catch-up, manual, resend); `recipients` and `rejected`
 * are JSON. Column names avoid SQL keywords so that a PostgreSQL version can
 * use the same names.
 */
export const DELIVERIES_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "deliveries per (week, group) and schedule ticks",
    sql: `
      CREATE TABLE deliveries (
        week TEXT NOT NULL,
        group_name TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'failed')),
        queued_by TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        resends INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        next_attempt_at INTEGER NOT NULL,
        retry_until INTEGER NOT NULL,
        lease_owner TEXT,
        lease_until INTEGER,
        message_id TEXT,
        recipients TEXT,
        smtp_response TEXT,
        rejected TEXT,
        last_error TEXT,
        sent_at INTEGER,
        PRIMARY KEY (week, group_name)
      );
      CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at);

      CREATE TABLE delivery_schedule (
        name TEXT PRIMARY KEY,
        last_tick_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
    `,
  },
];

/**
 * Deliveries in the central SQLite database (the same file and handle as the
 * metrics). Claims run in BEGIN IMMEDIATE transactions: SQLite then holds the
 * single write lock from the SELECT to the UPDATE, so two processes on the
 * same file can never claim the same row. better-sqlite3 is synchronous;
 * the async interface is for PostgreSQL.
 */
export class SqliteDeliveryStore extends DeliveryLeaseWrites implements DeliveryStore {
  constructor(private readonly db: Database.Database) {
    super();
  }

  async init(): Promise<void> {
    // Under one IMMEDIATE transaction (the inner ones become savepoints), so
    // two processes starting on a fresh database cannot both decide that the
    // migration is pending and the second fail with "table already exists".
    this.db.transaction(() => runMigrations(this.db, "deliveries", DELIVERIES_MIGRATIONS)).immediate();
  }

  async enqueue(key: DeliveryKey, o: EnqueueOptions): Promise<EnqueueOutcome> {
    return this.db.transaction(() => this.enqueueInTransaction(key, o)).immediate();
  }

  private enqueueInTransaction(key: DeliveryKey, o: EnqueueOptions): EnqueueOutcome {
    return this.db
      .transaction((): EnqueueOutcome => {
        const existing = this.row(key);
        if (existing === undefined) {
          this.db
            .prepare(
              `INSERT INTO deliveries (week, group_name, state, queued_by, attempts, resends, created_at, updated_at,
                 next_attempt_at, retry_until) VALUES (?, ?, 'pending', ?, 0, 0, ?, ?, ?, ?)`,
            )
            .run(key.week, key.group, o.trigger, o.now, o.now, o.now, o.retryUntil);
          return "created";
        }
        const plan = planEnqueue(existing, o);
        if (plan === "requeue") {
          this.db
            .prepare(
              `UPDATE deliveries SET state = 'pending', queued_by = ?, attempts = 0, resends = resends + ?,
                 updated_at = ?, next_attempt_at = ?, retry_until = ?, lease_owner = NULL, lease_until = NULL,
                 last_error = NULL WHERE week = ? AND group_name = ?`,
            )
            .run(
              o.trigger,
              existing.state === "sent" ? 1 : 0,
              o.now,
              o.now,
              o.retryUntil,
              key.week,
              key.group,
            );
          return "requeued";
        }
        if (plan === "due-now") {
          this.db
            .prepare(
              "UPDATE deliveries SET next_attempt_at = ?, updated_at = ? WHERE week = ? AND group_name = ?",
            )
            .run(o.now, o.now, key.week, key.group);
        }
        return "unchanged";
      })
      .immediate();
  }

  async claimNext(o: ClaimOptions): Promise<ClaimedDelivery | null> {
    return this.db
      .transaction((): ClaimedDelivery | null => {
        const due = this.db
          .prepare(
            `SELECT * FROM deliveries
              WHERE (state = 'pending' AND next_attempt_at <= @now)
                 OR (state = 'sending' AND lease_until <= @now)
              ORDER BY next_attempt_at, week, group_name`,
          )
          .all({ now: o.now }) as DeliveryRow[];
        const wanted =
          o.only === undefined
            ? due
            : due.filter((r) => o.only!.some((k) => k.week === r.week && k.group === r.group_name));
        const pick = wanted[0];
        if (pick === undefined) return null;
        this.db
          .prepare(
            `UPDATE deliveries SET state = 'sending', lease_owner = ?, lease_until = ?, attempts = attempts + 1,
               updated_at = ? WHERE week = ? AND group_name = ?`,
          )
          .run(o.owner, o.now + o.leaseMs, o.now, pick.week, pick.group_name);
        return {
          ...toDeliveryRecord(this.row({ week: pick.week, group: pick.group_name })!),
          reclaimed: pick.state === "sending",
          previousOwner: pick.state === "sending" ? pick.lease_owner : null,
        };
      })
      .immediate();
  }

  /** A lease holder's write: true when it changed the row (the lease was still ours). */
  protected async run(s: Statement): Promise<boolean> {
    return this.db.prepare(fromPg(s.sql)).run(...s.values).changes === 1;
  }

  async get(key: DeliveryKey): Promise<DeliveryRecord | null> {
    const r = this.row(key);
    return r === undefined ? null : toDeliveryRecord(r);
  }

  async list(
    filter: { week?: string; group?: string; state?: DeliveryState; limit?: number } = {},
  ): Promise<DeliveryRecord[]> {
    const rows = this.db
      .prepare(
        `SELECT * FROM deliveries
          WHERE (@week IS NULL OR week = @week) AND (@group IS NULL OR group_name = @group)
            AND (@state IS NULL OR state = @state)
          ORDER BY week DESC, group_name LIMIT @limit`,
      )
      .all({
        week: filter.week ?? null,
        group: filter.group ?? null,
        state: filter.state ?? null,
        limit: filter.limit ?? 1000,
      }) as DeliveryRow[];
    return rows.map(toDeliveryRecord);
  }

  async nextWakeUp(): Promise<number | null> {
    const v = this.db
      .prepare(
        `SELECT MIN(t) FROM (
           SELECT MIN(next_attempt_at) AS t FROM deliveries WHERE state = 'pending'
           UNION ALL SELECT MIN(lease_until) FROM deliveries WHERE state = 'sending')`,
      )
      .pluck()
      .get() as number | null;
    return v ?? null;
  }

  async lastScheduledTick(name: string): Promise<number | null> {
    const v = this.db
      .prepare("SELECT last_tick_at FROM delivery_schedule WHERE name = ?")
      .pluck()
      .get(name) as number | undefined;
    return v ?? null;
  }

  async claimScheduledTick(
    name: string,
    tick: number,
    now: number,
    queue?: { keys: readonly DeliveryKey[]; options: EnqueueOptions },
  ): Promise<boolean> {
    return this.db
      .transaction((): boolean => {
        if (!this.claimTick(name, tick, now)) return false;
        for (const key of queue?.keys ?? []) this.enqueueInTransaction(key, queue!.options);
        return true;
      })
      .immediate();
  }

  private claimTick(name: string, tick: number, now: number): boolean {
    const r = this.db
      .prepare(
        `INSERT INTO delivery_schedule (name, last_tick_at, updated_at) VALUES (?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET last_tick_at = excluded.last_tick_at, updated_at = excluded.updated_at
         WHERE delivery_schedule.last_tick_at < excluded.last_tick_at`,
      )
      .run(name, tick, now);
    return r.changes === 1;
  }

  private row(key: DeliveryKey): DeliveryRow | undefined {
    return this.db
      .prepare("SELECT * FROM deliveries WHERE week = ? AND group_name = ?")
      .get(key.week, key.group) as DeliveryRow | undefined;
  }
}
