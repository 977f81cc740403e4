import type { DeliveryRecord, DeliveryState, DeliveryTrigger, EnqueueOptions } from "./delivery-store.js";

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
