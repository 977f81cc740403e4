/** Notices, batches and channel configs for the channel tests, timed relative to now. */
import {
  type ChannelConfig,
  type ChannelContext,
  type ChannelType,
  firingValidForMs,
} from "../../../src/central/alerts/channel-types.js";
import type { AlertNotice, NotificationBatch } from "../../../src/central/alerts/types.js";
import { OutboxMailTransport } from "../../../src/central/mail/index.js";

export const HOUR = 3_600_000;

/** RFC 3339 without milliseconds, as the machine formats carry times. */
export const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
/** "2026-12-07 14:05 UTC", as the human formats carry times. */
export const human = (ms: number) => `${new Date(ms).toISOString().slice(0, 16).replace("T", " ")} UTC`;

/** A firing critical disk alert that started three hours ago, with an absolute dashboard link. */
export function notice(over: Partial<AlertNotice> = {}): AlertNotice {
  return {
    kind: "firing",
    severity: "critical",
    server: "web-01",
    rule: "disk_full_soon",
    mount: "/var",
    summary: "/var full in about 9 hours (92 % now, +1.2 GB/h)",
    startsAt: Date.now() - 3 * HOUR,
    endsAt: null,
    url: "https://srvutil.example.com/servers/web-01",
    ...over,
  };
}

/** A resolved warning about CPU of another server (no mount). */
export function resolvedNotice(over: Partial<AlertNotice> = {}): AlertNotice {
  const now = Date.now();
  return notice({
    kind: "resolved",
    severity: "warning",
    server: "db-02",
    rule: "cpu_pressure",
    mount: "",
    summary: "CPU above 90 % for 20 minutes",
    startsAt: now - 2 * HOUR,
    endsAt: now - 10 * 60_000,
    url: "https://srvutil.example.com/servers/db-02",
    ...over,
  });
}

export function batch(notices: AlertNotice[], over: Partial<NotificationBatch> = {}): NotificationBatch {
  return { channel: "ops", createdAt: Date.now(), notices, storm: null, ...over };
}

/** A storm of `total` firing notices (servers web-000 …), all of them in the batch. */
export function stormBatch(total: number): NotificationBatch {
  const notices = Array.from({ length: total }, (_, i) =>
    notice({
      server: `web-${String(i).padStart(3, "0")}`,
      url: `https://srvutil.example.com/servers/web-${i}`,
    }),
  );
  return batch(notices, { storm: { total, firing: total, resolved: 0 } });
}

export function channelConfig(type: ChannelType, over: Partial<ChannelConfig> = {}): ChannelConfig {
  return {
    name: "ops",
    type,
    url: null,
    to: [],
    secret: null,
    token: null,
    tags: [],
    timeoutMs: 10_000,
    ...over,
  };
}

/** A context whose mail goes to an outbox folder (the HTTP channels never touch it). */
export function context(over: Partial<ChannelContext> = {}): ChannelContext {
  return {
    mail: new OutboxMailTransport("/nonexistent/srvutil-outbox"),
    mailFrom: "srvutil <alerts@example.com>",
    publicUrl: "https://srvutil.example.com",
    now: () => Date.now(),
    firingValidForMs: firingValidForMs(60_000),
    ...over,
  };
}
