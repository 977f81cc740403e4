/**
 * The alert channels against real receivers: a node:http server on loopback
 * records what each HTTP channel posts (the exact payload, the headers, the
 * webhook signature recomputed here), answers with errors, redirects or not
 * at all; email goes through the project's SMTP transport to the in-process
 * SMTP server. Alertmanager itself: alertmanager.test.ts.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import type { ChannelConfig } from "../../../src/central/alerts/channel-types.js";
import {
  ChannelSendError,
  createChannel,
  describeChannel,
} from "../../../src/central/alerts/channels/index.js";
import { parseSmtpSettings, SmtpMailTransport } from "../../../src/central/mail/index.js";
import { type SmtpFixture, startSmtpServer } from "../mail/smtp-fixture.js";
import { batch, channelConfig, context, notice, resolvedNotice, stormBatch } from "./channel-fixtures.js";
import { type Receiver, type Reply, startReceiver } from "./http-receiver.js";

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
const human = (ms: number) => `${new Date(ms).toISOString().slice(0, 16).replace("T", " ")} UTC`;

const receivers: Receiver[] = [];
const smtps: SmtpFixture[] = [];
afterEach(async () => {
  await Promise.all([...receivers.splice(0).map((r) => r.close()), ...smtps.splice(0).map((s) => s.close())]);
});

async function receiver(reply?: (req: { path: string }) => Reply): Promise<Receiver> {
  const r = await startReceiver(reply);
  receivers.push(r);
  return r;
}

/** The one request a receiver got, failing the test when there is not exactly one. */
function only(r: Receiver) {
  expect(r.requests).toHaveLength(1);
  return r.requests[0]!;
}

describe("webhook", () => {
  it("posts the documented JSON, signed with HMAC-SHA256 over '<timestamp>.<body>'", async () => {
    const r = await receiver();
    const secret = "whsec-3f1a9c7e5b";
    const firing = notice();
    const resolved = resolvedNotice();
    const b = batch([firing, resolved]);
    const before = Math.floor(Date.now() / 1000);
    const channel = createChannel(
      channelConfig("webhook", { url: `${r.origin}/hooks/srvutil`, secret }),
      context(),
    );
    const answer = await channel.send(b);
    const after = Math.floor(Date.now() / 1000);

    expect(answer).toEqual({ status: 200, response: "HTTP 200 OK: ok" });
    const req = only(r);
    expect(req.method).toBe("POST");
    expect(req.path).toBe("/hooks/srvutil");
    expect(req.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(req.body)).toEqual({
      version: 1,
      source: "srvutil",
      channel: "ops",
      event: "alerts",
      created_at: iso(b.createdAt),
      title: "1 alert firing, 1 resolved",
      text: expect.stringContaining("RESOLVED warning: db-02 cpu_pressure"),
      storm: null,
      alerts: [
        {
          kind: "firing",
          severity: "critical",
          server: "web-01",
          rule: "disk_full_soon",
          mount: "/var",
          summary: firing.summary,
          starts_at: iso(firing.startsAt),
          ends_at: null,
          url: firing.url,
        },
        {
          kind: "resolved",
          severity: "warning",
          server: "db-02",
          rule: "cpu_pressure",
          mount: "",
          summary: resolved.summary,
          starts_at: iso(resolved.startsAt),
          ends_at: iso(resolved.endsAt!),
          url: resolved.url,
        },
      ],
    });

    // Verify as a receiver would: recompute over the raw body, compare in constant time, check the age.
    const timestamp = Number(req.headers["x-srvutil-timestamp"]);
    expect(timestamp).toBeGreaterThanOrEqual(before);
    expect(timestamp).toBeLessThanOrEqual(after);
    const expected = `sha256=${createHmac("sha256", secret).update(`${timestamp}.${req.body}`).digest("hex")}`;
    const got = String(req.headers["x-srvutil-signature"]);
    expect(got).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(timingSafeEqual(Buffer.from(got), Buffer.from(expected))).toBe(true);
    const tampered = createHmac("sha256", secret).update(
      `${timestamp}.${req.body.replace("web-01", "web-02")}`,
    );
    expect(got).not.toBe(`sha256=${tampered.digest("hex")}`);
  });

  it("sends no signature without a secret, and marks a test notification", async () => {
    const r = await receiver();
    await createChannel(channelConfig("webhook", { url: r.origin }), context()).send(
      batch([notice({ kind: "test", severity: "warning" })]),
    );
    const req = only(r);
    expect(req.headers["x-srvutil-signature"]).toBeUndefined();
    const body = JSON.parse(req.body);
    expect(body.event).toBe("test");
    expect(body.title).toBe("TEST warning: web-01 disk_full_soon /var");
    expect(body.text).toContain("test notification");
  });

  it("sends a storm as one request: the summary in text, every alert in alerts", async () => {
    const r = await receiver();
    await createChannel(channelConfig("webhook", { url: r.origin }), context()).send(stormBatch(57));
    const body = JSON.parse(only(r).body);
    expect(body.title).toBe("Alert storm: 57 alerts (57 firing, 0 resolved)");
    expect(body.storm).toEqual({ total: 57, firing: 57, resolved: 0 });
    expect(body.alerts).toHaveLength(57);
    expect(body.text).toContain("web-004");
    expect(body.text).not.toContain("web-005");
    expect(body.text).toContain("…and 52 more");
  });
});

