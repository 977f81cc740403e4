/**
 * What an alert is, shared by the rules (./rules.ts), the lifecycle
 * (./lifecycle.ts), the storage part (../storage/alert-store.ts) and the
 * channels (./channels/). An alert is one episode of one (server, rule,
 * mount): pending while its condition has not held long enough, firing,
 * then resolved. See docs/alerts.md.
 */
export type AlertSeverity = "warning" | "critical";

/** The rules, by stable name (labels in Alertmanager, keys in the config's `rules`). */
export const ALERT_RULES = [
  "server_silent",
  "disk_full_soon",
  "disk_nearly_full",
  "cpu_pressure",
  "memory_pressure",
  "memory_trend",
] as const;
export type AlertRuleName = (typeof ALERT_RULES)[number];

/** What an alert is about: one server, one rule, one mount ("" for rules not about a disk). */
export interface AlertKey {
  server: string;
  rule: AlertRuleName;
  mount: string;
}

/** A rule's verdict on one key at one evaluation: the condition holds now. */
export interface AlertCondition extends AlertKey {
  severity: AlertSeverity;
  /** One line a person reads: "/var full in about 9 hours (92 % now, +1.2 GB/h)". */
  summary: string;
}

export type AlertState = "pending" | "firing" | "resolved";

/** One episode of one key, as stored. */
export interface AlertEpisode extends AlertKey {
  /** Assigned by the store. */
  id: number;
  state: AlertState;
  severity: AlertSeverity;
  summary: string;
  /** When the condition was first seen (the episode began, pending). */
  startedAt: number;
  /** When it started firing; null while pending. */
  firingAt: number | null;
  /** When it resolved; null while open. */
  resolvedAt: number | null;
  /** Since when the condition has been absent (hysteresis before resolving); null while it holds. */
  clearSince: number | null;
  /** When a firing or reminder notification was last queued; null: none yet. */
  lastNotifiedAt: number | null;
  acknowledgedBy: string | null;
  acknowledgedAt: number | null;
  acknowledgeNote: string | null;
  updatedAt: number;
}

export type AlertNoticeKind = "firing" | "resolved" | "reminder" | "test";

/** One alert in a notification, as every channel formats it. */
export interface AlertNotice extends AlertKey {
  kind: AlertNoticeKind;
  severity: AlertSeverity;
  summary: string;
  /** When it started firing (epoch ms). */
  startsAt: number;
  /** When it resolved (epoch ms); null while firing. */
  endsAt: number | null;
  /** The server's dashboard page, absolute when SRVUTIL_PUBLIC_URL is set. */
  url: string;
}

/**
 * What one channel receives from one evaluation: the notices that started,
 * resolved or were reminded in it, grouped into one message. During a storm
 * (more notices than the storm threshold) `storm` summarises them and the
 * channel sends one message naming the count and the first few.
 */
export interface NotificationBatch {
  /** The configured channel's name. */
  channel: string;
  /** When the evaluation that made it ran (epoch ms). */
  createdAt: number;
  notices: AlertNotice[];
  storm: { total: number; firing: number; resolved: number } | null;
  /**
   * The outbox row's idempotency key (`srvutil-n<row id>`), set when the row
   * is sent: the same at every attempt, so a receiver can drop a repeat.
   * Absent for test notifications, which have no row.
   */
  id?: string;
}
