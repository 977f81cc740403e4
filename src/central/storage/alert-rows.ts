import type {
  AlertEpisode,
  AlertRuleName,
  AlertSeverity,
  AlertState,
  NotificationBatch,
} from "../alerts/types.js";
import type { AlertSilence, NotificationState, StoredNotification } from "./alert-store.js";

/**
 * The rows of the "alerts" component as both backends return them (same
 * table and column names; epoch-ms integers, which PgStore parses as
 * numbers) and their mapping to the port's types. SQLite: ./sqlite/alerts.ts,
 * PostgreSQL: ./postgres/alerts.ts.
 */
export const EPISODE_COLUMNS =
  "id, server, rule, mount, state, severity, summary, started_at, firing_at, resolved_at, clear_since, " +
  "last_notified_at, acknowledged_by, acknowledged_at, acknowledge_note, updated_at";

export interface EpisodeRow {
  id: number;
  server: string;
  rule: AlertRuleName;
  mount: string;
  state: AlertState;
  severity: AlertSeverity;
  summary: string;
  started_at: number;
  firing_at: number | null;
  resolved_at: number | null;
  clear_since: number | null;
  last_notified_at: number | null;
  acknowledged_by: string | null;
  acknowledged_at: number | null;
  acknowledge_note: string | null;
  updated_at: number;
}

export function toEpisode(r: EpisodeRow): AlertEpisode {
  return {
    id: r.id,
    server: r.server,
    rule: r.rule,
    mount: r.mount,
    state: r.state,
    severity: r.severity,
    summary: r.summary,
    startedAt: r.started_at,
    firingAt: r.firing_at,
    resolvedAt: r.resolved_at,
    clearSince: r.clear_since,
    lastNotifiedAt: r.last_notified_at,
    acknowledgedBy: r.acknowledged_by,
    acknowledgedAt: r.acknowledged_at,
    acknowledgeNote: r.acknowledge_note,
    updatedAt: r.updated_at,
  };
}

/** The columns an insert or update writes, in EPISODE_COLUMNS order without the id. */
export function episodeValues(e: Omit<AlertEpisode, "id">): (string | number | null)[] {
  return [
    e.server,
    e.rule,
    e.mount,
    e.state,
    e.severity,
    e.summary,
    e.startedAt,
    e.firingAt,
    e.resolvedAt,
    e.clearSince,
    e.lastNotifiedAt,
    e.acknowledgedBy,
    e.acknowledgedAt,
    e.acknowledgeNote,
    e.updatedAt,
  ];
}

export interface NotificationRow {
  id: number;
  channel: string;
  state: NotificationState;
  batch: string;
  attempts: number;
  created_at: number;
  next_attempt_at: number;
  retry_until: number;
  lease_owner: string | null;
  lease_until: number | null;
  response: string | null;
  last_error: string | null;
  sent_at: number | null;
}

export function toNotification(r: NotificationRow): StoredNotification {
  return {
    id: r.id,
    channel: r.channel,
    state: r.state,
    batch: JSON.parse(r.batch) as NotificationBatch,
    attempts: r.attempts,
    createdAt: r.created_at,
    nextAttemptAt: r.next_attempt_at,
    retryUntil: r.retry_until,
    leaseOwner: r.lease_owner,
    leaseUntil: r.lease_until,
    response: r.response,
    lastError: r.last_error,
    sentAt: r.sent_at,
  };
}

export interface SilenceRow {
  id: number;
  server_glob: string | null;
  rule: AlertRuleName | null;
  group_name: string | null;
  starts_at: number;
  ends_at: number;
  reason: string;
  created_by: string;
  created_at: number;
}

export function toSilence(r: SilenceRow): AlertSilence {
  return {
    id: r.id,
    server: r.server_glob,
    rule: r.rule,
    group: r.group_name,
    startsAt: r.starts_at,
    endsAt: r.ends_at,
    reason: r.reason,
    createdBy: r.created_by,
    createdAt: r.created_at,
  };
}

/** A silence must end after it starts (endSilence may later set the end to its start: over before it began). */
export function checkSilence(s: Omit<AlertSilence, "id">): void {
  if (!(Number.isFinite(s.startsAt) && Number.isFinite(s.endsAt) && s.endsAt > s.startsAt)) {
    throw new RangeError(`a silence must end after it starts (${s.startsAt} → ${s.endsAt})`);
  }
}

/** How many episodes and outbox rows a list returns when the caller names no limit. */
export const DEFAULT_LIST_LIMIT = 1000;

/** The episodes that are still open: at most one per (server, rule, mount). */
export const OPEN = "state IN ('pending', 'firing')";

/** The columns an outcome of a claimed notification sets, with their values. */
export type NotificationOutcome = Readonly<Record<string, string | number | null>>;

/**
 * The three outcomes of a claimed notification, the same on both stores,
 * which write them with `mark` (a guarded UPDATE in their own dialect).
 */
export abstract class NotificationOutcomes {
  async markNotificationSent(
    id: number,
    o: { owner: string; now: number; response: string },
  ): Promise<boolean> {
    return this.mark({ state: "sent", response: o.response, sent_at: o.now, last_error: null }, id, o.owner);
  }

  async markNotificationRetry(
    id: number,
    o: { owner: string; now: number; error: string; nextAttemptAt: number },
  ): Promise<boolean> {
    return this.mark(
      { state: "pending", last_error: o.error, next_attempt_at: o.nextAttemptAt },
      id,
      o.owner,
    );
  }

  async markNotificationFailed(
    id: number,
    o: { owner: string; now: number; error: string },
  ): Promise<boolean> {
    return this.mark({ state: "failed", last_error: o.error }, id, o.owner);
  }

  /**
   * Sets `outcome`'s columns and releases the lease while `owner` holds the
   * row: a holder past its lease that nobody took over still may (the
   * message did go, or did not).
   */
  protected abstract mark(outcome: NotificationOutcome, id: number, owner: string): Promise<boolean>;
}
