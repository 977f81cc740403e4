/**
 * Alerts inside `central serve`: every `evaluate_seconds` the rules run on
 * the rollups and the recent samples, the lifecycle decides, and the outcome
 * is committed with its notifications in one transaction (AlertStore); then
 * the outbox is sent, channel by channel, with retries and backoff.
 *
 * With several instances each evaluation period is leased to one of them
 * (CoordinationStore.claimJob), and the commit only lands if no other
 * evaluation committed since the read (optimistic concurrency), so each
 * state change is stored, and notified, once. Every instance sends from the
 * outbox; a row is leased to one sender at a time, and a row whose sender
 * died is taken over when its lease ends.
 */
import { Counter, type Registry } from "prom-client";
import type { AutomationLog } from "../automation-log.js";
import { type RetryPolicy, retryDelay } from "../delivery/settings.js";
import type { ReportThresholds } from "../report/types.js";
import type { AlertSilence, OpenEpisodes } from "../storage/alert-store.js";
import type { Storage } from "../storage/store.js";
import type { AlertChannel } from "./channel-types.js";
import type { AlertsConfig } from "./config.js";
import { FleetJudge, type Judge, type JudgeSettings } from "./judge.js";
import { WorkerJudge, type WorkerJudgeOptions } from "./judge-worker.js";
import { batchesFor, channelsFor, decideLifecycle, isSilenced } from "./lifecycle.js";
import { alertKeyText } from "./rules.js";
import type { AlertEpisode } from "./types.js";

export interface AlertServiceOptions {
  store: Storage;
  config: AlertsConfig;
  thresholds: ReportThresholds;
  /** The report groups a server belongs to (SRVUTIL_GROUPS_FILE), for routes and silences. */
  groupsOf: (server: string) => readonly string[];
  channels: ReadonlyMap<string, AlertChannel>;
  log: AutomationLog | null;
  /** This instance's id in leases. */
  instanceId: string;
  /** SRVUTIL_PUBLIC_URL: links in notifications are absolute when set. */
  publicUrl: string | null;
  /** /metrics: notifications by channel and outcome. */
  registry?: Registry;
  now?: () => number;
  /** How often the outbox is looked at for retries and other instances' notifications. Default 5 s. */
  sendPollMs?: number;
  /** Backoff of a channel that is down: 30 s doubling up to 15 min by default (tests shorten it). */
  sendRetry?: Omit<RetryPolicy, "retryForMs">;
  /**
   * How long a claimed outbox row is leased to this instance before another
   * may send it. Default: twice the longest channel timeout plus 5 s, so a
   * live sender always finishes (its send is abandoned at the channel's
   * timeout) before its lease ends, and the row of a killed one is taken
   * over soon rather than minutes later.
   */
  sendLeaseMs?: number;
  /**
   * Judge a fleet of WORKER_MIN_SERVERS or more on a worker thread with its
   * own connection (default true; ./judge-worker.ts). False, or a store
   * another thread cannot open (in-memory SQLite), judges in this thread.
   */
  judgeInWorker?: boolean;
  /** The worker's module and the fleet size from which it is used (tests). */
  judgeWorker?: WorkerJudgeOptions;
}

export interface EvaluationResult {
  /** False when another instance holds this period, or committed first. */
  committed: boolean;
  conditions: number;
  open: number;
  notices: number;
  batches: number;
  ms: number;
}

const JOB = "alerts-evaluate";
/** The idempotency key of one outbox row: the same at every attempt, on every instance. */
export function notificationId(rowId: number): string {
  return `srvutil-n${rowId}`;
}
export const SEND_RETRY: Omit<RetryPolicy, "retryForMs"> = {
  initialDelayMs: 30_000,
  maxDelayMs: 15 * 60_000,
};

/** Twice the longest channel timeout plus 5 s (AlertServiceOptions.sendLeaseMs). */
export function defaultSendLeaseMs(channels: ReadonlyMap<string, AlertChannel>): number {
  const longest = Math.max(0, ...[...channels.values()].map((c) => c.config.timeoutMs));
  return 2 * longest + 5_000;
}

