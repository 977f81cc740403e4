import type Database from "better-sqlite3";
import type { AlertEpisode } from "../../alerts/types.js";
import {
  checkSilence,
  DEFAULT_LIST_LIMIT,
  EPISODE_COLUMNS,
  type EpisodeRow,
  episodeValues,
  type NotificationOutcome,
  NotificationOutcomes,
  type NotificationRow,
  OPEN,
  type SilenceRow,
  toEpisode,
  toNotification,
  toSilence,
} from "../alert-rows.js";
import type {
  AlertEvaluationCommit,
  AlertHour,
  AlertListFilter,
  AlertPruneCutoffs,
  AlertPruneResult,
  AlertSilence,
  AlertStore,
  AlertWindow,
  ClaimedNotification,
  NotificationState,
  OpenEpisodes,
  StoredNotification,
} from "../alert-store.js";
import { readAlertHours, readRecentWindow } from "./alert-reads.js";
import { type Migration, runMigrations } from "./migrate.js";
import { prepared } from "./prepared.js";

/**
 * The "alerts" migration component. alert_episodes: one row per episode of a
 * (server, rule, mount); the partial unique index keeps at most one open
 * (pending or firing) episode per key, whatever the evaluator does.
 * alert_state: the one version row that evaluations commit against.
 * alert_notifications: the outbox (batch as JSON). alert_silences. Column
 * names are those of PostgreSQL's (../postgres/alerts.ts).
 */
export const ALERT_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "alert episodes, version, notification outbox, silences",
    sql: `
      CREATE TABLE alert_episodes (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        server TEXT NOT NULL, rule TEXT NOT NULL, mount TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending', 'firing', 'resolved')),
        severity TEXT NOT NULL CHECK (severity IN ('warning', 'critical')),
        summary TEXT NOT NULL,
        started_at INTEGER NOT NULL, firing_at INTEGER, resolved_at INTEGER, clear_since INTEGER,
        last_notified_at INTEGER, acknowledged_by TEXT, acknowledged_at INTEGER, acknowledge_note TEXT,
        updated_at INTEGER NOT NULL,
        CHECK ((state = 'resolved') = (resolved_at IS NOT NULL))
      );
      CREATE UNIQUE INDEX alert_episodes_open ON alert_episodes (server, rule, mount)
        WHERE state IN ('pending', 'firing');
      CREATE INDEX alert_episodes_started ON alert_episodes (started_at);
      CREATE INDEX alert_episodes_server ON alert_episodes (server, started_at);

      CREATE TABLE alert_state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        version INTEGER NOT NULL
      );
      INSERT INTO alert_state (id, version) VALUES (1, 0);

      CREATE TABLE alert_notifications (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        channel TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'failed')),
        batch TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        next_attempt_at INTEGER NOT NULL,
        retry_until INTEGER NOT NULL,
        lease_owner TEXT, lease_until INTEGER,
        response TEXT, last_error TEXT, sent_at INTEGER
      );
      CREATE INDEX alert_notifications_due ON alert_notifications (state, next_attempt_at);

      CREATE TABLE alert_silences (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        server_glob TEXT, rule TEXT, group_name TEXT,
        starts_at INTEGER NOT NULL, ends_at INTEGER NOT NULL,
        reason TEXT NOT NULL, created_by TEXT NOT NULL, created_at INTEGER NOT NULL,
        CHECK (ends_at >= starts_at)
      );
      CREATE INDEX alert_silences_ends ON alert_silences (ends_at);
    `,
  },
];

const EPISODE_PLACEHOLDERS = EPISODE_COLUMNS.split(",")
  .slice(1)
  .map(() => "?")
  .join(", ");
const EPISODE_ASSIGNMENTS = EPISODE_COLUMNS.split(",")
  .slice(1)
  .map((c) => `${c.trim()} = ?`)
  .join(", ");

/**
 * Alerts on SQLite (the same file and handle as the metrics). Writes run in
 * BEGIN IMMEDIATE transactions: SQLite holds the single write lock from the
 * version check to the commit, and from a claim's SELECT to its UPDATE, so
 * two processes on one file can neither both commit an evaluation from the
 * same version nor claim the same outbox row.
 */
export class SqliteAlertStore extends NotificationOutcomes implements AlertStore {
  constructor(private readonly db: Database.Database) {
    super();
  }

  async init(): Promise<void> {
    this.db.transaction(() => runMigrations(this.db, "alerts", ALERT_MIGRATIONS)).immediate();
  }

