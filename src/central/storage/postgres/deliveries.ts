import type pg from "pg";
import {
  DeliveryLeaseWrites,
  type DeliveryRow,
  numOrNull,
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
import { runPgMigrations } from "./migrate.js";
import { inTransaction } from "./transaction.js";

/**
 * The "deliveries" migrations for PostgreSQL: the same tables and columns as
 * the SQLite version (src/central/storage/sqlite/deliveries.ts), epoch-ms
 * BIGINTs, JSON kept as TEXT.
 */
const PG_DELIVERIES_MIGRATIONS = [
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
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        next_attempt_at BIGINT NOT NULL,
        retry_until BIGINT NOT NULL,
        lease_owner TEXT,
        lease_until BIGINT,
        message_id TEXT,
        recipients TEXT,
        smtp_response TEXT,
        rejected TEXT,
        last_error TEXT,
        sent_at BIGINT,
        PRIMARY KEY (week, group_name)
      );
      CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at);
      CREATE TABLE delivery_schedule (
        name TEXT PRIMARY KEY,
        last_tick_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
      );
    `,
  },
] as const;

/**
 * Deliveries in PostgreSQL, for several central instances sharing one
 * database. Claims use SELECT … FOR UPDATE SKIP LOCKED, so concurrent
 * claimers never wait on or take the same row; ticks are claimed with a
 * conditional upsert in the transaction that queues their deliveries.
 */
export class PgDeliveryStore extends DeliveryLeaseWrites implements DeliveryStore {
  constructor(private readonly pool: pg.Pool) {
    super();
  }

  async init(): Promise<void> {
    await runPgMigrations(this.pool, "deliveries", PG_DELIVERIES_MIGRATIONS);
  }

  async enqueue(key: DeliveryKey, o: EnqueueOptions): Promise<EnqueueOutcome> {
    return this.tx((c) => this.enqueueWith(c, key, o));
  }

  private async enqueueWith(c: pg.PoolClient, key: DeliveryKey, o: EnqueueOptions): Promise<EnqueueOutcome> {
    const inserted = await c.query(
      `INSERT INTO deliveries (week, group_name, state, queued_by, attempts, resends, created_at, updated_at,
         next_attempt_at, retry_until) VALUES ($1, $2, 'pending', $3, 0, 0, $4, $4, $4, $5)
       ON CONFLICT (week, group_name) DO NOTHING`,
      [key.week, key.group, o.trigger, o.now, o.retryUntil],
    );
    if (inserted.rowCount === 1) return "created";
    const existing = (
      await c.query<{ state: DeliveryState; next_attempt_at: string | number }>(
        "SELECT state, next_attempt_at FROM deliveries WHERE week = $1 AND group_name = $2 FOR UPDATE",
        [key.week, key.group],
      )
    ).rows[0];
    if (existing === undefined) return "unchanged";
    const plan = planEnqueue(existing, o);
    if (plan === "requeue") {
      await c.query(
        `UPDATE deliveries SET state = 'pending', queued_by = $1, attempts = 0, resends = resends + $2,
           updated_at = $3, next_attempt_at = $3, retry_until = $4, lease_owner = NULL, lease_until = NULL,
           last_error = NULL WHERE week = $5 AND group_name = $6`,
        [o.trigger, existing.state === "sent" ? 1 : 0, o.now, o.retryUntil, key.week, key.group],
      );
      return "requeued";
    }
    if (plan === "due-now") {
      await c.query(
        "UPDATE deliveries SET next_attempt_at = $1, updated_at = $1 WHERE week = $2 AND group_name = $3",
        [o.now, key.week, key.group],
      );
    }
    return "unchanged";
  }

  async claimNext(o: ClaimOptions): Promise<ClaimedDelivery | null> {
    return this.tx(async (c) => {
      const only = o.only?.map((k) => `${k.week}\n${k.group}`) ?? null;
      const pick = (
        await c.query<DeliveryRow>(
          `SELECT * FROM deliveries
            WHERE ((state = 'pending' AND next_attempt_at <= $1) OR (state = 'sending' AND lease_until <= $1))
              AND ($2::text[] IS NULL OR week || E'\\n' || group_name = ANY($2::text[]))
            ORDER BY next_attempt_at, week, group_name
            LIMIT 1 FOR UPDATE SKIP LOCKED`,
          [o.now, only],
        )
      ).rows[0];
      if (pick === undefined) return null;
      const updated = (
        await c.query<DeliveryRow>(
          `UPDATE deliveries SET state = 'sending', lease_owner = $1, lease_until = $2, attempts = attempts + 1,
             updated_at = $3 WHERE week = $4 AND group_name = $5 RETURNING *`,
          [o.owner, o.now + o.leaseMs, o.now, pick.week, pick.group_name],
        )
      ).rows[0]!;
      return {
        ...toDeliveryRecord(updated),
        reclaimed: pick.state === "sending",
        previousOwner: pick.state === "sending" ? pick.lease_owner : null,
      };
    });
  }

  /** A lease holder's write: true when it changed the row (the lease was still ours). */
  protected async run(s: Statement): Promise<boolean> {
    return (await this.pool.query(s.sql, s.values)).rowCount === 1;
  }

  async get(key: DeliveryKey): Promise<DeliveryRecord | null> {
    const r = await this.pool.query<DeliveryRow>(
      "SELECT * FROM deliveries WHERE week = $1 AND group_name = $2",
      [key.week, key.group],
    );
    return r.rows[0] === undefined ? null : toDeliveryRecord(r.rows[0]);
  }

  async list(
    filter: { week?: string; group?: string; state?: DeliveryState; limit?: number } = {},
  ): Promise<DeliveryRecord[]> {
    const r = await this.pool.query<DeliveryRow>(
      `SELECT * FROM deliveries
        WHERE ($1::text IS NULL OR week = $1) AND ($2::text IS NULL OR group_name = $2)
          AND ($3::text IS NULL OR state = $3)
        ORDER BY week DESC, group_name LIMIT $4`,
      [filter.week ?? null, filter.group ?? null, filter.state ?? null, filter.limit ?? 1000],
    );
    return r.rows.map(toDeliveryRecord);
  }

  async nextWakeUp(): Promise<number | null> {
    const r = await this.pool.query<{ t: string | number | null }>(
      `SELECT LEAST(
         (SELECT MIN(next_attempt_at) FROM deliveries WHERE state = 'pending'),
         (SELECT MIN(lease_until) FROM deliveries WHERE state = 'sending')) AS t`,
    );
    return numOrNull(r.rows[0]?.t ?? null);
  }

  async lastScheduledTick(name: string): Promise<number | null> {
    const r = await this.pool.query<{ last_tick_at: string | number }>(
      "SELECT last_tick_at FROM delivery_schedule WHERE name = $1",
      [name],
    );
    return r.rows[0] === undefined ? null : Number(r.rows[0].last_tick_at);
  }

  async claimScheduledTick(
    name: string,
    tick: number,
    now: number,
    queue?: { keys: readonly DeliveryKey[]; options: EnqueueOptions },
  ): Promise<boolean> {
    return this.tx(async (c) => {
      const r = await c.query(
        `INSERT INTO delivery_schedule (name, last_tick_at, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO UPDATE SET last_tick_at = excluded.last_tick_at, updated_at = excluded.updated_at
         WHERE delivery_schedule.last_tick_at < excluded.last_tick_at`,
        [name, tick, now],
      );
      if (r.rowCount !== 1) return false;
      for (const key of queue?.keys ?? []) await this.enqueueWith(c, key, queue!.options);
      return true;
    });
  }

  private tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    return inTransaction(this.pool, fn);
  }
}
