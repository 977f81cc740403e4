import type pg from "pg";
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
import { type Migration, runPgMigrations } from "./migrate.js";
import { inTransaction } from "./transaction.js";

/**
 * The "alerts" migrations for PostgreSQL: the tables, columns and indexes of
 * SQLite's (../sqlite/alerts.ts, which says what each holds), epoch-ms
 * BIGINTs, the batch as JSON in TEXT (as the deliveries keep theirs).
 */
const PG_ALERT_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "alert episodes, version, notification outbox, silences",
    sql: `
      CREATE TABLE alert_episodes (
        id BIGSERIAL PRIMARY KEY,
        server TEXT NOT NULL, rule TEXT NOT NULL, mount TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending', 'firing', 'resolved')),
        severity TEXT NOT NULL CHECK (severity IN ('warning', 'critical')),
        summary TEXT NOT NULL,
        started_at BIGINT NOT NULL, firing_at BIGINT, resolved_at BIGINT, clear_since BIGINT,
        last_notified_at BIGINT, acknowledged_by TEXT, acknowledged_at BIGINT, acknowledge_note TEXT,
        updated_at BIGINT NOT NULL,
        CHECK ((state = 'resolved') = (resolved_at IS NOT NULL))
      );
      CREATE UNIQUE INDEX alert_episodes_open ON alert_episodes (server, rule, mount)
        WHERE state IN ('pending', 'firing');
      CREATE INDEX alert_episodes_started ON alert_episodes (started_at);
      CREATE INDEX alert_episodes_server ON alert_episodes (server, started_at);

      CREATE TABLE alert_state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        version BIGINT NOT NULL
      );
      INSERT INTO alert_state (id, version) VALUES (1, 0);

      CREATE TABLE alert_notifications (
        id BIGSERIAL PRIMARY KEY,
        channel TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'failed')),
        batch TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        created_at BIGINT NOT NULL,
        next_attempt_at BIGINT NOT NULL,
        retry_until BIGINT NOT NULL,
        lease_owner TEXT, lease_until BIGINT,
        response TEXT, last_error TEXT, sent_at BIGINT
      );
      CREATE INDEX alert_notifications_due ON alert_notifications (state, next_attempt_at);

      CREATE TABLE alert_silences (
        id BIGSERIAL PRIMARY KEY,
        server_glob TEXT, rule TEXT, group_name TEXT,
        starts_at BIGINT NOT NULL, ends_at BIGINT NOT NULL,
        reason TEXT NOT NULL, created_by TEXT NOT NULL, created_at BIGINT NOT NULL,
        CHECK (ends_at >= starts_at)
      );
      CREATE INDEX alert_silences_ends ON alert_silences (ends_at);
    `,
  },
];

const WRITTEN_COLUMNS = EPISODE_COLUMNS.split(",")
  .slice(1)
  .map((c) => c.trim());
/** The SQL types of WRITTEN_COLUMNS, for the arrays a commit sends. */
const WRITTEN_TYPES = "text text text text text text int8 int8 int8 int8 int8 text int8 text int8".split(" ");
const ARRAYS = (first: number) => WRITTEN_TYPES.map((t, i) => `$${i + first}::${t}[]`).join(", ");
// One statement each for the inserts and the updates, whatever their number
// (a storm of 10,000 silent servers): the version row stays locked meanwhile.
const INSERT_EPISODES = `INSERT INTO alert_episodes (${WRITTEN_COLUMNS.join(", ")})
  SELECT ${WRITTEN_COLUMNS.join(", ")} FROM unnest(${ARRAYS(1)}) WITH ORDINALITY
    AS u(${WRITTEN_COLUMNS.join(", ")}, ord)
  ORDER BY ord`;
const UPDATE_EPISODES = `UPDATE alert_episodes e SET ${WRITTEN_COLUMNS.map((c) => `${c} = u.${c}`).join(", ")}
  FROM unnest($1::int8[], ${ARRAYS(2)}) AS u(id, ${WRITTEN_COLUMNS.join(", ")})
  WHERE e.id = u.id`;

/** Column arrays of the episodes, in WRITTEN_COLUMNS order. */
function columnArrays(episodes: readonly Omit<AlertEpisode, "id">[]): (string | number | null)[][] {
  const rows = episodes.map(episodeValues);
  return WRITTEN_COLUMNS.map((_, i) => rows.map((r) => r[i]!));
}

/**
 * Alerts on PostgreSQL, shared by every instance. An evaluation commits by
 * bumping the one version row only if it still holds the version read: a
 * concurrent commit from the same version waits on that row's lock and then,
 * under READ COMMITTED, re-checks the condition against the new version and
 * updates nothing, so exactly one of them commits. Outbox claims use
 * SELECT … FOR UPDATE SKIP LOCKED, as the deliveries do.
 */