  private sql(text: string): Database.Statement {
    return prepared(this.db, text);
  }

  async readOpen(known: OpenEpisodes | null = null): Promise<OpenEpisodes> {
    // One read transaction: the version and the episodes are of the same commit.
    return this.db.transaction(() => {
      const version = this.version();
      if (known?.version === version) return known;
      return {
        version,
        // No ORDER BY: with one, SQLite scans the whole history instead of the
        // partial index of the open episodes; sorted here (a few rows).
        episodes: (
          this.sql(`SELECT ${EPISODE_COLUMNS} FROM alert_episodes WHERE ${OPEN}`).all() as EpisodeRow[]
        )
          .map(toEpisode)
          .sort((a, b) => a.id - b.id),
      };
    })();
  }

  private version(): number {
    return this.sql("SELECT version FROM alert_state WHERE id = 1").pluck().get() as number;
  }

  private bumpVersion(expected: number | null): boolean {
    const r =
      expected === null
        ? this.sql("UPDATE alert_state SET version = version + 1 WHERE id = 1").run()
        : this.sql("UPDATE alert_state SET version = version + 1 WHERE id = 1 AND version = ?").run(expected);
    return r.changes === 1;
  }

  async commitEvaluation(change: AlertEvaluationCommit): Promise<boolean> {
    return this.db
      .transaction((): boolean => {
        if (!this.bumpVersion(change.expectedVersion)) return false;
        // Deletes and updates first: an update that resolves an episode frees
        // its key for an insert of the same evaluation (the partial unique index).
        for (const id of change.deletes) {
          const r = this.sql(`DELETE FROM alert_episodes WHERE id = ? AND state = 'pending'`).run(id);
          if (r.changes !== 1) throw new Error(`alerts: episode ${id} to delete is not a pending episode`);
        }
        for (const e of change.updates) {
          const r = this.sql(`UPDATE alert_episodes SET ${EPISODE_ASSIGNMENTS} WHERE id = ?`).run(
            ...episodeValues(e),
            e.id,
          );
          if (r.changes !== 1) throw new Error(`alerts: episode ${e.id} to update does not exist`);
        }
        const insert = this.sql(
          `INSERT INTO alert_episodes (${EPISODE_COLUMNS.replace("id, ", "")}) VALUES (${EPISODE_PLACEHOLDERS})`,
        );
        for (const e of change.inserts) insert.run(...episodeValues(e));
        const outbox = this.sql(
          `INSERT INTO alert_notifications (channel, state, batch, attempts, created_at, next_attempt_at, retry_until)
           VALUES (?, 'pending', ?, 0, ?, ?, ?)`,
        );
        for (const b of change.notifications) {
          outbox.run(b.channel, JSON.stringify(b), change.now, change.now, change.retryUntil);
        }
        return true;
      })
      .immediate();
  }

  async list(filter: AlertListFilter = {}): Promise<AlertEpisode[]> {
    const rows = this.sql(
      `SELECT ${EPISODE_COLUMNS} FROM alert_episodes
        WHERE (@state IS NULL OR state = @state) AND (@server IS NULL OR server = @server)
          AND (@rule IS NULL OR rule = @rule) AND (@to IS NULL OR started_at < @to)
          AND (@from IS NULL OR resolved_at IS NULL OR resolved_at >= @from)
          AND (@firedOnly = 0 OR firing_at IS NOT NULL)
        ORDER BY started_at DESC, id DESC LIMIT @limit`,
    ).all({
      state: filter.state ?? null,
      server: filter.server ?? null,
      rule: filter.rule ?? null,
      from: filter.from ?? null,
      to: filter.to ?? null,
      firedOnly: filter.firedOnly === true ? 1 : 0,
      limit: filter.limit ?? DEFAULT_LIST_LIMIT,
    }) as EpisodeRow[];
    return rows.map(toEpisode);
  }

  async acknowledge(id: number, by: string, note: string | null, now: number): Promise<boolean> {
    return this.db
      .transaction((): boolean => {
        const r = this.sql(
          `UPDATE alert_episodes SET acknowledged_by = ?, acknowledged_at = ?, acknowledge_note = ?, updated_at = ?
            WHERE id = ? AND ${OPEN}`,
        ).run(by, now, note, now, id);
        if (r.changes !== 1) return false;
        // An evaluation that read the episode before this would write it back
        // without the acknowledgement: the new version makes it evaluate again.
        this.bumpVersion(null);
        return true;
      })
      .immediate();
  }