export class AlertService {
  private readonly now: () => number;
  private readonly notifications: Counter<"channel" | "outcome"> | null;
  private evalTimer: NodeJS.Timeout | null = null;
  private sendTimer: NodeJS.Timeout | null = null;
  private evaluating: Promise<unknown> | null = null;
  private sending: Promise<number> | null = null;
  private sendAgain = false;
  private readonly judge: Judge;
  /** The last evaluation queued in this instance (evaluateOnce runs one at a time). */
  private inOrder: Promise<unknown> = Promise.resolve();
  /**
   * The open episodes as this instance's last commit left them: the next
   * evaluation reads only the version while nothing else wrote (at 10,000
   * servers about 3,700 rows, parsed on the uploads' thread, every minute).
   */
  private committedOpen: OpenEpisodes | null = null;
  /** What the last committed evaluation left firing, and the silences then (refreshAlertmanagers). */
  private firingNow: { firing: Omit<AlertEpisode, "id">[]; silences: AlertSilence[]; now: number } | null =
    null;
  private stopped = false;

  constructor(private readonly o: AlertServiceOptions) {
    this.now = o.now ?? Date.now;
    const settings: JudgeSettings = {
      rules: o.config.rules,
      thresholds: o.thresholds,
      hysteresisPercent: o.config.hysteresisPercent,
    };
    const inline = new FleetJudge(o.store.alerts, settings);
    const spec = o.store.readerSpec;
    this.judge =
      (o.judgeInWorker ?? true) && spec !== null
        ? new WorkerJudge(spec, settings, inline, o.log, o.judgeWorker)
        : inline;
    this.notifications =
      o.registry === undefined
        ? null
        : new Counter({
            name: "srvutil_alert_notifications_total",
            help: "Alert notifications this instance tried to send, by channel and outcome (sent, retry, failed; Alertmanager's re-posts of firing alerts: refreshed, refresh_failed)",
            labelNames: ["channel", "outcome"] as const,
            registers: [o.registry],
          });
  }

