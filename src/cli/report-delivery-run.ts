import { Cron } from "croner";
import { AutomationLog } from "../central/automation-log.js";
import { mailDestination } from "../central/delivery/mail-destination.js";
import { WEEKLY_SCHEDULE } from "../central/delivery/scheduler.js";
import { sendWeeklyReport } from "../central/delivery/send.js";
import type { DeliveryRecord, DeliveryState, DeliveryStore } from "../central/delivery/store.js";
import { resolveDeliveryWeek } from "../central/delivery/week.js";
import { openStorage } from "../central/storage/open.js";
import { usageError } from "../errors.js";
import { centralConfigFromEnv } from "./central-config.js";

// What `srvutil report send` and `report status` run (the commander wiring is
// ./report-delivery.ts, which loads this module only when one of them runs).

export async function sendCommand(opts: { week: string; group: string[]; resend: boolean }): Promise<number> {
  const config = centralConfigFromEnv(); // configuration errors before the database is opened
  const log = new AutomationLog(config.paths.automationLog, config.logRotation);
  const outboxOnly = mailDestination(config).outboxOnly;
  const store = await openStorage(config.dbUrl, { synchronous: config.sqliteSynchronous });
  try {
    const outcomes = await sendWeeklyReport({
      config,
      store,
      log,
      week: opts.week,
      groups: opts.group,
      resend: opts.resend,
    });
    for (const o of outcomes) {
      const what = `${o.week} ${o.group}`;
      switch (o.status) {
        case "sent":
          console.log(
            o.file !== undefined && outboxOnly
              ? `${what}: NOT SENT, written to the outbox as ${o.messageId ?? "?"} (SRVUTIL_SMTP_URL is unset; docs/mail.md)`
              : `${what}: sent via ${o.transport} as ${o.messageId ?? "?"}`,
          );
          if (o.file !== undefined) console.log(`  ${o.file}`);
          break;
        case "already-sent":
          console.log(
            `${what}: already sent ${iso(o.sentAt ?? null)} as ${o.messageId ?? "?"} (use --resend to send again)`,
          );
          break;
        case "in-progress":
          console.log(`${what}: being sent by another process (${o.error ?? ""})`);
          break;
        case "pending":
          console.log(
            `${what}: not sent (${o.error ?? "error"}); ` +
              `a running \`srvutil central serve\` retries it at ${iso(o.nextAttemptAt ?? null)}`,
          );
          break;
        case "failed":
          console.log(`${what}: failed: ${o.error ?? ""}`);
          break;
      }
    }
    return outcomes.every((o) => o.status === "sent" || o.status === "already-sent") ? 0 : 1;
  } finally {
    await store.close();
  }
}

export async function statusCommand(opts: {
  week?: string;
  group?: string;
  state?: DeliveryState;
  limit: string;
  json: boolean;
}): Promise<void> {
  const config = centralConfigFromEnv();
  const week =
    opts.week === undefined ? undefined : resolveDeliveryWeek(opts.week, config.reportTimeZone, Date.now());
  const limit = Number(opts.limit);
  if (!Number.isInteger(limit) || limit < 1) {
    throw usageError(`--limit: expected a positive whole number, got '${opts.limit}'`);
  }
  const store = await openStorage(config.dbUrl, { synchronous: config.sqliteSynchronous });
  try {
    const deliveries = store.deliveries;
    await deliveries.init();
    const rows = await deliveries.list({ week, group: opts.group, state: opts.state, limit });
    if (opts.json) {
      console.log(JSON.stringify(rows.map(toJson), null, 2));
      return;
    }
    console.log(await scheduleLine(deliveries, config.delivery.cron, config.reportTimeZone));
    console.log(mailDestination(config).summary);
    if (rows.length === 0) {
      console.log("no deliveries recorded");
      return;
    }
    console.log(formatStatusTable(rows));
  } finally {
    await store.close();
  }
}

/** "schedule: 0 7 * * 1 (Europe/Berlin), last run …, next run …" — what `central serve` will do. */
async function scheduleLine(
  deliveries: DeliveryStore,
  cron: string | null,
  timeZone: string,
): Promise<string> {
  if (cron === null) return "schedule: off (SRVUTIL_REPORT_CRON=off)";
  const last = await deliveries.lastScheduledTick(WEEKLY_SCHEDULE);
  const next = new Cron(cron, { timezone: timeZone, paused: true }).nextRun();
  return (
    `schedule: ${cron} (${timeZone}), last run ${last === null ? "never" : iso(last)}, ` +
    `next run ${next === null ? "never" : next.toISOString()} (while \`srvutil central serve\` runs)`
  );
}

function iso(ms: number | null): string {
  return ms === null ? "-" : new Date(ms).toISOString();
}

function toJson(r: DeliveryRecord): Record<string, unknown> {
  return {
    week: r.week,
    group: r.group,
    state: r.state,
    trigger: r.trigger,
    attempts: r.attempts,
    resends: r.resends,
    created_at: iso(r.createdAt),
    updated_at: iso(r.updatedAt),
    next_attempt_at: r.state === "pending" ? iso(r.nextAttemptAt) : null,
    retry_until: iso(r.retryUntil),
    sent_at: r.sentAt === null ? null : iso(r.sentAt),
    message_id: r.messageId,
    smtp_response: r.smtpResponse,
    rejected: r.rejected,
    last_error: r.lastError,
  };
}

export function formatStatusTable(rows: readonly DeliveryRecord[]): string {
  const header = ["WEEK", "GROUP", "STATE", "ATTEMPTS", "UPDATED", "DETAIL"];
  const body = rows.map((r) => [
    r.week,
    r.group,
    r.state,
    String(r.attempts),
    iso(r.updatedAt).slice(0, 19).replace("T", " "),
    r.state === "sent"
      ? `${r.messageId ?? ""} ${r.smtpResponse ?? ""}${r.rejected.length > 0 ? ` rejected: ${r.rejected.join(",")}` : ""}`
      : r.state === "pending"
        ? `next attempt ${iso(r.nextAttemptAt)}${r.lastError !== null ? ` after: ${r.lastError}` : ""}`
        : r.state === "sending"
          ? `claimed by ${r.leaseOwner ?? "?"} until ${iso(r.leaseUntil)}`
          : (r.lastError ?? ""),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(header), ...body.map(line)].join("\n");
}