export class PgAlertStore extends NotificationOutcomes implements AlertStore {
  constructor(private readonly pool: pg.Pool) {
    super();
  }

  async init(): Promise<void> {
    await runPgMigrations(this.pool, "alerts", PG_ALERT_MIGRATIONS);
  }

  async readOpen(known: OpenEpisodes | null = null): Promise<OpenEpisodes> {
    // The version first, then the episodes: a commit between the two makes
    // the episodes newer than the version, and the evaluation's commit then
    // fails and reads again. The other order could pair old episodes with a
    // new version and commit decisions made on them.
    const version = (
      await this.pool.query<{ version: number }>("SELECT version FROM alert_state WHERE id = 1")
    ).rows[0]!.version;
    if (known?.version === version) return known;
    const rows = await this.pool.query<EpisodeRow>(
      `SELECT ${EPISODE_COLUMNS} FROM alert_episodes WHERE ${OPEN} ORDER BY id`,
    );
    return { version, episodes: rows.rows.map(toEpisode) };
  }

  async commitEvaluation(change: AlertEvaluationCommit): Promise<boolean> {
    return inTransaction(this.pool, async (c) => {
      const bumped = await c.query(
        "UPDATE alert_state SET version = version + 1 WHERE id = 1 AND version = $1",
        [change.expectedVersion],
      );
      if (bumped.rowCount !== 1) return false;
      // Deletes and updates first: an update that resolves an episode frees
      // its key for an insert of the same evaluation (the partial unique index).
      if (change.deletes.length > 0) {
        const r = await c.query(
          `DELETE FROM alert_episodes WHERE id = ANY($1::int8[]) AND state = 'pending'`,
          [change.deletes],
        );
        if (r.rowCount !== new Set(change.deletes).size) {
          throw new Error(`alerts: episodes to delete are not all pending: ${change.deletes.join(", ")}`);
        }
      }
      if (change.updates.length > 0) {
        const ids = change.updates.map((e) => e.id);
        const r = await c.query(UPDATE_EPISODES, [ids, ...columnArrays(change.updates)]);
        if (new Set(ids).size !== ids.length || r.rowCount !== ids.length) {
          throw new Error(`alerts: an episode to update does not exist or comes twice: ${ids.join(", ")}`);
        }
      }
      if (change.inserts.length > 0) await c.query(INSERT_EPISODES, columnArrays(change.inserts));
      if (change.notifications.length > 0) {
        await c.query(
          `INSERT INTO alert_notifications (channel, state, batch, attempts, created_at, next_attempt_at, retry_until)
           SELECT channel, 'pending', batch, 0, $3, $3, $4 FROM unnest($1::text[], $2::text[]) AS b(channel, batch)`,
          [
            change.notifications.map((b) => b.channel),
            change.notifications.map((b) => JSON.stringify(b)),
            change.now,
            change.retryUntil,
          ],
        );
      }
      return true;
    });
  }

  async list(filter: AlertListFilter = {}): Promise<AlertEpisode[]> {
    const r = await this.pool.query<EpisodeRow>(
      `SELECT ${EPISODE_COLUMNS} FROM alert_episodes
        WHERE ($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR server = $2)
          AND ($3::text IS NULL OR rule = $3) AND ($5::int8 IS NULL OR started_at < $5)
          AND ($4::int8 IS NULL OR resolved_at IS NULL OR resolved_at >= $4)
          AND (NOT $6::boolean OR firing_at IS NOT NULL)
        ORDER BY started_at DESC, id DESC LIMIT $7`,
      [
        filter.state ?? null,
        filter.server ?? null,
        filter.rule ?? null,
        filter.from ?? null,
        filter.to ?? null,
        filter.firedOnly === true,
        filter.limit ?? DEFAULT_LIST_LIMIT,
      ],
    );
    return r.rows.map(toEpisode);
  }

  async acknowledge(id: number, by: string, note: string | null, now: number): Promise<boolean> {
    return inTransaction(this.pool, async (c) => {
      // The version row first, as commitEvaluation takes it: the other order
      // could deadlock with an evaluation that updates this episode.
      await c.query("SELECT version FROM alert_state WHERE id = 1 FOR UPDATE");
      const r = await c.query(
        `UPDATE alert_episodes SET acknowledged_by = $1, acknowledged_at = $2, acknowledge_note = $3, updated_at = $2
          WHERE id = $4 AND ${OPEN}`,
        [by, now, note, id],
      );
      if (r.rowCount !== 1) return false;
      // An evaluation that read the episode before this would write it back
      // without the acknowledgement: the new version makes it evaluate again.
      await c.query("UPDATE alert_state SET version = version + 1 WHERE id = 1");
      return true;
    });
  }