  start(): void {
    const evaluate = () => {
      if (this.stopped) return;
      this.evaluating = this.evaluate()
        .catch((err: unknown) =>
          this.o.log?.error("alert evaluation failed", { error: (err as Error).message }),
        )
        .finally(() => {
          this.evaluating = null;
          if (this.stopped) return;
          // The next period's start, so evaluations keep their rhythm whatever one costs.
          const every = this.o.config.evaluateMs;
          this.evalTimer = setTimeout(evaluate, every - (this.now() % every) + 50);
          this.evalTimer.unref();
        });
    };
    evaluate();
    const poll = () => {
      if (this.stopped) return;
      this.wakeSender();
      this.sendTimer = setTimeout(poll, this.o.sendPollMs ?? 5_000);
      this.sendTimer.unref();
    };
    this.sendTimer = setTimeout(poll, this.o.sendPollMs ?? 5_000);
    this.sendTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.evalTimer !== null) clearTimeout(this.evalTimer);
    if (this.sendTimer !== null) clearTimeout(this.sendTimer);
    await this.evaluating;
    await this.sending;
    await this.judge.close();
  }

  /**
   * Where the rules ran last: "worker" (serve, from WORKER_MIN_SERVERS servers),
   * or "inline" (smaller fleets, an in-memory store, the option, or the fallback).
   */
  get judgeMode(): "worker" | "inline" {
    return this.judge instanceof WorkerJudge ? this.judge.mode : "inline";
  }

  /**
   * Resolves when the evaluation this instance started on its own (at start,
   * then each period) has finished: tests wait for the one at start before
   * they upload, so it cannot take the notices they expect from theirs.
   */
  async settled(): Promise<void> {
    await this.evaluating;
  }

  /** The link of a server's dashboard page in notifications. */
  serverUrl(server: string): string {
    const base = (this.o.publicUrl ?? "").replace(/\/+$/, "");
    return `${base}/servers/${encodeURIComponent(server)}`;
  }

  /**
   * One evaluation, if this instance gets the period's lease. Another
   * evaluation committing between the read and the commit (an instance
   * whose lease had expired) makes this one read again, once.
   */
  async evaluate(): Promise<EvaluationResult> {
    const started = this.now();
    const every = this.o.config.evaluateMs;
    const period = started - (started % every);
    const { coordination } = this.o.store;
    if (!(await coordination.claimJob(JOB, period, this.o.instanceId, started, every * 2))) {
      return { committed: false, conditions: 0, open: 0, notices: 0, batches: 0, ms: this.now() - started };
    }
    try {
      let result = await this.evaluateOnce();
      if (!result.committed) result = await this.evaluateOnce();
      await coordination.completeJob(JOB, period, this.o.instanceId);
      if (result.notices > 0) this.wakeSender();
      if (result.committed) await this.refreshAlertmanagers();
      return result;
    } catch (err) {
      await coordination.releaseJob(JOB, this.o.instanceId);
      throw err;
    }
  }

  /**
   * Reads, decides and commits one evaluation, without the lease (tests, the
   * bench). One at a time in this instance: a call while another runs (serve's
   * own, at its rhythm) waits for it, so the two do not race for the commit.
   */
  evaluateOnce(): Promise<EvaluationResult> {
    const run = this.inOrder.then(() => this.decideAndCommit());
    this.inOrder = run.catch(() => undefined);
    return run;
  }

  private async decideAndCommit(): Promise<EvaluationResult> {
    const now = this.now();
    const { config } = this.o;
    const alerts = this.o.store.alerts;
    const open = await alerts.readOpen(this.committedOpen);
    const { version, episodes } = open;
    const firingKeys = episodes.filter((e) => e.state === "firing").map(alertKeyText);
    const [{ conditions }, silences] = await Promise.all([
      this.judge.judge(now, firingKeys),
      alerts.listSilences({ activeAt: now }),
    ]);
    const decided = decideLifecycle({
      now,
      open: episodes,
      conditions,
      silences,
      groupsOf: this.o.groupsOf,
      config,
      urlFor: (s) => this.serverUrl(s),
    });
    const batches = batchesFor(decided.notices, config, this.o.groupsOf, now);
    const committed = await alerts.commitEvaluation({
      expectedVersion: version,
      now,
      inserts: decided.inserts,
      updates: decided.updates,
      deletes: decided.deletes,
      notifications: batches,
      retryUntil: now + config.retryForMs,
    });
    this.committedOpen = null;
    if (committed) {
      const after = new Map(episodes.map((e) => [e.id, e]));
      for (const id of decided.deletes) after.delete(id);
      for (const e of decided.updates) after.set(e.id, e);
      // The open episodes as this commit left them, for the next readOpen (which hands them back
      // while nothing else wrote since); an insert's id is the database's, so then it reads again.
      if (decided.inserts.length === 0)
        this.committedOpen = {
          version: version + 1,
          episodes: [...after.values()].filter((e) => e.state !== "resolved"),
        };
      this.firingNow = {
        firing: [...after.values(), ...decided.inserts].filter((e) => e.state === "firing"),
        silences,
        now,
      };
    }
    if (committed && decided.notices.length > 0) {
      this.o.log?.info("alerts changed", {
        firing: decided.notices.filter((n) => n.kind === "firing").length,
        resolved: decided.notices.filter((n) => n.kind === "resolved").length,
        reminders: decided.notices.filter((n) => n.kind === "reminder").length,
        channels: batches.map((b) => b.channel),
      });
    }
    return {
      committed,
      conditions: conditions.length,
      open: episodes.length,
      notices: decided.notices.length,
      batches: batches.length,
      ms: this.now() - now,
    };
  }

  /**
   * Posts every firing alert again to each Alertmanager channel it is routed
   * to, as Prometheus does at each evaluation: Alertmanager ends an alert
   * that is not sent again (its endsAt, channels/alertmanager.ts). Not through
   * the outbox: the post is idempotent and the next evaluation sends it again,
   * so a failure is only counted and logged. What it posts is what this
   * instance's last committed evaluation left firing.
   */
  async refreshAlertmanagers(): Promise<void> {
    const targets = [...this.o.channels.values()].filter((c) => c.config.type === "alertmanager");
    if (targets.length === 0 || this.firingNow === null) return;
    // What the last committed evaluation left firing: no second read of every open episode.
    const { firing: episodes, silences, now } = this.firingNow;
    const firing = episodes
      .filter((e) => !isSilenced(e, silences, this.o.groupsOf))
      .map((e) => ({
        server: e.server,
        rule: e.rule,
        mount: e.mount,
        kind: "firing" as const,
        severity: e.severity,
        summary: e.summary,
        startsAt: e.firingAt ?? e.startedAt,
        endsAt: null,
        url: this.serverUrl(e.server),
      }));
    await Promise.all(
      targets.map(async (channel) => {
        const name = channel.config.name;
        const notices = firing.filter((n) => channelsFor(n, this.o.config, this.o.groupsOf).includes(name));
        if (notices.length === 0) return;
        try {
          await channel.send({ channel: name, createdAt: now, notices, storm: null });
          this.notifications?.inc({ channel: name, outcome: "refreshed" });
        } catch (err) {
          this.notifications?.inc({ channel: name, outcome: "refresh_failed" });
          this.o.log?.warn("alertmanager refresh failed", { channel: name, error: (err as Error).message });
        }
      }),
    );
  }

  /** Sends what is due now (again when more arrives meanwhile). */
  wakeSender(): void {
    if (this.sending !== null) {
      this.sendAgain = true;
      return;
    }
    this.sending = this.sendDue()
      .catch((err: unknown) => {
        this.o.log?.error("alert notifications: send loop failed", { error: (err as Error).message });
        return 0;
      })
      .finally(() => {
        this.sending = null;
        if (this.sendAgain && !this.stopped) {
          this.sendAgain = false;
          this.wakeSender();
        }
      });
  }

  /** Sends every due outbox row, one at a time; the number handled. */
  async sendDue(): Promise<number> {
    const alerts = this.o.store.alerts;
    let handled = 0;
    for (;;) {
      if (this.stopped) return handled;
      const now = this.now();
      const leaseMs = this.o.sendLeaseMs ?? defaultSendLeaseMs(this.o.channels);
      const row = await alerts.claimNotification({ owner: this.o.instanceId, now, leaseMs });
      if (row === null) return handled;
      handled++;
      const channel = this.o.channels.get(row.channel);
      const count = (outcome: string) => this.notifications?.inc({ channel: row.channel, outcome });
      if (channel === undefined) {
        await alerts.markNotificationFailed(row.id, {
          owner: this.o.instanceId,
          now,
          error: `channel '${row.channel}' is not in SRVUTIL_ALERTS_CONFIG any more`,
        });
        count("failed");
        continue;
      }
      try {
        // The row's id travels with every send of it: a receiver that sees it
        // twice (a sender killed after the answer, before the mark) can drop the copy.
        const answer = await channel.send({ ...row.batch, id: notificationId(row.id) });
        await alerts.markNotificationSent(row.id, {
          owner: this.o.instanceId,
          now: this.now(),
          response: answer.response,
        });
        count("sent");
        this.o.log?.info("alert notification sent", {
          channel: row.channel,
          notices: row.batch.notices.length,
          response: answer.response.slice(0, 200),
        });
      } catch (err) {
        const error = (err as Error).message;
        const permanent = (err as { permanent?: unknown }).permanent === true;
        const at = this.now();
        const next = at + retryDelay({ ...(this.o.sendRetry ?? SEND_RETRY), retryForMs: 0 }, row.attempts);
        if (permanent || next > row.retryUntil) {
          await alerts.markNotificationFailed(row.id, { owner: this.o.instanceId, now: at, error });
          count("failed");
          this.o.log?.error("alert notification failed", {
            channel: row.channel,
            attempts: row.attempts,
            error,
          });
        } else {
          await alerts.markNotificationRetry(row.id, {
            owner: this.o.instanceId,
            now: at,
            error,
            nextAttemptAt: next,
          });
          count("retry");
          this.o.log?.warn("alert notification will be retried", {
            channel: row.channel,
            attempts: row.attempts,
            next: new Date(next).toISOString(),
            error,
          });
        }
      }
    }
  }
}
