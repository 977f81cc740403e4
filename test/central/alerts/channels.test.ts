/**
 * What each HTTP channel posts, read by a real HTTP server on loopback: the
 * exact payload, the headers, the webhook signature recomputed here.
 * Failures: channel-failures.test.ts; email: channel-email.test.ts;
 * Alertmanager itself: alertmanager.test.ts.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createChannel } from "../../../src/central/alerts/channels/index.js";
import {
  batch,
  channelConfig,
  context,
  human,
  iso,
  notice,
  resolvedNotice,
  stormBatch,
} from "./channel-fixtures.js";
import { useReceivers } from "./http-receiver.js";

const { receiver, only } = useReceivers();

describe("webhook", () => {
  it("posts the documented JSON, signed with HMAC-SHA256 over '<timestamp>.<body>'", async () => {
    const r = await receiver();
    const secret = "whsec-3f1a9c7e5b";
    const firing = notice();
    const resolved = resolvedNotice();
    // As the outbox sends it: with the row's idempotency key.
    const b = { ...batch([firing, resolved]), id: "srvutil-n42" };
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
    expect(req.headers["x-srvutil-notification-id"]).toBe("srvutil-n42");
    expect(JSON.parse(req.body)).toEqual({
      version: 1,
      source: "srvutil",
      id: "srvutil-n42",
      channel: "ops",
      event: "alerts",
      created_at: iso(b.createdAt),
      title: "1 alert firing, 1 resolved",
      text: expect.stringContaining("RESOLVED warning: db-02 cpu_pressure"),
      storm: null,
      alerts: [
        {
          id: "srvutil-n42.1",
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
          id: "srvutil-n42.2",
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
    // A test notification has no outbox row, so no idempotency key.
    expect(req.headers["x-srvutil-notification-id"]).toBeUndefined();
    const body = JSON.parse(req.body);
    expect(body.event).toBe("test");
    expect(body.id).toBeNull();
    expect(body.alerts[0].id).toBeNull();
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

  it("a reminder says STILL FIRING; a test notification says TEST and that nothing is wrong", async () => {
    const r = await receiver();
    const ch = createChannel(channelConfig("ntfy", { url: `${r.origin}/topic-abcdef` }), context());
    await ch.send(batch([notice({ kind: "reminder" })]));
    await ch.send(batch([notice({ kind: "test", severity: "warning" })]));
    const [reminder, test] = r.requests;
    expect(reminder!.headers.title).toBe("[srvutil] STILL FIRING critical: web-01 disk_full_soon /var");
    expect(reminder!.headers.priority).toBe("5");
    expect(test!.headers.title).toBe("[srvutil] TEST warning: web-01 disk_full_soon /var");
    expect(test!.headers.tags).toBe("test_tube,warning");
    expect(test!.body).toContain("This is a test notification from srvutil");
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
    const sentAt = Date.now();
    await createChannel(
      channelConfig("alertmanager", { url: `${r.origin}/` }),
      context({ now: () => sentAt, firingValidForMs: 240_000 }),
    ).send(batch([firing, resolved]));
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
        // Firing: it ends 4 evaluation intervals after the send unless sent again.
        endsAt: iso(sentAt + 240_000),
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
