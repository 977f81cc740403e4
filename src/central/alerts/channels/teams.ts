/**
 * Microsoft Teams through a Workflows (Power Automate) webhook, the
 * replacement of the retired Office 365 connectors: the flow "Post to a
 * channel when a webhook request is received" takes a message whose one
 * attachment is an Adaptive Card and posts the card. The card uses only
 * elements of Adaptive Cards 1.4 (Container styles, FactSet, ActionSet,
 * Action.OpenUrl), which Teams renders.
 */
import type { AlertChannel, ChannelAnswer, ChannelConfig, ChannelContext } from "../channel-types.js";
import type { AlertNotice, NotificationBatch } from "../types.js";
import {
  batchLink,
  batchSubject,
  humanTime,
  isAbsoluteHttpUrl,
  moreLine,
  noticeTitle,
  shownNotices,
} from "./format.js";
import { postToChannel } from "./http.js";

export const ADAPTIVE_CARD_VERSION = "1.4";
/** Teams refuses cards over about 28 KB; 20 notices of a few hundred bytes each stay well under. */
export const TEAMS_MAX_NOTICES = 20;

type CardElement = Record<string, unknown>;

/**
 * TextBlock text is Markdown in Teams: `[text](url)` would turn an
 * agent-supplied mount name into a disguised link, so the link syntax is
 * broken up. Other Markdown (emphasis) can only change how a name looks.
 */
export function teamsText(text: string): string {
  return text.replaceAll("](", "] (");
}

function containerStyle(notice: AlertNotice): string {
  if (notice.kind === "resolved") return "good";
  if (notice.kind === "test") return "accent";
  return notice.severity === "critical" ? "attention" : "warning";
}

function noticeContainer(notice: AlertNotice): CardElement {
  const facts = [
    { title: "Severity", value: notice.severity },
    { title: "Server", value: teamsText(notice.server) },
    { title: "Rule", value: notice.rule },
    ...(notice.mount !== "" ? [{ title: "Mount", value: teamsText(notice.mount) }] : []),
    { title: "Since", value: humanTime(notice.startsAt) },
    ...(notice.endsAt !== null ? [{ title: "Resolved", value: humanTime(notice.endsAt) }] : []),
    ...(!isAbsoluteHttpUrl(notice.url) && notice.url !== "" ? [{ title: "Page", value: notice.url }] : []),
  ];
  const items: CardElement[] = [
    { type: "TextBlock", text: teamsText(noticeTitle(notice)), weight: "Bolder", wrap: true },
    { type: "TextBlock", text: teamsText(notice.summary), wrap: true },
    { type: "FactSet", facts },
  ];
  if (isAbsoluteHttpUrl(notice.url)) {
    items.push({
      type: "ActionSet",
      actions: [{ type: "Action.OpenUrl", title: `Open ${notice.server}`, url: notice.url }],
    });
  }
  return { type: "Container", style: containerStyle(notice), separator: true, items };
}

export function adaptiveCard(batch: NotificationBatch, publicUrl: string | null): CardElement {
  const { shown, more } = shownNotices(batch, TEAMS_MAX_NOTICES);
  const body: CardElement[] = [
    { type: "TextBlock", text: teamsText(batchSubject(batch)), size: "Medium", weight: "Bolder", wrap: true },
    ...shown.map(noticeContainer),
  ];
  if (more > 0) body.push({ type: "TextBlock", text: moreLine(more), isSubtle: true, wrap: true });
  if (shown.some((n) => n.kind === "test")) {
    body.push({
      type: "TextBlock",
      text: "A test notification from srvutil: this channel works.",
      wrap: true,
    });
  }
  const link = batchLink(batch, publicUrl);
  return {
    type: "AdaptiveCard",
    $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
    version: ADAPTIVE_CARD_VERSION,
    msteams: { width: "Full" },
    body,
    ...(link !== null
      ? { actions: [{ type: "Action.OpenUrl", title: "Open the dashboard", url: link }] }
      : {}),
  };
}

/** The Workflows webhook's message: one Adaptive Card attachment. */
export function teamsPayload(batch: NotificationBatch, publicUrl: string | null): Record<string, unknown> {
  return {
    type: "message",
    attachments: [
      {
        contentType: "application/vnd.microsoft.card.adaptive",
        contentUrl: null,
        content: adaptiveCard(batch, publicUrl),
      },
    ],
  };
}

export function teamsChannel(config: ChannelConfig, ctx: ChannelContext): AlertChannel {
  return {
    config,
    send(batch: NotificationBatch): Promise<ChannelAnswer> {
      const body = JSON.stringify(teamsPayload(batch, ctx.publicUrl));
      return postToChannel(config, { body, contentType: "application/json" });
    },
  };
}
