/**
 * The email channel through the project's SMTP transport to the in-process
 * SMTP server: subject, recipients, text, HTML with agent strings escaped,
 * storms, and a refusal that is permanent.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { ChannelConfig } from "../../../src/central/alerts/channel-types.js";
import { ChannelSendError, createChannel } from "../../../src/central/alerts/channels/index.js";
import { parseSmtpSettings, SmtpMailTransport } from "../../../src/central/mail/index.js";
import { type SmtpFixture, startSmtpServer } from "../mail/smtp-fixture.js";
import {
  batch,
  channelConfig,
  context,
  human,
  notice,
  resolvedNotice,
  stormBatch,
} from "./channel-fixtures.js";

const smtps: SmtpFixture[] = [];
afterEach(async () => {
  await Promise.all(smtps.splice(0).map((s) => s.close()));
});

describe("email", () => {
  async function smtpChannel(config: Partial<ChannelConfig>, reject: string[] = []) {
    const smtp = await startSmtpServer({ rejectRecipients: reject });
    smtps.push(smtp);
    const mail = new SmtpMailTransport(parseSmtpSettings(`smtp://127.0.0.1:${smtp.port}`, { pool: false }));
    const channel = createChannel(
      channelConfig("email", { to: ["ops@example.com", "oncall@example.com"], ...config }),
      context({ mail }),
    );
    return { smtp, mail, channel };
  }

  it("sends one message with the subject, both recipients, text and escaped HTML", async () => {
    const { smtp, mail, channel } = await smtpChannel({});
    const hostile = notice({ server: "<script>alert(1)</script>", mount: '/mnt/"x"&<b>' });
    try {
      const answer = await channel.send(batch([hostile]));
      expect(answer.status).toBe(250);
      expect(answer.response).toMatch(/^250 /);
    } finally {
      mail.close();
    }
    await smtp.waitForMessages(1);
    const m = smtp.messages[0]!;
    expect(m.envelopeTo.sort()).toEqual(["oncall@example.com", "ops@example.com"]);
    expect(m.parsed.subject).toBe(
      `[srvutil] FIRING critical: <script>alert(1)</script> disk_full_soon /mnt/"x"&<b>`,
    );
    expect(m.parsed.from?.text).toBe('"srvutil" <alerts@example.com>');
    const html = String(m.parsed.html);
    expect(html).not.toContain("<script>");
    expect(html).not.toContain("<b>");
    expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(html).toContain("/mnt/&quot;x&quot;&amp;&lt;b&gt;");
    expect(html).toContain(`<a href="${hostile.url}">`);
    const text = String(m.parsed.text);
    for (const part of [
      "critical",
      "disk_full_soon",
      hostile.summary,
      `since ${human(hostile.startsAt)}`,
      hostile.url,
    ]) {
      expect(text).toContain(part);
      expect(html).toContain(part.replaceAll("&", "&amp;"));
    }
  });

  it("names counts in the subject of a batch, and only the first five servers of a storm", async () => {
    const { smtp, mail, channel } = await smtpChannel({ to: ["ops@example.com"] });
    try {
      await channel.send(
        batch([notice(), notice({ server: "web-02" }), notice({ server: "web-03" }), resolvedNotice()]),
      );
      await channel.send(stormBatch(57));
    } finally {
      mail.close();
    }
    await smtp.waitForMessages(2);
    expect(smtp.messages[0]!.parsed.subject).toBe("[srvutil] 3 alerts firing, 1 resolved");
    const storm = smtp.messages[1]!;
    expect(storm.parsed.subject).toBe("[srvutil] Alert storm: 57 alerts (57 firing, 0 resolved)");
    const text = String(storm.parsed.text);
    expect(text).toContain("web-004");
    expect(text).not.toContain("web-005");
    expect(text).toContain("…and 52 more");
  });

  it("every recipient refused is a permanent failure with the server's reply", async () => {
    const { mail, channel } = await smtpChannel({ to: ["nobody@example.com"] }, ["nobody@example.com"]);
    try {
      const e = await channel.send(batch([notice()])).then(
        () => null,
        (err: unknown) => err,
      );
      expect(e).toBeInstanceOf(ChannelSendError);
      expect((e as ChannelSendError).permanent).toBe(true);
      expect((e as ChannelSendError).answer?.status).toBe(550);
    } finally {
      mail.close();
    }
  });
});
