/**
 * A Slack incoming webhook: `text` (the notification and fallback line) plus
 * Block Kit `blocks` (a header, one mrkdwn section per notice, a context line
 * for what a storm leaves out). Slack's limits, from its Block Kit reference:
 * a header's plain_text at most 150 characters, a section's text at most
 * 3000, at most 50 blocks per message.
 */
import type { AlertChannel, ChannelAnswer, ChannelConfig } from "../channel-types.js";
import type { AlertNotice, NotificationBatch } from "../types.js";
import {
  batchSubject,
  isAbsoluteHttpUrl,
  kindWord,
  moreLine,
  noticeSubject,
  noticeTimes,
  shownNotices,
} from "./format.js";
import { postToChannel } from "./http.js";

const HEADER_MAX_CHARS = 150;
const SECTION_MAX_CHARS = 3000;
/** Notices given a section each; with the header and the "more" line the message stays under 50 blocks. */
export const SLACK_MAX_NOTICES = 40;

/**
 * Slack reads `&`, `<` and `>` as markup (`<!channel>` would ping everyone,
 * `<https://evil|text>` would be a disguised link), so every agent-supplied
 * string is escaped before it goes into mrkdwn.
 */
export function slackEscape(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

function clip(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join("")}…`;
}

function emoji(notice: AlertNotice): string {
  if (notice.kind === "resolved") return ":white_check_mark:";
  if (notice.kind === "test") return ":test_tube:";
  return notice.severity === "critical" ? ":red_circle:" : ":large_orange_circle:";
}

/** One notice as mrkdwn: status and severity in bold, then server, rule, mount; summary; times and link. */
export function slackNoticeText(notice: AlertNotice): string {
  const head = `${emoji(notice)} *${kindWord(notice)} ${notice.severity}*: ${slackEscape(noticeSubject(notice))}`;
  const link = isAbsoluteHttpUrl(notice.url)
    ? ` · <${slackEscape(notice.url)}|Dashboard>`
    : notice.url !== ""
      ? ` · ${slackEscape(notice.url)}`
      : "";
  return clip(`${head}\n${slackEscape(notice.summary)}\n${noticeTimes(notice)}${link}`, SECTION_MAX_CHARS);
}

export interface SlackPayload {
  text: string;
  blocks: Array<Record<string, unknown>>;
}

export function slackPayload(batch: NotificationBatch): SlackPayload {
  const { shown, more } = shownNotices(batch, SLACK_MAX_NOTICES);
  const subject = batchSubject(batch);
  const blocks: Array<Record<string, unknown>> = [
    { type: "header", text: { type: "plain_text", text: clip(subject, HEADER_MAX_CHARS), emoji: true } },
  ];
  for (const notice of shown) {
    blocks.push({ type: "section", text: { type: "mrkdwn", text: slackNoticeText(notice) } });
  }
  if (more > 0) {
    blocks.push({ type: "context", elements: [{ type: "mrkdwn", text: slackEscape(moreLine(more)) }] });
  }
  if (shown.some((n) => n.kind === "test")) {
    blocks.push({
      type: "context",
      elements: [{ type: "mrkdwn", text: "A test notification from srvutil: this channel works." }],
    });
  }
  // The fallback is what the phone notification shows: the headline, and the first notice's summary.
  const first = shown[0];
  const fallback = first === undefined ? subject : `${subject}: ${first.summary}`;
  return { text: clip(slackEscape(fallback), SECTION_MAX_CHARS), blocks };
}

export function slackChannel(config: ChannelConfig): AlertChannel {
  return {
    config,
    send(batch: NotificationBatch): Promise<ChannelAnswer> {
      return postToChannel(config, {
        body: JSON.stringify(slackPayload(batch)),
        contentType: "application/json",
      });
    },
  };
}
