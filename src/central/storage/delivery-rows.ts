import type {
  AttemptOutcomeBase,
  DeliveryKey,
  DeliveryRecord,
  DeliveryState,
  DeliveryTrigger,
  EnqueueOptions,
} from "./delivery-store.js";

/**
 * A row of the deliveries table as both backends return it (PostgreSQL's
 * BIGINTs may come as strings), its mapping to the port's record, and what
 * an enqueue does to an existing row. SQLite: ./sqlite/deliveries.ts,
 * PostgreSQL: ./postgres/deliveries.ts.
 */
export interface DeliveryRow {
  week: string;
  group_name: string;
  state: DeliveryState;
  queued_by: DeliveryTrigger;
  attempts: number;
  resends: number;
  created_at: string | number;
  updated_at: string | number;
  next_attempt_at: string | number;
  retry_until: string | number;
  lease_owner: string | null;
  lease_until: string | number | null;
  message_id: string | null;
  recipients: string | null;
  smtp_response: string | null;
  rejected: string | null;
  last_error: string | null;
  sent_at: string | number | null;
}

export const numOrNull = (v: string | number | null): number | null => (v === null ? null : Number(v));

export function toDeliveryRecord(r: DeliveryRow): DeliveryRecord {
  return {
    week: r.week,
    group: r.group_name,
    state: r.state,
    trigger: r.queued_by,
    attempts: r.attempts,
    resends: r.resends,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
    nextAttemptAt: Number(r.next_attempt_at),
    retryUntil: Number(r.retry_until),
    leaseOwner: r.lease_owner,
    leaseUntil: numOrNull(r.lease_until),
    messageId: r.message_id,
    recipients: r.recipients,
    smtpResponse: r.smtp_response,
    rejected: r.rejected === null ? [] : (JSON.parse(r.rejected) as string[]),
    lastError: r.last_error,
    sentAt: numOrNull(r.sent_at),
  };
}

/**
 * What an enqueue does to a delivery that already exists: "requeue" it as
 * pending (a resend of a sent one counts in `resends`), make a pending one
 * "due-now", or leave it "unchanged". A failed delivery was never
 * delivered, so any manual send may retry it; a sent one goes out again
 * only on an explicit resend.
 */
export function planEnqueue(
  existing: { state: DeliveryState; next_attempt_at: string | number },
  o: EnqueueOptions,
): "requeue" | "due-now" | "unchanged" {
  if (
    (existing.state === "failed" && (o.resend === true || o.retryFailed === true)) ||
    (existing.state === "sent" && o.resend === true)
  ) {
    return "requeue";
  }
  if (o.dueNow === true && existing.state === "pending" && Number(existing.next_attempt_at) > o.now)
    return "due-now";
  return "unchanged";
}

/** A statement in PostgreSQL's `$N` form, each parameter once and in order (SQLite: fromPg), with its values. */
export interface Statement {
  sql: string;
  values: (string | number | null)[];
}

/** The guard of every write by a lease holder, from `$n`: it applies only while the owner still holds the row. */
const held = (n: number) =>
  `WHERE week = $${n} AND group_name = $${n + 1} AND state = 'sending' AND lease_owner = $${n + 2}`;

export function renewLeaseUpdate(key: DeliveryKey, owner: string, until: number): Statement {
  return {
    sql: `UPDATE deliveries SET lease_until = $1 ${held(2)}`,
    values: [until, key.week, key.group, owner],
  };
}

export function sentUpdate(
  key: DeliveryKey,
  o: AttemptOutcomeBase & { messageId: string; response: string; rejected: string[]; recipients: string },
): Statement {
  return {
    sql: `UPDATE deliveries SET state = 'sent', message_id = $1, smtp_response = $2, rejected = $3, recipients = $4,
      sent_at = $5, updated_at = $6, last_error = NULL, lease_owner = NULL, lease_until = NULL ${held(7)}`,
    values: [
      o.messageId,
      o.response,
      JSON.stringify(o.rejected),
      o.recipients,
      o.now,
      o.now,
      key.week,
      key.group,
      o.owner,
    ],
  };
}

export function retryUpdate(
  key: DeliveryKey,
  o: AttemptOutcomeBase & { error: string; nextAttemptAt: number; recipients: string | null },
): Statement {
  return {
    sql: `UPDATE deliveries SET state = 'pending', last_error = $1, next_attempt_at = $2, updated_at = $3,
      recipients = COALESCE($4, recipients), lease_owner = NULL, lease_until = NULL ${held(5)}`,
    values: [o.error, o.nextAttemptAt, o.now, o.recipients, key.week, key.group, o.owner],
  };
}

export function failedUpdate(
  key: DeliveryKey,
  o: AttemptOutcomeBase & { error: string; recipients: string | null },
): Statement {
  return {
    sql: `UPDATE deliveries SET state = 'failed', last_error = $1, updated_at = $2,
      recipients = COALESCE($3, recipients), lease_owner = NULL, lease_until = NULL ${held(4)}`,
    values: [o.error, o.now, o.recipients, key.week, key.group, o.owner],
  };
}

/**
 * A lease holder's writes, the same on both stores: each backend's `run`
 * executes the statement and says whether it changed the row (the lease was
 * still the owner's).
 */
export abstract class DeliveryLeaseWrites {
  async renewLease(key: DeliveryKey, owner: string, until: number): Promise<boolean> {
    return this.run(renewLeaseUpdate(key, owner, until));
  }

  async markSent(
    key: DeliveryKey,
    o: AttemptOutcomeBase & { messageId: string; response: string; rejected: string[]; recipients: string },
  ): Promise<boolean> {
    return this.run(sentUpdate(key, o));
  }

  async markRetry(
    key: DeliveryKey,
    o: AttemptOutcomeBase & { error: string; nextAttemptAt: number; recipients: string | null },
  ): Promise<boolean> {
    return this.run(retryUpdate(key, o));
  }

  async markFailed(
    key: DeliveryKey,
    o: AttemptOutcomeBase & { error: string; recipients: string | null },
  ): Promise<boolean> {
    return this.run(failedUpdate(key, o));
  }

  protected abstract run(s: Statement): Promise<boolean>;
}
