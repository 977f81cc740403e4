import type { MailTransport } from "../mail/index.js";
import type { NotificationBatch } from "./types.js";

/** The channel types of SRVUTIL_ALERTS_CONFIG's `channels[].type`. */
export const CHANNEL_TYPES = ["email", "webhook", "slack", "teams", "ntfy", "alertmanager"] as const;
export type ChannelType = (typeof CHANNEL_TYPES)[number];

/**
 * One channel as configured, after its secrets were read (./config.ts reads
 * `url_env`/`url_file`, `secret_env`/`secret_file`, `token_env`/`token_file`
 * into `url`, `secret` and `token`). Secrets are never logged: a channel
 * describes itself with `describeChannel`, which leaves them out.
 */
export interface ChannelConfig {
  name: string;
  type: ChannelType;
  /** Where HTTP channels post (every type but email). */
  url: string | null;
  /** Email: the recipients. */
  to: string[];
  /** Webhook: the HMAC-SHA256 key of the signature header. */
  secret: string | null;
  /** ntfy: an access token (Authorization: Bearer). */
  token: string | null;
  /** ntfy: tags added to every message (besides the severity's). */
  tags: string[];
  /** Milliseconds a send may take before it is abandoned (retried later). */
  timeoutMs: number;
}

/** What the channel's service answered to a send. */
export interface ChannelAnswer {
  /** HTTP status, or the SMTP reply code; null when the service gave none. */
  status: number | null;
  /** The answer as shown to a person: status line and a clipped body, or the SMTP response. */
  response: string;
}

/** What a channel needs from the central besides its config. */
export interface ChannelContext {
  /** The mail transport of the weekly email (SRVUTIL_SMTP_URL, or the outbox folder). */
  mail: MailTransport;
  /** The mail sender (SRVUTIL_MAIL_FROM). */
  mailFrom: string;
  /** SRVUTIL_PUBLIC_URL, or null. */
  publicUrl: string | null;
  /** The clock, epoch ms (the webhook signature's timestamp). */
  now: () => number;
  /**
   * Alertmanager: a firing alert ends this long after each send unless sent
   * again. The evaluating instance sends the firing set again at every
   * evaluation, so an alert stays active while it fires and ends by itself
   * when srvutil stops (Prometheus does the same, with 4 × its evaluation
   * interval). See firingValidForMs.
   */
  firingValidForMs: number;
}

/** 4 × the evaluation interval, at least 4 minutes: a few missed evaluations do not end an alert. */
export function firingValidForMs(evaluateMs: number): number {
  return 4 * Math.max(evaluateMs, 60_000);
}

/**
 * A channel sends one batch as one message. It throws ChannelSendError when
 * the service refused or could not be reached; `permanent` says whether a
 * retry could help (a 4xx other than 408 and 429 cannot).
 */
export interface AlertChannel {
  readonly config: ChannelConfig;
  send(batch: NotificationBatch): Promise<ChannelAnswer>;
}
