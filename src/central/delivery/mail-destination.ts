import { readdirSync } from "node:fs";
import type { CentralConfig } from "../config.js";
import { redactSmtpUrl } from "../mail/settings.js";
import { loadDeliveryGroups } from "./groups.js";

/**
 * Where the weekly emails go, said the same way by `central serve` (a start
 * warning), `report status` (a line) and /metrics (srvutil_mail_outbox_only).
 * Without SRVUTIL_SMTP_URL the emails are only written to the outbox folder:
 * right for a demo, a silent failure for an operator who set recipients and
 * forgot the mail server. That case must never look like success.
 */
export interface MailDestination {
  /** Recipients are configured but no SMTP server: nothing is sent. */
  outboxOnly: boolean;
  /** Addresses in SRVUTIL_REPORT_TO and the groups file (to, cc, bcc). */
  recipients: number;
  /** One line for people, without credentials. */
  summary: string;
}

export function mailDestination(config: CentralConfig): MailDestination {
  let recipients = 0;
  try {
    for (const g of loadDeliveryGroups(config.delivery.groupsFile, config.reportTo)) {
      recipients += g.recipients.to.length + g.recipients.cc.length + g.recipients.bcc.length;
    }
  } catch {
    recipients = config.reportTo.length; // a broken groups file is reported by the delivery itself
  }
  if (config.smtpUrl !== null) {
    return {
      outboxOnly: false,
      recipients,
      summary: `mail: ${redactSmtpUrl(config.smtpUrl)}, ${recipients} recipient${recipients === 1 ? "" : "s"}`,
    };
  }
  const outbox = config.paths.outbox;
  const waiting = countOutboxEmails(outbox);
  if (recipients === 0) {
    return {
      outboxOnly: false,
      recipients,
      summary: `mail: no SMTP server and no recipients; emails are written to ${outbox} (${waiting} there)`,
    };
  }
  return {
    outboxOnly: true,
    recipients,
    summary:
      `mail: NOT SENT. SRVUTIL_SMTP_URL is unset, so the emails for ${recipients} recipient${recipients === 1 ? "" : "s"} ` +
      `are only written to ${outbox} (${waiting} there); set SRVUTIL_SMTP_URL (docs/mail.md) and check it with ` +
      "`srvutil report test-mail --to ADDRESS`",
  };
}

/** .eml files in the outbox (0 when it does not exist yet). */
export function countOutboxEmails(dir: string): number {
  try {
    return readdirSync(dir).filter((f) => f.endsWith(".eml")).length;
  } catch {
    return 0;
  }
}
