import { SrvutilError } from "../../errors.js";
import type { AlertChannel, ChannelAnswer } from "./channel-types.js";
import type { NotificationBatch } from "./types.js";

/**
 * The test notification of `srvutil alerts test` and the dashboard's
 * "Send test" button: one notice of kind "test", sent through the channel at
 * once (not through the outbox), so what the channel answered can be shown
 * to whoever asked.
 */
export function testBatch(o: {
  channel: string;
  now: number;
  /** SRVUTIL_PUBLIC_URL, or null (the notice's link is then relative). */
  publicUrl: string | null;
  /** Who asked, in the summary: "`srvutil alerts test`", "the dashboard (alice)". */
  from: string;
}): NotificationBatch {
  return {
    channel: o.channel,
    createdAt: o.now,
    storm: null,
    notices: [
      {
        server: "srvutil-test",
        rule: "server_silent",
        mount: "",
        kind: "test",
        severity: "warning",
        summary: `a test notification from ${o.from}; nothing is wrong`,
        startsAt: o.now,
        endsAt: null,
        url: `${(o.publicUrl ?? "").replace(/\/+$/, "")}/alerts`,
      },
    ],
  };
}

/** What a test send came to: the channel's answer, or why it failed (never a secret: see ChannelSendError). */
export type TestOutcome =
  | { ok: true; answer: ChannelAnswer }
  | { ok: false; error: string; permanent: boolean; category: SrvutilError["category"] };

/** Sends testBatch through `channel`; a failure of the channel is an outcome, anything else is thrown. */
export async function sendTestNotification(
  channel: AlertChannel,
  o: { now: number; publicUrl: string | null; from: string },
): Promise<TestOutcome> {
  try {
    const answer = await channel.send(testBatch({ ...o, channel: channel.config.name }));
    return { ok: true, answer };
  } catch (err) {
    if (!(err instanceof SrvutilError)) throw err;
    return {
      ok: false,
      error: err.message,
      permanent: (err as { permanent?: unknown }).permanent === true,
      category: err.category,
    };
  }
}
