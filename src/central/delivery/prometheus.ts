import { Gauge, type Registry } from "prom-client";
import type { CentralConfig } from "../config.js";
import { countOutboxEmails, mailDestination } from "./mail-destination.js";
import type { DeliveryState, DeliveryStore } from "./store.js";

const STATES: readonly DeliveryState[] = ["pending", "sending", "sent", "failed"];

/** Deliveries read per scrape: years of weekly reports for dozens of groups. */
const SCRAPE_LIMIT = 100_000;

/**
 * Delivery gauges on /metrics, read from the database at each scrape, so they
 * count every delivery whichever process made it (`central serve`, `report
 * send`, another instance) and survive restarts. Alert on a failed Monday with
 * `srvutil_deliveries{state="failed"} > 0`, on a missing one with
 * `time() - srvutil_delivery_last_sent_timestamp_seconds > 8 * 86400`, on a
 * silent outbox with `srvutil_mail_outbox_only == 1` (docs/operations.md).
 */
export function registerDeliveryMetrics(
  registry: Registry,
  deps: { deliveries: DeliveryStore; config: CentralConfig },
): void {
  let ready: Promise<void> | null = null;
  const rows = async () => {
    ready ??= deps.deliveries.init();
    await ready;
    return deps.deliveries.list({ limit: SCRAPE_LIMIT });
  };
  new Gauge({
    name: "srvutil_deliveries",
    help: "Weekly report deliveries recorded in the database, by state (pending, sending, sent, failed)",
    labelNames: ["state"] as const,
    registers: [registry],
    async collect() {
      const counts = new Map<DeliveryState, number>(STATES.map((s) => [s, 0]));
      for (const r of await rows()) counts.set(r.state, (counts.get(r.state) ?? 0) + 1);
      for (const [state, n] of counts) this.set({ state }, n);
    },
  });
  new Gauge({
    name: "srvutil_delivery_last_sent_timestamp_seconds",
    help: "When the last delivery was sent (or written to the outbox), Unix seconds; 0 when never",
    registers: [registry],
    async collect() {
      let last = 0;
      for (const r of await rows()) if (r.sentAt !== null && r.sentAt > last) last = r.sentAt;
      this.set(last / 1000);
    },
  });
  new Gauge({
    name: "srvutil_outbox_emails",
    help: "Emails in the outbox folder: written, not sent (no SRVUTIL_SMTP_URL)",
    registers: [registry],
    collect() {
      this.set(countOutboxEmails(deps.config.paths.outbox));
    },
  });
  new Gauge({
    name: "srvutil_mail_outbox_only",
    help: "1 when recipients are configured but no SMTP server is: the weekly emails are not sent",
    registers: [registry],
  }).set(mailDestination(deps.config).outboxOnly ? 1 : 0);
}
