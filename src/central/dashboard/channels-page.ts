import type { ChannelConfig } from "../alerts/channel-types.js";
import { describeChannel } from "../alerts/channels/describe.js";
import { batchHeadline } from "../alerts/channels/format.js";
import type { NotificationState, StoredNotification } from "../storage/alert-store.js";
import type { ActiveSession } from "../storage/user-store.js";
import { plain } from "./alerts-pages.js";
import { type Html, html } from "./html.js";
import { csrfField, isoMinute, page } from "./layout.js";

/*
 * The channels page, /alerts/channels (admins), from what its route
 * (src/central/http/dashboard/alerts.ts) read and did: every configured
 * channel with its outbox figures and a "Send test" button, the last
 * notifications. Channels are named by describeChannel, never with a secret;
 * answers and errors are as the channel code stored them (redacted there).
 */

/** One channel's figures over its newest outbox rows. */
export interface ChannelFigures {
  config: ChannelConfig;
  sent: number;
  failed: number;
  /** Pending or being sent. */
  pending: number;
  /** How many rows the figures cover; equal to the read's limit when older rows exist. */
  rows: number;
  /** The newest error, and when its notification was queued. */
  lastError: { at: number; text: string } | null;
  /** The newest answer of a send that went through, and when. */
  lastAnswer: { at: number; text: string } | null;
}

/** What the page says above the channels: a test's outcome, or why a request was refused. */
export type ChannelsFlash =
  | { kind: "tested"; channel: string; ok: boolean; text: string }
  | { kind: "refused"; message: string };

export function channelsPage(o: {
  session: ActiveSession;
  timeZone: string;
  /** null: no SRVUTIL_ALERTS_CONFIG (the dashboard was started without alerting, or with the defaults). */
  configFile: string | null;
  configured: boolean;
  channels: readonly ChannelFigures[];
  /** The read limit of each channel's figures. */
  figuresLimit: number;
  recent: readonly StoredNotification[];
  flash: ChannelsFlash | null;
}): { value: string } {
  const tz = o.timeZone;
  const body = html`<p class="crumbs"><a href="/alerts">Alerts</a> › Channels</p>
<h1>Alert channels</h1>
${o.flash === null ? "" : channelsFlash(o.flash)}
${
  !o.configured || o.configFile === null
    ? html`<p class="notice">No SRVUTIL_ALERTS_CONFIG is set: alerts are evaluated and shown on the <a href="/alerts">alerts page</a>, and sent nowhere. See docs/alerts.md.</p>`
    : html`<p class="hint">From SRVUTIL_ALERTS_CONFIG (<code>${o.configFile}</code>), read at start-up. Figures over each channel's last ${o.figuresLimit} notifications; a test is sent at once and not stored. From the command line: <code>srvutil alerts test NAME</code>.</p>`
}
${o.configured && o.channels.length === 0 ? html`<p>The config names no channel.</p>` : ""}
${o.channels.length === 0 ? "" : channelsTable(o.channels, o.session, tz)}
<h2>Last notifications</h2>
${o.recent.length === 0 ? html`<p>No notification has been queued.</p>` : recentTable(o.recent, tz)}`;
  return page({ title: "Alert channels", session: o.session, nav: "alerts", body });
}

const minute = (ms: number, tz: string): Html =>
  html`<time datetime="${new Date(ms).toISOString()}">${isoMinute(ms, tz)}</time>`;

function channelsTable(channels: readonly ChannelFigures[], session: ActiveSession, tz: string) {
  return html`<div class="table-wrap"><table class="channels">
<thead><tr><th scope="col">Name</th><th scope="col">Type</th><th scope="col">Sends to</th><th scope="col">Sent</th><th scope="col">Failed</th><th scope="col">Pending</th><th scope="col">Last answer</th><th scope="col">Last error</th><th scope="col">Test</th></tr></thead>
<tbody>${channels.map(
    (c) =>
      html`<tr><th scope="row">${c.config.name}</th><td>${c.config.type}</td><td>${describeChannel(c.config)}</td><td class="num">${c.sent}</td><td class="num">${c.failed}</td><td class="num">${c.pending}</td>
<td>${c.lastAnswer === null ? "–" : html`${minute(c.lastAnswer.at, tz)}: ${plain(c.lastAnswer.text)}`}</td>
<td>${c.lastError === null ? "–" : html`<span class="error">${plain(c.lastError.text)}</span> <span class="hint">(notification of ${minute(c.lastError.at, tz)})</span>`}</td>
<td><form method="post" action="/alerts/channels/test">${csrfField(session)}<input type="hidden" name="name" value="${c.config.name}"><button type="submit">Send test to ${c.config.name}</button></form></td></tr>`,
  )}</tbody></table></div>`;
}

const STATE_CLASS: Record<NotificationState, string> = {
  sent: "dl-sent",
  pending: "dl-pending",
  sending: "dl-pending",
  failed: "dl-failed",
};

function recentTable(rows: readonly StoredNotification[], tz: string) {
  return html`<div class="table-wrap"><table class="notifications">
<thead><tr><th scope="col">Queued</th><th scope="col">Channel</th><th scope="col">State</th><th scope="col">Attempts</th><th scope="col">Headline</th><th scope="col">Sent</th><th scope="col">Last error</th></tr></thead>
<tbody>${rows.map(
    (n) =>
      html`<tr><td>${minute(n.createdAt, tz)}</td><th scope="row">${n.channel}</th><td><span class="dl ${STATE_CLASS[n.state]}">${n.state}</span></td><td class="num">${n.attempts}</td><td>${plain(batchHeadline(n.batch))}</td><td>${n.sentAt === null ? "–" : minute(n.sentAt, tz)}</td><td>${n.lastError === null ? "–" : html`<span class="error">${plain(n.lastError)}</span>`}</td></tr>`,
  )}</tbody></table></div>`;
}

function channelsFlash(flash: ChannelsFlash) {
  switch (flash.kind) {
    case "tested":
      return flash.ok
        ? html`<div class="created test-outcome" role="status"><p><strong>Test sent to ${flash.channel}.</strong> The channel answered: <span class="answer">${plain(flash.text)}</span></p></div>`
        : html`<div class="notice test-outcome" role="alert"><p><strong>Test to ${flash.channel} failed:</strong> <span class="answer">${plain(flash.text)}</span></p></div>`;
    case "refused":
      return html`<p class="notice" role="alert">${flash.message}</p>`;
  }
}
