import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { InputError } from "../../errors.js";
import type { AutomationLog } from "../automation-log.js";
import { deliveryMessageId } from "../mail/index.js";
import { MailSendError, type MailTransport } from "../mail/transport.js";
import type { ReportComposer } from "./composer.js";
import { type DeliveryGroup, hasRecipients } from "./groups.js";
import { type RetryPolicy, retryDelay } from "./settings.js";
import type {
  ClaimedDelivery,
  DeliveryKey,
  DeliveryRecord,
  DeliveryStore,
  DeliveryTrigger,
  EnqueueOutcome,
} from "./store.js";

export interface DeliveryServiceOptions {
  deliveries: DeliveryStore;
  transport: MailTransport;
  composer: ReportComposer;
  groups: readonly DeliveryGroup[];
  log: AutomationLog;
  mailFrom: string;
  timeZone: string;
  retry: RetryPolicy;
  leaseMs: number;
  /** Identifies this process in lease columns; default host:pid:random. */
  owner?: string;
  clock?: () => number;
}

export interface AttemptResult extends DeliveryKey {
  state: "sent" | "pending" | "failed" | "lost-lease";
  attempt: number;
  owner: string;
  messageId: string | null;
  error?: string;
  nextAttemptAt?: number;
  file?: string;
}

/** A group named on the command line that is not configured; lists the configured ones. */
export class UnknownGroupError extends InputError {}

/**
 * Queues and sends the weekly report of each (week, group) exactly once:
 * claim a due delivery atomically, compose, send, record the outcome; on a
 * transient failure schedule the next attempt with exponential backoff until
 * the retry window closes. Every step goes to automation.log.
 */
export class DeliveryService {
  readonly owner: string;
  private readonly clock: () => number;

  constructor(private readonly o: DeliveryServiceOptions) {
    this.owner = o.owner ?? `${hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`;
    this.clock = o.clock ?? Date.now;
  }

  get groups(): readonly DeliveryGroup[] {
    return this.o.groups;
  }

  /** The configured groups named (all when `names` is empty); throws naming the unknown one. */
  selectGroups(names: readonly string[] = []): DeliveryGroup[] {
    if (names.length === 0) return [...this.o.groups];
    return names.map((n) => {
      const g = this.o.groups.find((x) => x.name === n);
      if (g === undefined) {
        throw new UnknownGroupError(
          `--group: no group named '${n}'; configured: ${this.o.groups.map((x) => x.name).join(", ") || "(none)"}`,
        );
      }
      return g;
    });
  }

  /** Records a pending delivery per group (idempotent unless `resend`). */
  async enqueueWeek(
    week: string,
    opts: {
      trigger: DeliveryTrigger;
      groups?: readonly string[];
      resend?: boolean;
      retryFailed?: boolean;
      dueNow?: boolean;
    },
  ): Promise<Array<DeliveryKey & { outcome: EnqueueOutcome }>> {
    const now = this.clock();
    const out: Array<DeliveryKey & { outcome: EnqueueOutcome }> = [];
    for (const g of this.selectGroups(opts.groups)) {
      const key = { week, group: g.name };
      const outcome = await this.o.deliveries.enqueue(key, {
        now,
        trigger: opts.trigger,
        retryUntil: now + this.o.retry.retryForMs,
        resend: opts.resend,
        retryFailed: opts.retryFailed,
        dueNow: opts.dueNow,
      });
      out.push({ ...key, outcome });
      this.o.log.info(outcome === "unchanged" ? "delivery.already_queued" : "delivery.queued", {
        week,
        group: g.name,
        trigger: opts.trigger,
        outcome,
      });
    }
    return out;
  }

  /**
   * Claims and attempts due deliveries one at a time until none is due (or
   * `maxAttempts`), so that several processes interleave fairly.
   */
  async processDue(
    opts: { only?: readonly DeliveryKey[]; maxAttempts?: number } = {},
  ): Promise<AttemptResult[]> {
    const results: AttemptResult[] = [];
    const max = opts.maxAttempts ?? 1000;
    while (results.length < max) {
      const record = await this.o.deliveries.claimNext({
        owner: this.owner,
        now: this.clock(),
        leaseMs: this.o.leaseMs,
        only: opts.only,
      });
      if (record === null) break;
      results.push(await this.attempt(record));
    }
    return results;
  }

  /**
   * One attempt while holding the lease. The lease is renewed every third of
   * its length, so a slow report build or mail server never lets another
   * process take over a live attempt, while a crashed holder's lease still
   * runs out quickly.
   */
  private async attempt(record: ClaimedDelivery): Promise<AttemptResult> {
    const key = { week: record.week, group: record.group };
    let lost = false;
    const renew = setInterval(
      () => {
        this.o.deliveries.renewLease(key, this.owner, this.clock() + this.o.leaseMs).then(
          (ok) => {
            if (!ok && !lost) {
              lost = true;
              this.o.log.error("delivery.lease_lost", {
                ...key,
                attempt: record.attempts,
                owner: this.owner,
              });
            }
          },
          (err: unknown) =>
            this.o.log.warn("delivery.lease_renew_failed", { ...key, error: (err as Error).message }),
        );
      },
      Math.max(Math.floor(this.o.leaseMs / 3), 10),
    );
    try {
      return await this.attemptUnderLease(record);
    } finally {
      clearInterval(renew);
    }
  }

