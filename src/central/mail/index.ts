import { createHash } from "node:crypto";
import { parseSmtpSettings, type SmtpOptions } from "./settings.js";
import { type MailTransport, OutboxMailTransport, SmtpMailTransport } from "./transport.js";

export * from "./settings.js";
export * from "./transport.js";

/**
 * SMTP when SRVUTIL_SMTP_URL is set, otherwise the outbox folder, so a fresh
 * install works with no mail server at all.
 */
export function createMailTransport(
  opts: { smtpUrl: string | null; outboxDir: string },
  smtp: Partial<SmtpOptions> = {},
): MailTransport {
  if (opts.smtpUrl === null) return new OutboxMailTransport(opts.outboxDir);
  return new SmtpMailTransport(parseSmtpSettings(opts.smtpUrl, smtp));
}

/**
 * `<srvutil.2026-W47.default.3f9a1c2b7e4d@example.com>`: the same (week,
 * group) always gets the same Message-ID, so a resend is recognizable (mail
 * clients thread or de-duplicate it). The hash keeps IDs from different
 * srvutil installations (different senders) apart.
 */
export function deliveryMessageId(week: string, group: string, mailFrom: string): string {
  const host = senderDomain(mailFrom);
  const hash = createHash("sha256").update(`${week}\n${group}\n${mailFrom}`).digest("hex").slice(0, 12);
  const safeGroup = group.replace(/[^A-Za-z0-9._-]/g, "_");
  return `<srvutil.${week}.${safeGroup}.${hash}@${host}>`;
}

/** Domain of "Name <user@example.com>" or "user@example.com"; "localhost" when there is none. */
export function senderDomain(mailFrom: string): string {
  const m = /@([A-Za-z0-9.-]+)>?\s*$/.exec(mailFrom.trim());
  return m?.[1] ?? "localhost";
}