describe("slack", () => {
  it("posts text plus blocks: a header, one mrkdwn section per notice, agent text escaped", async () => {
    const r = await receiver();
    const firing = notice({ summary: "<!channel> /var full & <https://evil.example|click>" });
    const resolved = resolvedNotice();
    await createChannel(channelConfig("slack", { url: `${r.origin}/services/T0/B0/XYZ` }), context()).send(
      batch([firing, resolved]),
    );
    const payload = JSON.parse(only(r).body);
    expect(Object.keys(payload).sort()).toEqual(["blocks", "text"]);
    expect(payload.text).toBe(
      "[srvutil] 1 alert firing, 1 resolved: &lt;!channel&gt; /var full &amp; &lt;https://evil.example|click&gt;",
    );
    expect(payload.blocks).toHaveLength(3);
    expect(payload.blocks[0]).toEqual({
      type: "header",
      text: { type: "plain_text", text: "[srvutil] 1 alert firing, 1 resolved", emoji: true },
    });
    expect(payload.blocks[1]).toEqual({
      type: "section",
      text: {
        type: "mrkdwn",
        text:
          ":red_circle: *FIRING critical*: web-01 disk_full_soon /var\n" +
          "&lt;!channel&gt; /var full &amp; &lt;https://evil.example|click&gt;\n" +
          `since ${human(firing.startsAt)} · <https://srvutil.example.com/servers/web-01|Dashboard>`,
      },
    });
    expect(payload.blocks[2].text.text).toBe(
      ":white_check_mark: *RESOLVED warning*: db-02 cpu_pressure\nCPU above 90 % for 20 minutes\n" +
        `from ${human(resolved.startsAt)} to ${human(resolved.endsAt!)} (1 h 50 min)` +
        " · <https://srvutil.example.com/servers/db-02|Dashboard>",
    );
  });

  it("sends a storm as one message naming the count and the first five servers", async () => {
    const r = await receiver();
    await createChannel(channelConfig("slack", { url: r.origin }), context()).send(stormBatch(57));
    const payload = JSON.parse(only(r).body);
    expect(payload.blocks[0].text.text).toBe("[srvutil] Alert storm: 57 alerts (57 firing, 0 resolved)");
    const sections = payload.blocks.filter((b: { type: string }) => b.type === "section");
    expect(sections.map((s: { text: { text: string } }) => s.text.text.split("\n")[0])).toEqual(
      [0, 1, 2, 3, 4].map((i) => `:red_circle: *FIRING critical*: web-00${i} disk_full_soon /var`),
    );
    expect(payload.blocks.at(-1)).toEqual({
      type: "context",
      elements: [{ type: "mrkdwn", text: "…and 52 more (see the dashboard)" }],
    });
  });
});