  async claimNotification(o: {
    owner: string;
    now: number;
    leaseMs: number;
  }): Promise<ClaimedNotification | null> {
    return this.db
      .transaction((): ClaimedNotification | null => {
        const pick = this.sql(
          `SELECT id, state FROM alert_notifications
            WHERE (state = 'pending' AND next_attempt_at <= @now) OR (state = 'sending' AND lease_until <= @now)
            ORDER BY next_attempt_at, id LIMIT 1`,
        ).get({ now: o.now }) as { id: number; state: NotificationState } | undefined;
        if (pick === undefined) return null;
        const row = this.sql(
          `UPDATE alert_notifications SET state = 'sending', lease_owner = ?, lease_until = ?, attempts = attempts + 1
            WHERE id = ? RETURNING *`,
        ).get(o.owner, o.now + o.leaseMs, pick.id) as NotificationRow;
        return { ...toNotification(row), reclaimed: pick.state === "sending" };
      })
      .immediate();
  }

  protected async mark(outcome: NotificationOutcome, id: number, owner: string): Promise<boolean> {
    const set = Object.keys(outcome).map((c) => `${c} = ?`);
    const r = this.sql(
      `UPDATE alert_notifications SET ${set.join(", ")}, lease_owner = NULL, lease_until = NULL
        WHERE id = ? AND state = 'sending' AND lease_owner = ?`,
    ).run(...Object.values(outcome), id, owner);
    return r.changes === 1;
  }

  async listNotifications(
    filter: { state?: NotificationState; channel?: string; limit?: number } = {},
  ): Promise<StoredNotification[]> {
    const rows = this.sql(
      `SELECT * FROM alert_notifications
        WHERE (@state IS NULL OR state = @state) AND (@channel IS NULL OR channel = @channel)
        ORDER BY id DESC LIMIT @limit`,
    ).all({
      state: filter.state ?? null,
      channel: filter.channel ?? null,
      limit: filter.limit ?? DEFAULT_LIST_LIMIT,
    }) as NotificationRow[];
    return rows.map(toNotification);
  }

  async addSilence(s: Omit<AlertSilence, "id">): Promise<AlertSilence> {
    checkSilence(s);
    const row = this.sql(
      `INSERT INTO alert_silences (server_glob, rule, group_name, starts_at, ends_at, reason, created_by, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
    ).get(s.server, s.rule, s.group, s.startsAt, s.endsAt, s.reason, s.createdBy, s.createdAt) as SilenceRow;
    return toSilence(row);
  }

  async listSilences(filter: { activeAt?: number } = {}): Promise<AlertSilence[]> {
    const rows = (
      filter.activeAt === undefined
        ? this.sql("SELECT * FROM alert_silences ORDER BY created_at DESC, id DESC").all()
        : this.sql(
            `SELECT * FROM alert_silences WHERE ends_at > ? AND starts_at <= ?
              ORDER BY created_at DESC, id DESC`,
          ).all(filter.activeAt, filter.activeAt)
    ) as SilenceRow[];
    return rows.map(toSilence);
  }

  async endSilence(id: number, now: number): Promise<boolean> {
    // One that has not begun ends at its start: over, never in force.
    const r = this.sql(
      "UPDATE alert_silences SET ends_at = MAX(starts_at, ?) WHERE id = ? AND ends_at > ?",
    ).run(now, id, now);
    return r.changes === 1;
  }

  async prune(c: AlertPruneCutoffs): Promise<AlertPruneResult> {
    return this.db
      .transaction(() => ({
        episodes: this.sql("DELETE FROM alert_episodes WHERE state = 'resolved' AND resolved_at < ?").run(
          c.episodesBefore,
        ).changes,
        notifications: this.sql(
          "DELETE FROM alert_notifications WHERE state IN ('sent', 'failed') AND created_at < ?",
        ).run(c.notificationsBefore).changes,
        silences: this.sql("DELETE FROM alert_silences WHERE ends_at < ?").run(c.silencesBefore).changes,
      }))
      .immediate();
  }

  async lastSeen(): Promise<Map<string, number>> {
    const rows = this.sql("SELECT server, last_seen FROM server_stats").raw().all() as [string, number][];
    return new Map(rows);
  }

  async recentWindow(spanMs: number, servers?: readonly string[]): Promise<Map<string, AlertWindow>> {
    return readRecentWindow(this.db, spanMs, servers);
  }

  async hours(from: number, to: number, servers?: readonly string[]): Promise<Map<string, AlertHour[]>> {
    return readAlertHours(this.db, from, to, servers);
  }
}
