import type { AutomationLog } from "../automation-log.js";
import type { CentralConfig } from "../config.js";
import { createMailTransport } from "../mail/index.js";
import type { MailTransport } from "../mail/transport.js";
import type { Storage } from "../storage/store.js";
import { type ReportComposer, weeklyReportComposer } from "./composer.js";
import { loadDeliveryGroups } from "./groups.js";
import { DeliveryService } from "./service.js";
import type { DeliveryKey, DeliveryRecord, DeliveryStore } from "./store.js";
import { resolveDeliveryWeek } from "./week.js";

export interface ManualSendOutcome {
  week: string;
  group: string;
  /**
   * sent: delivered now; already-sent: recorded as sent before (no --resend);
   * in-progress: another process holds it right now; pending: this attempt
   * failed and `central serve` will retry; failed: permanent error or retries exhausted.
   */
  status: "sent" | "already-sent" | "in-progress" | "pending" | "failed";
  messageId: string | null;
  /** The .eml written when no SMTP server is configured. */
  file?: string;
  error?: string;
  nextAttemptAt?: number;
  sentAt?: number;
  /** Where it went, without credentials (e.g. "smtp://mail.corp:587", "outbox /data/outbox"). */
  transport: string;
}

/**
 * `srvutil report send` as a function (the CLI and the demo use it): queues
 * the week for the groups (all by default) in the deliveries table and
 * attempts them right away, exactly like the scheduler would. A failed
 * attempt stays pending for `central serve` to retry.
 */
export async function sendWeeklyReport(o: {
  config: CentralConfig;
  store: Storage;
  log: AutomationLog;
  /** "2026-W47" or "last". */
  week: string;
  groups?: readonly string[];
  resend?: boolean;
  now?: number;
  composer?: ReportComposer;
  transport?: MailTransport;
  deliveries?: DeliveryStore;
}): Promise<ManualSendOutcome[]> {
  const settings = o.config.delivery;
  const groups = loadDeliveryGroups(settings.groupsFile, o.config.reportTo);
  const week = resolveDeliveryWeek(o.week, o.config.reportTimeZone, o.now ?? Date.now());
  const deliveries = o.deliveries ?? o.store.deliveries;
  await deliveries.init();
  const transport =
    o.transport ??
    createMailTransport({ smtpUrl: o.config.smtpUrl, outboxDir: o.config.paths.outbox }, o.config.smtp);
  try {
    const service = new DeliveryService({
      deliveries,
      transport,
      composer:
        o.composer ??
        weeklyReportComposer(o.store, { thresholds: o.config.thresholds, digest: o.config.digest, groups }),
      groups,
      log: o.log,
      mailFrom: o.config.mailFrom,
      timeZone: o.config.reportTimeZone,
      retry: settings.retry,
      leaseMs: settings.leaseMs,
    });
    service.selectGroups(o.groups); // an unknown group fails before anything is logged or queued
    o.log.info("delivery.manual_send", { week, groups: o.groups ?? [], resend: o.resend === true });
    const startedAt = Date.now();
    const queued = await service.enqueueWeek(week, {
      trigger: o.resend === true ? "resend" : "manual",
      groups: o.groups,
      resend: o.resend,
      retryFailed: true,
      dueNow: true,
    });
    const results = await service.processDue({ only: queued });
    const out: ManualSendOutcome[] = [];
    for (const q of queued) {
      const r = results.find((x) => x.week === q.week && x.group === q.group);
      const base = { week: q.week, group: q.group, transport: transport.description };
      if (r !== undefined) {
        if (r.state === "sent") {
          out.push({
            ...base,
            status: "sent",
            messageId: r.messageId,
            ...(r.file !== undefined ? { file: r.file } : {}),
          });
        } else if (r.state === "pending") {
          out.push({
            ...base,
            status: "pending",
            messageId: null,
            error: r.error,
            nextAttemptAt: r.nextAttemptAt,
          });
        } else if (r.state === "failed") {
          out.push({ ...base, status: "failed", messageId: null, error: r.error });
        } else {
          out.push({
            ...base,
            status: "in-progress",
            messageId: r.messageId,
            error: "lease lost to another process",
          });
        }
        continue;
      }
      // Not attempted here: already finished, or a running `central serve` claimed it
      // first (it polls the same table). Wait for that attempt to end, then report it.
      const rec = await waitWhileSending(deliveries, q, Math.min(settings.leaseMs, MAX_WAIT_MS));
      if (rec?.state === "sent" && rec.sentAt !== null && rec.sentAt >= startedAt) {
        out.push({ ...base, status: "sent", messageId: rec.messageId });
      } else if (rec?.state === "sent") {
        out.push({
          ...base,
          status: "already-sent",
          messageId: rec.messageId,
          sentAt: rec.sentAt ?? undefined,
        });
      } else if (rec?.state === "sending") {
        out.push({
          ...base,
          status: "in-progress",
          messageId: null,
          error: `claimed by ${rec.leaseOwner ?? "?"}`,
        });
      } else {
        out.push({
          ...base,
          status: rec?.state === "failed" ? "failed" : "pending",
          messageId: null,
          error: rec?.lastError ?? undefined,
        });
      }
    }
    return out;
  } finally {
    if (o.transport === undefined) transport.close();
  }
}

/** How long `report send` waits for another process's attempt at the same delivery. */
const MAX_WAIT_MS = 120_000;

async function waitWhileSending(
  deliveries: DeliveryStore,
  key: DeliveryKey,
  maxMs: number,
): Promise<DeliveryRecord | null> {
  const until = Date.now() + maxMs;
  for (;;) {
    const rec = await deliveries.get(key);
    if (rec?.state !== "sending" || Date.now() >= until) return rec;
    await new Promise((r) => setTimeout(r, 100));
  }
}