describe("teams", () => {
  it("posts a Workflows message whose one attachment is an Adaptive Card 1.4", async () => {
    const r = await receiver(() => ({ status: 202, body: "" }));
    const firing = notice();
    const answer = await createChannel(
      channelConfig("teams", { url: `${r.origin}/workflows/abc/triggers/manual/paths/invoke?sig=s3cr3tsig` }),
      context(),
    ).send(batch([firing]));
    expect(answer).toEqual({ status: 202, response: "HTTP 202 Accepted" });
    const payload = JSON.parse(only(r).body);
    expect(payload.type).toBe("message");
    expect(payload.attachments).toHaveLength(1);
    const attachment = payload.attachments[0];
    expect(attachment.contentType).toBe("application/vnd.microsoft.card.adaptive");
    expect(attachment.contentUrl).toBeNull();
    const card = attachment.content;
    expect(card.type).toBe("AdaptiveCard");
    expect(card.version).toBe("1.4");
    expect(card.$schema).toBe("http://adaptivecards.io/schemas/adaptive-card.json");
    expect(card.body[0]).toMatchObject({
      type: "TextBlock",
      text: "[srvutil] FIRING critical: web-01 disk_full_soon /var",
    });
    const container = card.body[1];
    expect(container).toMatchObject({ type: "Container", style: "attention" });
    expect(container.items[1]).toMatchObject({ type: "TextBlock", text: firing.summary });
    expect(container.items[2]).toEqual({
      type: "FactSet",
      facts: [
        { title: "Severity", value: "critical" },
        { title: "Server", value: "web-01" },
        { title: "Rule", value: "disk_full_soon" },
        { title: "Mount", value: "/var" },
        { title: "Since", value: human(firing.startsAt) },
      ],
    });
    expect(container.items[3].actions[0]).toEqual({
      type: "Action.OpenUrl",
      title: "Open web-01",
      url: firing.url,
    });
    expect(card.actions).toEqual([{ type: "Action.OpenUrl", title: "Open the dashboard", url: firing.url }]);
  });

  it("a resolved notice is a green container with its end time; a Markdown link in a mount is broken up", async () => {
    const r = await receiver();
    const resolved = resolvedNotice({ rule: "disk_nearly_full", mount: "/data](https://evil.example)" });
    await createChannel(channelConfig("teams", { url: r.origin }), context()).send(batch([resolved]));
    const container = JSON.parse(only(r).body).attachments[0].content.body[1];
    expect(container.style).toBe("good");
    const facts = container.items[2].facts;
    expect(facts).toContainEqual({ title: "Resolved", value: human(resolved.endsAt!) });
    expect(facts).toContainEqual({ title: "Mount", value: "/data] (https://evil.example)" });
  });
});

describe("ntfy", () => {
  it("posts the text with Title, Priority, Tags, Click and Authorization headers", async () => {
    const r = await receiver(() => ({ status: 200, body: '{"id":"abc","event":"message"}' }));
    const token = "tk_7eevizlsiwf9yi4uxsrs83r4352o0";
    const firing = notice();
    await createChannel(
      channelConfig("ntfy", { url: `${r.origin}/srvutil-alerts-9f2c`, token, tags: ["srvutil", "prod"] }),
      context(),
    ).send(batch([firing, resolvedNotice()]));
    const req = only(r);
    expect(req.method).toBe("POST");
    expect(req.path).toBe("/srvutil-alerts-9f2c");
    expect(req.headers.title).toBe("[srvutil] 1 alert firing, 1 resolved");
    expect(req.headers.priority).toBe("5");
    expect(req.headers.tags).toBe("rotating_light,critical,srvutil,prod");
    // Two servers: the click opens the dashboard's front page.
    expect(req.headers.click).toBe("https://srvutil.example.com/");
    expect(req.headers.authorization).toBe(`Bearer ${token}`);
    expect(req.headers["content-type"]).toBe("text/plain; charset=utf-8");
    expect(req.body.startsWith("FIRING critical: web-01 disk_full_soon /var\n")).toBe(true);
    for (const part of [firing.summary, `since ${human(firing.startsAt)}`, firing.url, "RESOLVED warning"]) {
      expect(req.body).toContain(part);
    }
  });

  it("priority 4 (high) for a warning, 3 (default) when all resolved; a UTF-8 title as RFC 2047", async () => {
    const r = await receiver();
    const ch = createChannel(channelConfig("ntfy", { url: `${r.origin}/topic-abcdef` }), context());
    await ch.send(batch([notice({ severity: "warning", mount: "/données" })]));
    await ch.send(batch([resolvedNotice()]));
    const [warning, resolved] = r.requests;
    expect(warning!.headers.priority).toBe("4");
    expect(warning!.headers.tags).toBe("warning");
    expect(warning!.headers.click).toBe("https://srvutil.example.com/servers/web-01");
    expect(warning!.headers.authorization).toBeUndefined();
    const m = /^=\?UTF-8\?B\?([A-Za-z0-9+/=]+)\?=$/.exec(String(warning!.headers.title));
    expect(m, String(warning!.headers.title)).not.toBeNull();
    expect(Buffer.from(m![1]!, "base64").toString("utf8")).toBe(
      "[srvutil] FIRING warning: web-01 disk_full_soon /données",
    );
    expect(resolved!.headers.priority).toBe("3");
    expect(resolved!.headers.tags).toBe("white_check_mark,resolved");
  });

  it("keeps a storm's body under ntfy's 4096-byte message limit", async () => {
    const r = await receiver();
    await createChannel(channelConfig("ntfy", { url: `${r.origin}/topic-abcdef` }), context()).send(
      stormBatch(500),
    );
    const req = only(r);
    expect(req.headers.title).toBe("[srvutil] Alert storm: 500 alerts (500 firing, 0 resolved)");
    expect(Buffer.byteLength(req.body)).toBeLessThan(4096);
    expect(req.body).toContain("…and 495 more");
  });
});

