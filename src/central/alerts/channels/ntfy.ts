/**
 * ntfy (https://docs.ntfy.sh/publish/): a POST of the plain text to the
 * topic URL, the rest in headers: Title, Priority (1 to 5), Tags (comma
 * list; a tag that is an emoji short code shows as that emoji), Click (the
 * page a tap opens) and Authorization: Bearer for an access token.
 */
import type { AlertChannel, ChannelAnswer, ChannelConfig, ChannelContext } from "../channel-types.js";
import type { NotificationBatch } from "../types.js";
import { batchLink, batchSubject, batchText } from "./format.js";
import { postToChannel, rfc2047 } from "./http.js";

/**
 * ntfy turns a body over 4096 bytes into an attachment (or refuses it when
 * attachments are off), so the text is cut below that.
 */
export const NTFY_MAX_BODY_BYTES = 3900;

/** ntfy's priorities: 5 "urgent" (max), 4 "high", 3 "default". */
export function ntfyPriority(batch: NotificationBatch): 3 | 4 | 5 {
  let priority: 3 | 4 | 5 = 3;
  for (const n of batch.notices) {
    if (n.kind === "resolved") continue;
    if (n.severity === "critical") return 5;
    priority = 4;
  }
  return priority;
}

/** The severity tags: an emoji short code ntfy shows, and the word to filter on. */
export function ntfySeverityTags(batch: NotificationBatch): string[] {
  const priority = ntfyPriority(batch);
  if (batch.notices.length > 0 && batch.notices.every((n) => n.kind === "test")) {
    return ["test_tube", priority === 5 ? "critical" : priority === 4 ? "warning" : "test"];
  }
  if (priority === 5) return ["rotating_light", "critical"];
  // "warning" is both ntfy's ⚠️ short code and the severity's name.
  if (priority === 4) return ["warning"];
  return ["white_check_mark", "resolved"];
}

/** `text` cut to at most `maxBytes` of UTF-8 on a character boundary, with an ellipsis when cut. */
export function clipUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text, "utf8") <= maxBytes) return text;
  let out = "";
  let size = 0;
  const budget = maxBytes - Buffer.byteLength("…", "utf8");
  for (const ch of text) {
    const n = Buffer.byteLength(ch, "utf8");
    if (size + n > budget) break;
    out += ch;
    size += n;
  }
  return `${out}…`;
}

export function ntfyRequest(
  batch: NotificationBatch,
  config: ChannelConfig,
  publicUrl: string | null,
): { body: string; headers: Record<string, string> } {
  const tags = [...ntfySeverityTags(batch), ...config.tags];
  const headers: Record<string, string> = {
    title: rfc2047(batchSubject(batch)),
    priority: String(ntfyPriority(batch)),
    tags: rfc2047(tags.join(",")),
  };
  const link = batchLink(batch, publicUrl);
  // new URL() percent-encodes what a header could not carry.
  if (link !== null) headers.click = new URL(link).toString();
  if (config.token !== null && config.token !== "") headers.authorization = `Bearer ${config.token}`;
  // The title is already in the Title header; the body starts with the notices.
  const text = batchText(batch).split("\n").slice(2).join("\n");
  return { body: clipUtf8(text, NTFY_MAX_BODY_BYTES), headers };
}

export function ntfyChannel(config: ChannelConfig, ctx: ChannelContext): AlertChannel {
  return {
    config,
    send(batch: NotificationBatch): Promise<ChannelAnswer> {
      const { body, headers } = ntfyRequest(batch, config, ctx.publicUrl);
      return postToChannel(config, { body, contentType: "text/plain; charset=utf-8", headers });
    },
  };
}
