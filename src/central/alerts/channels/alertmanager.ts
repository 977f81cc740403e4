/**
 * Prometheus Alertmanager: `POST {url}/api/v2/alerts` with a JSON array of
 * postable alerts, one per notice (a storm's too: Alertmanager groups and
 * throttles them itself, which is what it is for). Labels identify an alert
 * (Alertmanager de-duplicates on them), so they hold only what names the
 * episode's key; the summary is an annotation. A resolved notice carries
 * its end, which ends the alert; a firing one ends `firingValidForMs` after
 * the send, and the evaluating instance sends the firing set again at every
 * evaluation (AlertService), as Prometheus does: the alert stays active
 * while it fires, and ends by itself if srvutil stops sending.
 */
import type { AlertChannel, ChannelAnswer, ChannelConfig, ChannelContext } from "../channel-types.js";
import type { AlertNotice, NotificationBatch } from "../types.js";
import { isoTime } from "./format.js";
import { postToChannel } from "./http.js";

/** A test alert ends by itself after this long, so it never lingers in Alertmanager. */
export const TEST_ALERT_MINUTES = 5;
export const TEST_ALERT_NAME = "SrvutilTest";

export interface PostableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt?: string;
  generatorURL?: string;
}

export function postableAlert(notice: AlertNotice, now: number, firingValidFor: number): PostableAlert {
  const test = notice.kind === "test";
  const labels: Record<string, string> = {
    alertname: test ? TEST_ALERT_NAME : notice.rule,
    server: notice.server,
    instance: notice.server,
    ...(notice.mount !== "" ? { mount: notice.mount } : {}),
    severity: notice.severity,
    source: "srvutil",
  };
  if (test) labels.rule = notice.rule;
  const annotations: Record<string, string> = { summary: notice.summary };
  if (test) {
    annotations.description = `A test notification from srvutil; it ends by itself after ${TEST_ALERT_MINUTES} minutes.`;
  }
  const alert: PostableAlert = { labels, annotations, startsAt: isoTime(notice.startsAt) };
  if (test) alert.endsAt = isoTime(Math.max(now, notice.startsAt) + TEST_ALERT_MINUTES * 60_000);
  else if (notice.kind === "resolved" && notice.endsAt !== null) {
    // Alertmanager refuses an alert that ends before it starts.
    alert.endsAt = isoTime(Math.max(notice.endsAt, notice.startsAt));
  } else alert.endsAt = isoTime(Math.max(now, notice.startsAt) + firingValidFor);
  if (notice.url !== "") alert.generatorURL = notice.url;
  return alert;
}

/** `{url}/api/v2/alerts`, whether the configured URL ends with a slash or not. */
export function alertsEndpoint(url: string): string {
  return `${url.replace(/\/+$/, "")}/api/v2/alerts`;
}

export function alertmanagerChannel(config: ChannelConfig, ctx: ChannelContext): AlertChannel {
  return {
    config,
    send(batch: NotificationBatch): Promise<ChannelAnswer> {
      const now = ctx.now();
      const body = JSON.stringify(batch.notices.map((n) => postableAlert(n, now, ctx.firingValidForMs)));
      const target: ChannelConfig = {
        ...config,
        url: config.url === null ? null : alertsEndpoint(config.url),
      };
      return postToChannel(target, { body, contentType: "application/json" });
    },
  };
}
