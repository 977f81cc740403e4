/**
 * A generic webhook: srvutil's own JSON (docs/alerts-channels.md, "webhook"),
 * signed Stripe/Slack style when a secret is set:
 *   X-Srvutil-Timestamp: <unix seconds>
 *   X-Srvutil-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>
 * The timestamp is inside the signed text so a receiver can refuse a
 * replayed old request.
 */
import { createHmac } from "node:crypto";
import type { AlertChannel, ChannelAnswer, ChannelConfig, ChannelContext } from "../channel-types.js";
import type { AlertNotice, NotificationBatch } from "../types.js";
import { batchHeadline, batchText, isoTime } from "./format.js";
import { postToChannel } from "./http.js";

/** The payload's version: a field is only ever added within one version. */
export const WEBHOOK_PAYLOAD_VERSION = 1;

export interface WebhookAlert {
  /**
   * "<notification id>.<position>": unique per notice, the same at every
   * attempt of the notification; null for a test notification.
   */
  id: string | null;
  kind: AlertNotice["kind"];
  severity: AlertNotice["severity"];
  server: string;
  rule: string;
  /** "" for a rule not about a disk. */
  mount: string;
  summary: string;
  starts_at: string;
  ends_at: string | null;
  url: string;
}

export interface WebhookPayload {
  version: typeof WEBHOOK_PAYLOAD_VERSION;
  source: "srvutil";
  /**
   * The notification's idempotency key (also the X-Srvutil-Notification-Id
   * header), the same at every attempt: a receiver that has seen it may
   * drop the request. Null for a test notification.
   */
  id: string | null;
  channel: string;
  /** "test" when every notice is a test notification, else "alerts". */
  event: "alerts" | "test";
  created_at: string;
  /** The one-line headline ("3 alerts firing, 1 resolved"). */
  title: string;
  /** The message as a person reads it (what email's text part holds). */
  text: string;
  storm: { total: number; firing: number; resolved: number } | null;
  /** Every notice of the batch, a storm's included: a program can take them all. */
  alerts: WebhookAlert[];
}

export function webhookPayload(batch: NotificationBatch): WebhookPayload {
  return {
    version: WEBHOOK_PAYLOAD_VERSION,
    source: "srvutil",
    id: batch.id ?? null,
    channel: batch.channel,
    event: batch.notices.length > 0 && batch.notices.every((n) => n.kind === "test") ? "test" : "alerts",
    created_at: isoTime(batch.createdAt),
    title: batchHeadline(batch),
    text: batchText(batch),
    storm: batch.storm,
    alerts: batch.notices.map((n, i) => ({
      id: batch.id === undefined ? null : `${batch.id}.${i + 1}`,
      kind: n.kind,
      severity: n.severity,
      server: n.server,
      rule: n.rule,
      mount: n.mount,
      summary: n.summary,
      starts_at: isoTime(n.startsAt),
      ends_at: n.endsAt === null ? null : isoTime(n.endsAt),
      url: n.url,
    })),
  };
}

/** "sha256=<hex>" over "<timestamp>.<body>": what a receiver recomputes. */
export function webhookSignature(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
}

export function webhookChannel(config: ChannelConfig, ctx: ChannelContext): AlertChannel {
  return {
    config,
    async send(batch: NotificationBatch): Promise<ChannelAnswer> {
      const body = JSON.stringify(webhookPayload(batch));
      const timestamp = Math.floor(ctx.now() / 1000);
      const headers: Record<string, string> = { "x-srvutil-timestamp": String(timestamp) };
      if (batch.id !== undefined) headers["x-srvutil-notification-id"] = batch.id;
      if (config.secret !== null && config.secret !== "") {
        headers["x-srvutil-signature"] = webhookSignature(config.secret, timestamp, body);
      }
      return postToChannel(config, { body, contentType: "application/json", headers });
    },
  };
}