  async claimNotification(o: {
    owner: string;
    now: number;
    leaseMs: number;
  }): Promise<ClaimedNotification | null> {
    return inTransaction(this.pool, async (c) => {
      const pick = (
        await c.query<{ id: number; state: NotificationState }>(
          `SELECT id, state FROM alert_notifications
            WHERE (state = 'pending' AND next_attempt_at <= $1) OR (state = 'sending' AND lease_until <= $1)
            ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED`,
          [o.now],
        )
      ).rows[0];
      if (pick === undefined) return null;
      const row = (
        await c.query<NotificationRow>(
          `UPDATE alert_notifications SET state = 'sending', lease_owner = $1, lease_until = $2,
             attempts = attempts + 1 WHERE id = $3 RETURNING *`,
          [o.owner, o.now + o.leaseMs, pick.id],
        )
      ).rows[0]!;
      return { ...toNotification(row), reclaimed: pick.state === "sending" };
    });
  }

  protected async mark(outcome: NotificationOutcome, id: number, owner: string): Promise<boolean> {
    const set = Object.keys(outcome).map((c, i) => `${c} = $${i + 3}`);
    const r = await this.pool.query(
      `UPDATE alert_notifications SET ${set.join(", ")}, lease_owner = NULL, lease_until = NULL
        WHERE id = $1 AND state = 'sending' AND lease_owner = $2`,
      [id, owner, ...Object.values(outcome)],
    );
    return r.rowCount === 1;
  }

  async listNotifications(
    filter: { state?: NotificationState; channel?: string; limit?: number } = {},
  ): Promise<StoredNotification[]> {
    const r = await this.pool.query<NotificationRow>(
      `SELECT * FROM alert_notifications
        WHERE ($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR channel = $2)
        ORDER BY id DESC LIMIT $3`,
      [filter.state ?? null, filter.channel ?? null, filter.limit ?? DEFAULT_LIST_LIMIT],
    );
    return r.rows.map(toNotification);
  }

  async addSilence(s: Omit<AlertSilence, "id">): Promise<AlertSilence> {
    checkSilence(s);
    const r = await this.pool.query<SilenceRow>(
      `INSERT INTO alert_silences (server_glob, rule, group_name, starts_at, ends_at, reason, created_by, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *`,
      [s.server, s.rule, s.group, s.startsAt, s.endsAt, s.reason, s.createdBy, s.createdAt],
    );
    return toSilence(r.rows[0]!);
  }

  async listSilences(filter: { activeAt?: number } = {}): Promise<AlertSilence[]> {
    const r = await this.pool.query<SilenceRow>(
      `SELECT * FROM alert_silences WHERE $1::int8 IS NULL OR (ends_at > $1 AND starts_at <= $1)
        ORDER BY created_at DESC, id DESC`,
      [filter.activeAt ?? null],
    );
    return r.rows.map(toSilence);
  }

  async endSilence(id: number, now: number): Promise<boolean> {
    // One that has not begun ends at its start: over, never in force.
    const r = await this.pool.query(
      "UPDATE alert_silences SET ends_at = GREATEST(starts_at, $1) WHERE id = $2 AND ends_at > $1",
      [now, id],
    );
    return r.rowCount === 1;
  }

  async prune(c: AlertPruneCutoffs): Promise<AlertPruneResult> {
    return inTransaction(this.pool, async (q) => ({
      episodes:
        (
          await q.query("DELETE FROM alert_episodes WHERE state = 'resolved' AND resolved_at < $1", [
            c.episodesBefore,
          ])
        ).rowCount ?? 0,
      notifications:
        (
          await q.query(
            "DELETE FROM alert_notifications WHERE state IN ('sent', 'failed') AND created_at < $1",
            [c.notificationsBefore],
          )
        ).rowCount ?? 0,
      silences:
        (await q.query("DELETE FROM alert_silences WHERE ends_at < $1", [c.silencesBefore])).rowCount ?? 0,
    }));
  }

  async lastSeen(): Promise<Map<string, number>> {
    const r = await this.pool.query<{ server: string; last_seen: number }>(
      "SELECT server, last_seen FROM server_stats",
    );
    return new Map(r.rows.map((x) => [x.server, x.last_seen]));
  }

  recentWindow(spanMs: number, servers?: readonly string[]): Promise<Map<string, AlertWindow>> {
    return readRecentWindow(this.pool, spanMs, servers);
  }

  hours(from: number, to: number, servers?: readonly string[]): Promise<Map<string, AlertHour[]>> {
    return readAlertHours(this.pool, from, to, servers);
  }
}
