/**
 * Email through the weekly report's transport (SMTP, or the outbox folder
 * when SRVUTIL_SMTP_URL is unset): plain text plus a simple HTML part, every
 * agent-supplied string escaped. The transport has its own timeouts
 * (SRVUTIL_SMTP_TIMEOUT_SECONDS); a send is not cut short from outside,
 * because an SMTP exchange abandoned after DATA may still be delivered and
 * would then be sent twice.
 */
import { createHash } from "node:crypto";
import { MailSendError, type OutgoingMail, senderDomain } from "../../mail/index.js";
import { escapeHtml } from "../../report/escape.js";
import type { AlertChannel, ChannelAnswer, ChannelConfig, ChannelContext } from "../channel-types.js";
import type { AlertNotice, NotificationBatch } from "../types.js";
import { describeChannel } from "./describe.js";
import {
  batchHeadline,
  batchSubject,
  batchText,
  isAbsoluteHttpUrl,
  moreLine,
  noticeTimes,
  noticeTitle,
  shownNotices,
} from "./format.js";
import { cleanAnswerText } from "./http.js";
import { ChannelSendError } from "./send-error.js";

/** A batch of more notices than this (not a storm) lists the rest as "and N more". */
export const EMAIL_MAX_NOTICES = 100;

const COLORS: Record<string, string> = {
  critical: "#b3261e",
  warning: "#a15c00",
  resolved: "#1e7b34",
  test: "#1f5fa8",
};

function color(notice: AlertNotice): string {
  if (notice.kind === "resolved") return COLORS.resolved!;
  if (notice.kind === "test") return COLORS.test!;
  return COLORS[notice.severity]!;
}

function noticeHtml(notice: AlertNotice): string {
  const rows: Array<[string, string]> = [
    ["Severity", escapeHtml(notice.severity)],
    ["Server", escapeHtml(notice.server)],
    ["Rule", escapeHtml(notice.rule)],
  ];
  if (notice.mount !== "") rows.push(["Mount", escapeHtml(notice.mount)]);
  rows.push(["When", escapeHtml(noticeTimes(notice))]);
  if (isAbsoluteHttpUrl(notice.url)) {
    rows.push(["Dashboard", `<a href="${escapeHtml(notice.url)}">${escapeHtml(notice.url)}</a>`]);
  } else if (notice.url !== "") {
    rows.push(["Dashboard", escapeHtml(notice.url)]);
  }
  const table = rows
    .map(
      ([k, v]) =>
        `<tr><td style="padding:2px 12px 2px 0;color:#555">${k}</td><td style="padding:2px 0">${v}</td></tr>`,
    )
    .join("");
  return (
    `<div style="border-left:4px solid ${color(notice)};padding:4px 12px;margin:12px 0">` +
    `<p style="margin:0 0 4px;font-weight:bold;color:${color(notice)}">${escapeHtml(noticeTitle(notice))}</p>` +
    `<p style="margin:0 0 6px">${escapeHtml(notice.summary)}</p>` +
    `<table style="border-collapse:collapse;font-size:14px">${table}</table></div>`
  );
}

export function alertEmailHtml(batch: NotificationBatch): string {
  const { shown, more } = shownNotices(batch, EMAIL_MAX_NOTICES);
  const parts = [
    `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(batchSubject(batch))}</title></head>`,
    '<body style="font-family:Arial,Helvetica,sans-serif;color:#1a1a1a;max-width:640px">',
    `<h1 style="font-size:18px;margin:0 0 8px">${escapeHtml(batchHeadline(batch))}</h1>`,
    ...shown.map(noticeHtml),
  ];
  if (more > 0) parts.push(`<p style="color:#555">${escapeHtml(moreLine(more))}</p>`);
  if (shown.some((n) => n.kind === "test")) {
    parts.push("<p>This is a test notification from srvutil: the channel works. Nothing is wrong.</p>");
  }
  parts.push('<p style="color:#777;font-size:12px">Sent by srvutil alerts.</p></body></html>');
  return parts.join("\n");
}

/** Unique per (channel, evaluation, content), so a retried batch keeps its Message-ID. */
function alertMessageId(batch: NotificationBatch, mailFrom: string): string {
  const hash = createHash("sha256")
    .update(`${batch.channel}\n${batch.createdAt}\n${JSON.stringify(batch.notices)}`)
    .digest("hex")
    .slice(0, 16);
  return `<srvutil.alert.${batch.createdAt}.${hash}@${senderDomain(mailFrom)}>`;
}

export function alertEmail(batch: NotificationBatch, config: ChannelConfig, mailFrom: string): OutgoingMail {
  return {
    messageId: alertMessageId(batch, mailFrom),
    from: mailFrom,
    to: config.to,
    cc: [],
    bcc: [],
    subject: batchSubject(batch),
    text: batchText(batch, EMAIL_MAX_NOTICES),
    html: alertEmailHtml(batch),
    images: [],
    headers: { "X-Srvutil-Alert-Channel": batch.channel.replace(/[^\x20-\x7e]/g, "?") },
    outboxName: `alert-${batch.channel}-${batch.createdAt}`,
  };
}

/** "250 OK: queued as …" → 250. */
function smtpCode(response: string): number | null {
  const m = /^(\d{3})\b/.exec(response.trim());
  return m === null ? null : Number(m[1]);
}

export function emailChannel(config: ChannelConfig, ctx: ChannelContext): AlertChannel {
  return {
    config,
    async send(batch: NotificationBatch): Promise<ChannelAnswer> {
      const who = describeChannel(config);
      if (config.to.length === 0)
        throw new ChannelSendError(`${who}: no recipients (to) are configured`, true);
      try {
        const result = await ctx.mail.send(alertEmail(batch, config, ctx.mailFrom));
        const rejected = result.rejected.length > 0 ? ` (refused: ${result.rejected.join(", ")})` : "";
        return {
          status: result.transport === "smtp" ? smtpCode(result.response) : null,
          response: cleanAnswerText(`${result.response}${rejected}`),
        };
      } catch (err) {
        if (err instanceof MailSendError) {
          const response = cleanAnswerText(err.response ?? err.message);
          throw new ChannelSendError(`${who}: ${cleanAnswerText(err.message)}`, err.permanent, {
            status: err.responseCode,
            response,
          });
        }
        throw new ChannelSendError(`${who}: ${cleanAnswerText(String(err))}`, false, null, { cause: err });
      }
    },
  };
}
