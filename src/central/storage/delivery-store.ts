/**
 * Where deliveries are recorded. One row per (week, group), in the same
 * database as the metrics: src/central/storage/sqlite/deliveries.ts (claims in
 * BEGIN IMMEDIATE transactions) and src/central/storage/postgres/deliveries.ts
 * (claims with SELECT … FOR UPDATE SKIP LOCKED). Each Storage carries the
 * one matching its backend as `storage.deliveries`.
 *
 * States:
 *   pending  — waiting for its next attempt (next_attempt_at)
 *   sending  — claimed by one process (lease_owner) until lease_until; a
 *              sending row whose lease expired belongs to a process that
 *              died mid-attempt and may be claimed again
 *   sent     — the transport accepted it (smtp_response, message_id)
 *   failed   — permanent error, or retries exhausted (last_error)
 */
export type DeliveryState = "pending" | "sending" | "sent" | "failed";

export type DeliveryTrigger = "schedule" | "catch-up" | "manual" | "resend";

export interface DeliveryKey {
  week: string;
  group: string;
}

export interface DeliveryRecord extends DeliveryKey {
  state: DeliveryState;
  trigger: DeliveryTrigger;
  attempts: number;
  /** Times a sent delivery was sent again by hand (`--resend`). */
  resends: number;
  createdAt: number;
  updatedAt: number;
  nextAttemptAt: number;
  /** Retries stop after this instant (epoch ms); the delivery is then failed. */
  retryUntil: number;
  leaseOwner: string | null;
  leaseUntil: number | null;
  messageId: string | null;
  /** JSON of the recipients of the last attempt. */
  recipients: string | null;
  smtpResponse: string | null;
  /** Recipients refused while the others were accepted. */
  rejected: string[];
  lastError: string | null;
  sentAt: number | null;
}

export interface EnqueueOptions {
  now: number;
  trigger: DeliveryTrigger;
  retryUntil: number;
  /** Put a sent or failed delivery back to pending (attempts reset; `resends` + 1 if it was sent). */
  resend?: boolean;
  /** Put a failed delivery back to pending (a manual send: it was never delivered). */
  retryFailed?: boolean;
  /** Make an existing pending delivery due now (a manual `report send`). */
  dueNow?: boolean;
}

/** What enqueue did: created a new row, re-queued a finished one, or left it as it was. */
export type EnqueueOutcome = "created" | "requeued" | "unchanged";

export interface ClaimOptions {
  owner: string;
  now: number;
  leaseMs: number;
  /** Only these deliveries (a manual send); default any due delivery. */
  only?: readonly DeliveryKey[];
}

export interface ClaimedDelivery extends DeliveryRecord {
  /** True when the row was taken over from a holder whose lease expired (it died mid-attempt). */
  reclaimed: boolean;
  /** The holder whose lease expired, when `reclaimed`. */
  previousOwner: string | null;
}

export interface AttemptOutcomeBase {
  owner: string;
  now: number;
}

export interface DeliveryStore {
  /** Creates or upgrades the deliveries tables. Idempotent. */
  init(): Promise<void>;

  enqueue(key: DeliveryKey, options: EnqueueOptions): Promise<EnqueueOutcome>;

  /**
   * Atomically claims one due delivery for `owner` (state → sending, lease set,
   * attempts + 1). Two processes never claim the same row while its lease
   * runs. Resolves to null when nothing is due.
   */
  claimNext(options: ClaimOptions): Promise<ClaimedDelivery | null>;

  /** Extends `owner`'s lease to `until`; false when it no longer holds it. */
  renewLease(key: DeliveryKey, owner: string, until: number): Promise<boolean>;

  /** The following only apply while `owner` still holds the lease; false when it lost it. */
  markSent(
    key: DeliveryKey,
    outcome: AttemptOutcomeBase & {
      messageId: string;
      response: string;
      rejected: string[];
      recipients: string;
    },
  ): Promise<boolean>;
  markRetry(
    key: DeliveryKey,
    outcome: AttemptOutcomeBase & { error: string; nextAttemptAt: number; recipients: string | null },
  ): Promise<boolean>;
  markFailed(
    key: DeliveryKey,
    outcome: AttemptOutcomeBase & { error: string; recipients: string | null },
  ): Promise<boolean>;

  get(key: DeliveryKey): Promise<DeliveryRecord | null>;
  /** Newest week first, then group. */
  list(filter?: {
    week?: string;
    group?: string;
    state?: DeliveryState;
    limit?: number;
  }): Promise<DeliveryRecord[]>;
  /** Earliest next_attempt_at among pending rows, or the earliest lease end among sending rows. */
  nextWakeUp(): Promise<number | null>;

  /** Last schedule tick handled for `name` (epoch ms), or null if never. */
  lastScheduledTick(name: string): Promise<number | null>;
  /**
   * Records `tick` as handled if it is later than the stored one; true for
   * exactly one caller per tick, so two processes never both run it. With
   * `queue`, the tick's deliveries are queued in the same transaction, so a
   * crash can never leave a tick recorded whose deliveries were not.
   */
  claimScheduledTick(
    name: string,
    tick: number,
    now: number,
    queue?: { keys: readonly DeliveryKey[]; options: EnqueueOptions },
  ): Promise<boolean>;
}