describe("alertmanager payload", () => {
  it("posts to {url}/api/v2/alerts an array of postable alerts", async () => {
    const r = await receiver();
    const firing = notice();
    const resolved = resolvedNotice();
    await createChannel(channelConfig("alertmanager", { url: `${r.origin}/` }), context()).send(
      batch([firing, resolved]),
    );
    const req = only(r);
    expect(req.path).toBe("/api/v2/alerts");
    expect(JSON.parse(req.body)).toEqual([
      {
        labels: {
          alertname: "disk_full_soon",
          server: "web-01",
          instance: "web-01",
          mount: "/var",
          severity: "critical",
          source: "srvutil",
        },
        annotations: { summary: firing.summary },
        startsAt: iso(firing.startsAt),
        generatorURL: firing.url,
      },
      {
        labels: {
          alertname: "cpu_pressure",
          server: "db-02",
          instance: "db-02",
          severity: "warning",
          source: "srvutil",
        },
        annotations: { summary: resolved.summary },
        startsAt: iso(resolved.startsAt),
        endsAt: iso(resolved.endsAt!),
        generatorURL: resolved.url,
      },
    ]);
  });
});

describe("failures", () => {
  const SECRET_PATH = "/services/T024BE7LD/B08SECRETXYZ/kq8EbvUw2aSecretToken";
  const TOKEN = "tk_supersecrettoken123";
  const SIGNING = "whsec_signingsecret456";
  /** Every answer echoes the request's path and a token, as careless error pages do. */
  const echo = (status: number, headers?: Record<string, string>) => (req: { path: string }) => ({
    status,
    body: `no route for POST ${req.path} (token ${TOKEN}, secret ${SIGNING})\u0000\u001b[31m`,
    ...(headers !== undefined ? { headers } : {}),
  });

  async function failure(config: ChannelConfig): Promise<ChannelSendError> {
    const err = await createChannel(config, context())
      .send(batch([notice()]))
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(ChannelSendError);
    const e = err as ChannelSendError;
    expect(e.category).toBe("unavailable");
    const shown = `${e.message}\n${e.answer?.response ?? ""}\n${describeChannel(config)}`;
    const secrets = [config.token, config.secret].filter((s): s is string => s !== null);
    if (config.url?.includes(SECRET_PATH)) secrets.push(SECRET_PATH, "B08SECRETXYZ", "kq8EbvUw2aSecretToken");
    expect(secrets.length).toBeGreaterThan(0);
    for (const secret of secrets) {
      expect(shown).not.toContain(secret);
    }
    // biome-ignore lint/suspicious/noControlCharactersInRegex: asserting there are none
    expect(shown.replaceAll("\n", " ")).not.toMatch(/[\u0000-\u001f]/);
    return e;
  }

  const cases: Array<[number, boolean]> = [
    [500, false],
    [503, false],
    [400, true],
    [404, true],
    [408, false],
    [429, false],
  ];
  for (const [status, permanent] of cases) {
    it(`HTTP ${status} is ${permanent ? "permanent" : "worth retrying"}, and shows no secret`, async () => {
      const r = await receiver(echo(status));
      const e = await failure(
        channelConfig("slack", { url: `${r.origin}${SECRET_PATH}`, token: TOKEN, secret: SIGNING }),
      );
      expect(e.permanent).toBe(permanent);
      expect(e.answer?.status).toBe(status);
      expect(e.answer?.response).toMatch(new RegExp(`^HTTP ${status} `));
      expect(e.answer?.response).toContain("no route for POST [redacted]");
      expect(only(r).path).toBe(SECRET_PATH);
    });
  }

  it("a redirect is not followed and is an error", async () => {
    const elsewhere = await receiver();
    const r = await receiver(echo(302, { location: `${elsewhere.origin}${SECRET_PATH}` }));
    const e = await failure(channelConfig("webhook", { url: `${r.origin}${SECRET_PATH}`, secret: SIGNING }));
    expect(e.permanent).toBe(true);
    expect(e.answer?.status).toBe(302);
    expect(e.message).toContain(`redirected to ${elsewhere.origin}`);
    expect(r.requests).toHaveLength(1);
    expect(elsewhere.requests).toHaveLength(0);
  });

  it("a receiver that never answers fails with a timeout within timeout_ms", async () => {
    const r = await receiver(() => "hang");
    const timeoutMs = 700;
    const started = performance.now();
    const e = await failure(
      channelConfig("ntfy", { url: `${r.origin}${SECRET_PATH}`, token: TOKEN, timeoutMs }),
    );
    const elapsed = performance.now() - started;
    expect(e.permanent).toBe(false);
    expect(e.answer).toBeNull();
    expect(e.message).toContain(`no answer within ${timeoutMs} ms`);
    expect(elapsed).toBeGreaterThanOrEqual(timeoutMs - 50);
    expect(elapsed).toBeLessThan(timeoutMs + 1500);
  });

  it("a 2xx whose body never ends still counts as accepted (no second message)", async () => {
    const r = await receiver(() => "hang-body");
    const answer = await createChannel(
      channelConfig("webhook", { url: `${r.origin}/hook`, timeoutMs: 500 }),
      context(),
    ).send(batch([notice()]));
    expect(answer.status).toBe(200);
    expect(answer.response).toContain("HTTP 200 OK");
  });

  it("a refused connection is worth retrying", async () => {
    const r = await receiver();
    const url = `${r.origin}${SECRET_PATH}`;
    await r.close();
    receivers.splice(receivers.indexOf(r), 1);
    const e = await failure(channelConfig("teams", { url }));
    expect(e.permanent).toBe(false);
    expect(e.message).toMatch(/ECONNREFUSED/);
  });

  it("a huge answer is read only up to the cap and clipped", async () => {
    const r = await receiver(() => ({ status: 500, body: "x".repeat(200_000) }));
    const e = await failure(channelConfig("webhook", { url: `${r.origin}${SECRET_PATH}`, secret: SIGNING }));
    expect(e.answer!.response.length).toBeLessThanOrEqual(620);
    expect(e.answer!.response.endsWith("…")).toBe(true);
  });

  it("describeChannel names type, name and host, never the path, query or token", () => {
    const config = channelConfig("teams", {
      url: `https://prod-12.westeurope.logic.azure.com:443${SECRET_PATH}?sig=abcdef123456`,
      token: TOKEN,
    });
    expect(describeChannel(config)).toBe('teams channel "ops" (https://prod-12.westeurope.logic.azure.com)');
    expect(describeChannel(channelConfig("email", { to: ["a@example.com", "b@example.com"] }))).toBe(
      'email channel "ops" (to a@example.com, b@example.com)',
    );
  });
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