  private async attemptUnderLease(record: ClaimedDelivery): Promise<AttemptResult> {
    const key = { week: record.week, group: record.group };
    const base = { week: record.week, group: record.group, attempt: record.attempts, owner: this.owner };
    const log = this.o.log;
    const group = this.o.groups.find((g) => g.name === record.group);
    if (group === undefined) {
      return this.fail(record, `group '${record.group}' is no longer configured (SRVUTIL_GROUPS_FILE)`, null);
    }
    const recipients = JSON.stringify(group.recipients);
    if (this.o.transport.kind === "smtp" && !hasRecipients(group.recipients)) {
      return this.fail(
        record,
        `group '${group.name}' has no recipients; set SRVUTIL_REPORT_TO or the group's "to" in SRVUTIL_GROUPS_FILE`,
        recipients,
      );
    }
    if (record.reclaimed) {
      // The previous holder's lease expired: it died mid-attempt. Whether its
      // message went out is unknown; the stable Message-ID lets clients spot a repeat.
      log.warn("delivery.resumed_after_crash", { ...base, previous_owner: record.previousOwner });
    }

    let content: Awaited<ReturnType<ReportComposer>>;
    try {
      log.info("delivery.building", { ...base });
      content = await this.o.composer({
        week: record.week,
        group,
        timeZone: this.o.timeZone,
        now: this.clock(),
      });
      log.info("delivery.built", {
        ...base,
        subject: content.subject,
        servers: content.servers,
        needing_action: content.needingAction,
        images: content.images.length,
        attachments: (content.attachments ?? []).map((a) => `${a.filename} ${a.content.length}`),
      });
    } catch (err) {
      return this.retryOrFail(
        record,
        `building the report failed: ${(err as Error).message}`,
        recipients,
        false,
      );
    }

    const messageId = deliveryMessageId(record.week, record.group, this.o.mailFrom);
    log.info("delivery.sending", {
      ...base,
      transport: this.o.transport.description,
      message_id: messageId,
      to: group.recipients.to,
      cc: group.recipients.cc,
      bcc_count: group.recipients.bcc.length,
    });
    try {
      const res = await this.o.transport.send({
        messageId,
        from: this.o.mailFrom,
        to: group.recipients.to,
        cc: group.recipients.cc,
        bcc: group.recipients.bcc,
        subject: content.subject,
        html: content.html,
        text: content.text,
        images: content.images,
        ...(content.attachments !== undefined ? { attachments: content.attachments } : {}),
        headers: {
          "X-Srvutil-Week": record.week,
          "X-Srvutil-Group": record.group,
          ...(record.resends > 0 ? { "X-Srvutil-Resend": String(record.resends) } : {}),
        },
        outboxName: `${record.week}.${record.group}`,
      });
      const ok = await this.o.deliveries.markSent(key, {
        owner: this.owner,
        now: this.clock(),
        messageId: res.messageId,
        response: res.response,
        rejected: res.rejected,
        recipients,
      });
      if (!ok) {
        // Our lease expired during the send and another process took over:
        // the message may go out twice. Lease length must exceed send time.
        log.error("delivery.lease_lost", { ...base, message_id: res.messageId });
        return { ...base, state: "lost-lease", messageId: res.messageId };
      }
      log.info("delivery.sent", {
        ...base,
        message_id: res.messageId,
        transport: res.transport,
        response: res.response,
        accepted: res.accepted.length,
        ...(res.file !== undefined ? { file: res.file } : {}),
      });
      if (res.rejected.length > 0) {
        log.warn("delivery.recipients_rejected", {
          ...base,
          message_id: res.messageId,
          rejected: res.rejected,
        });
      }
      return {
        ...base,
        state: "sent",
        messageId: res.messageId,
        ...(res.file !== undefined ? { file: res.file } : {}),
      };
    } catch (err) {
      const e =
        err instanceof MailSendError
          ? err
          : new MailSendError(String((err as Error).message ?? err), false, null, null);
      return this.retryOrFail(record, e.message, recipients, e.permanent);
    }
  }

  private async retryOrFail(
    record: DeliveryRecord,
    error: string,
    recipients: string | null,
    permanent: boolean,
  ): Promise<AttemptResult> {
    const now = this.clock();
    const next = now + retryDelay(this.o.retry, record.attempts);
    if (permanent || next > record.retryUntil) {
      const why = permanent ? error : `${error} (gave up after ${record.attempts} attempts)`;
      return this.fail(record, why, recipients);
    }
    const key = { week: record.week, group: record.group };
    const base = { week: record.week, group: record.group, attempt: record.attempts, owner: this.owner };
    const ok = await this.o.deliveries.markRetry(key, {
      owner: this.owner,
      now,
      error,
      nextAttemptAt: next,
      recipients,
    });
    if (!ok) {
      this.o.log.error("delivery.lease_lost", base);
      return { ...base, state: "lost-lease", messageId: null, error };
    }
    this.o.log.warn("delivery.retry_scheduled", {
      ...base,
      error,
      next_attempt_at: new Date(next).toISOString(),
    });
    return { ...base, state: "pending", messageId: null, error, nextAttemptAt: next };
  }

  private async fail(
    record: DeliveryRecord,
    error: string,
    recipients: string | null,
  ): Promise<AttemptResult> {
    const key = { week: record.week, group: record.group };
    const base = { week: record.week, group: record.group, attempt: record.attempts, owner: this.owner };
    const ok = await this.o.deliveries.markFailed(key, {
      owner: this.owner,
      now: this.clock(),
      error,
      recipients,
    });
    if (!ok) {
      this.o.log.error("delivery.lease_lost", base);
      return { ...base, state: "lost-lease", messageId: null, error };
    }
    this.o.log.error("delivery.failed", { ...base, error });
    return { ...base, state: "failed", messageId: null, error };
  }
}
