import type {
  AlertEpisode,
  AlertKey,
  AlertRuleName,
  AlertState,
  NotificationBatch,
} from "../alerts/types.js";

/**
 * Alerts between Mondays (src/central/alerts/, docs/alerts.md): the episodes
 * of each (server, rule, mount), the notifications waiting for their channel
 * (an outbox), silences, and the reads the rules evaluate. Shared by every
 * `central serve` instance. SQLite: ./sqlite/alerts.ts; PostgreSQL:
 * ./postgres/alerts.ts.
 *
 * Exactly one notification per state change, across instances and restarts:
 * an evaluation reads the open episodes with the alerts' version, decides,
 * and commits its changes and the notifications they cause in one
 * transaction, only if the version is still the one it read (optimistic
 * concurrency). Two instances that evaluate at once cannot both commit; the
 * loser's work is dropped and it evaluates again from what the winner wrote.
 * The outbox is then sent like the weekly deliveries: a row is claimed with a
 * lease, sent, and marked; a row whose holder died is claimed again.
 */
/** The open (pending or firing) episodes as of one version of the alerts. */
export interface OpenEpisodes {
  version: number;
  episodes: AlertEpisode[];
}

export interface AlertStore {
  /**
   * The episodes that are pending or firing, and the version they were read
   * at. `known`, when it is of the version stored now, is handed back without
   * reading the episodes again (the evaluator keeps what it committed).
   */
  readOpen(known?: OpenEpisodes | null): Promise<OpenEpisodes>;
  /**
   * Applies one evaluation if the version is still `expectedVersion`, in one
   * transaction: inserts (ids assigned), updates (by id), deletes (pending
   * episodes whose condition cleared before they fired) and the outbox rows.
   * False, and nothing written, when another evaluation committed first.
   */
  commitEvaluation(change: AlertEvaluationCommit): Promise<boolean>;
  /** Episodes newest first (by startedAt), for the alerts page, the CLI and the weekly email. */
  list(filter?: AlertListFilter): Promise<AlertEpisode[]>;
  /** Acknowledges an open episode; false when it is not open (resolved or unknown). */
  acknowledge(id: number, by: string, note: string | null, now: number): Promise<boolean>;

  /** Claims one due outbox row for `owner` (state → sending, lease set, attempts + 1), or null. */
  claimNotification(options: {
    owner: string;
    now: number;
    leaseMs: number;
  }): Promise<ClaimedNotification | null>;
  /** The following apply only while `owner` still holds the row's lease; false when it lost it. */
  markNotificationSent(
    id: number,
    outcome: { owner: string; now: number; response: string },
  ): Promise<boolean>;
  markNotificationRetry(
    id: number,
    outcome: { owner: string; now: number; error: string; nextAttemptAt: number },
  ): Promise<boolean>;
  markNotificationFailed(
    id: number,
    outcome: { owner: string; now: number; error: string },
  ): Promise<boolean>;
  /** Outbox rows newest first. */
  listNotifications(filter?: {
    state?: NotificationState;
    channel?: string;
    limit?: number;
  }): Promise<StoredNotification[]>;

  addSilence(silence: Omit<AlertSilence, "id">): Promise<AlertSilence>;
  /** Silences newest first; with `activeAt`, only those in force then. */
  listSilences(filter?: { activeAt?: number }): Promise<AlertSilence[]>;
  /** Ends a silence now (kept for history); false when unknown or already over. */
  endSilence(id: number, now: number): Promise<boolean>;

  /**
   * Deletes the history retention no longer keeps (the hourly retention
   * job): resolved episodes whose resolvedAt is before `episodesBefore`,
   * sent and failed outbox rows created before `notificationsBefore`, and
   * silences that ended before `silencesBefore`. Open episodes, rows still
   * to send and silences in force are never touched. The counts removed.
   */
  prune(cutoffs: AlertPruneCutoffs): Promise<AlertPruneResult>;

  /** The last sample time of every server (server_stats), by server. */
  lastSeen(): Promise<Map<string, number>>;
  /**
   * Per server, over its own last `spanMs` of raw samples (ts ≥ its last
   * sample − spanMs, so an agent that uploads every 20 minutes is judged on
   * what it sent, not on a gap it has not filled yet): how many sample
   * times, the first and last, and the lowest CPU and memory percent (a
   * sustained pressure is one whose lowest value is above the threshold).
   * Servers without raw samples there are absent. With `servers`, only those
   * (the evaluator reads the fleet in slices, so the event loop stays free).
   */
  recentWindow(spanMs: number, servers?: readonly string[]): Promise<Map<string, AlertWindow>>;
  /**
   * Per server, the hourly rollups in [from, to): memory average and each
   * mount's last figures. With `servers`, only those (the ones whose data
   * moved since the evaluator last read their settled hours).
   */
  hours(from: number, to: number, servers?: readonly string[]): Promise<Map<string, AlertHour[]>>;
}

export interface AlertEvaluationCommit {
  expectedVersion: number;
  now: number;
  inserts: Omit<AlertEpisode, "id">[];
  updates: AlertEpisode[];
  deletes: number[];
  notifications: NotificationBatch[];
  /** Retries of these notifications stop at this instant (epoch ms); the row is then failed. */
  retryUntil: number;
}

export interface AlertPruneCutoffs {
  episodesBefore: number;
  notificationsBefore: number;
  silencesBefore: number;
}

export interface AlertPruneResult {
  episodes: number;
  notifications: number;
  silences: number;
}

export interface AlertListFilter {
  state?: AlertState;
  server?: string;
  rule?: AlertRuleName;
  /** Episodes open at some point in [from, to): startedAt < to and (resolvedAt null or ≥ from). */
  from?: number;
  to?: number;
  /** Only episodes that fired (firingAt not null). */
  firedOnly?: boolean;
  limit?: number;
}

export type NotificationState = "pending" | "sending" | "sent" | "failed";

export interface StoredNotification {
  id: number;
  channel: string;
  state: NotificationState;
  batch: NotificationBatch;
  attempts: number;
  createdAt: number;
  nextAttemptAt: number;
  retryUntil: number;
  leaseOwner: string | null;
  leaseUntil: number | null;
  /** What the channel answered (status line and a clipped body). */
  response: string | null;
  lastError: string | null;
  sentAt: number | null;
}

export interface ClaimedNotification extends StoredNotification {
  /** True when taken over from a holder whose lease expired. */
  reclaimed: boolean;
}

/** Matches alerts of every server, rule and group it names (null: any). */
export interface AlertSilence {
  id: number;
  /** Server name glob (`db-*`), or null. */
  server: string | null;
  rule: AlertRuleName | null;
  /** A report group's name (SRVUTIL_GROUPS_FILE), or null. */
  group: string | null;
  startsAt: number;
  endsAt: number;
  reason: string;
  createdBy: string;
  createdAt: number;
}

export interface AlertWindow {
  samples: number;
  firstTs: number;
  lastTs: number;
  cpuMin: number;
  memMin: number;
}

export interface AlertHour {
  /** Start of the UTC hour, epoch ms. */
  hour: number;
  lastTs: number;
  memAvg: number;
  /** The hour's highest CPU figure (max of cpu_percent and cpu_peak_percent): no sample of it was higher. */
  cpuPeak: number;
  /** The hour's highest memory percent. */
  memMax: number;
  /** Last figures of each mount in the hour, sorted by mount. */
  disks: { mount: string; usedBytes: number; freeBytes: number; totalBytes: number }[];
}

export type { AlertKey };
