import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { simpleParser } from "mailparser";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { redactSecrets } from "../../../src/central/automation-log.js";
import { loadCentralConfig } from "../../../src/central/config.js";
import {
  createMailTransport,
  deliveryMessageId,
  describeSmtp,
  MailConfigError,
  MailSendError,
  type OutgoingMail,
  parseSmtpSettings,
  redactSmtpUrl,
} from "../../../src/central/mail/index.js";
import { makeSelfSignedCert, type SmtpFixture, startSmtpServer, TINY_PNG } from "./smtp-fixture.js";

/** The SMTP options as `central serve` gets them: SRVUTIL_SMTP_* through the one config schema. */
const smtpEnv = (env: Record<string, string>) => loadCentralConfig(env).smtp;

let dir: string;
let cert: ReturnType<typeof makeSelfSignedCert>;
const servers: SmtpFixture[] = [];

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-mail-"));
  cert = makeSelfSignedCert(dir);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

function mail(over: Partial<OutgoingMail> = {}): OutgoingMail {
  return {
    messageId: deliveryMessageId("2026-W47", "default", "srvutil <reports@example.com>"),
    from: "srvutil <reports@example.com>",
    to: ["ops@example.com"],
    cc: ["cto@example.com"],
    bcc: ["audit@example.com"],
    subject: "srvutil weekly report 2026-W47",
    html: '<p>Fleet <b>web-01</b></p><img src="cid:chart-cpu@srvutil">',
    text: "Fleet web-01",
    images: [{ cid: "chart-cpu@srvutil", filename: "cpu.png", contentType: "image/png", content: TINY_PNG }],
    outboxName: "2026-W47.default",
    ...over,
  };
}

function expectReportStructure(raw: string): void {
  // multipart/alternative (text, then multipart/related (html, inline image))
  expect(raw).toMatch(/Content-Type: multipart\/alternative/i);
  expect(raw).toMatch(/Content-Type: multipart\/related/i);
  expect(raw.indexOf("text/plain")).toBeLessThan(raw.indexOf("text/html"));
  expect(raw).toMatch(/Content-ID: <chart-cpu@srvutil>/i);
}

describe("SMTP transport", () => {
  it("upgrades with STARTTLS to a self-signed server trusted by SRVUTIL_SMTP_CA_FILE, authenticates, sends one multipart message", async () => {
    const server = await startSmtpServer({ auth: { user: "reports", pass: "s3cr:et" }, tls: cert });
    servers.push(server);
    const transport = createMailTransport(
      { smtpUrl: `smtp://reports:${encodeURIComponent("s3cr:et")}@127.0.0.1:${server.port}`, outboxDir: dir },
      smtpEnv({ SRVUTIL_SMTP_CA_FILE: cert.certFile, SRVUTIL_SMTP_REQUIRE_TLS: "true" }),
    );
    try {
      const res = await transport.send(mail());
      expect(res.transport).toBe("smtp");
      expect(res.response).toMatch(/^250 .*queued/);
      expect(res.rejected).toEqual([]);
      expect(transport.description).not.toContain("s3cr");
    } finally {
      transport.close();
    }
    expect(server.messages).toHaveLength(1);
    const got = server.messages[0]!;
    expect(got.secure).toBe(true);
    expect(got.user).toBe("reports");
    expect(got.envelopeTo.sort()).toEqual(["audit@example.com", "cto@example.com", "ops@example.com"]);
    expect(got.parsed.messageId).toMatch(/^<srvutil\.2026-W47\.default\.[0-9a-f]{12}@example\.com>$/);
    expect(got.parsed.html).toContain("web-01");
    expect(got.parsed.text).toContain("Fleet web-01");
    expect(got.parsed.headers.get("bcc")).toBeUndefined();
    const img = got.parsed.attachments.find((a) => a.cid === "chart-cpu@srvutil");
    expect(img?.content.equals(TINY_PNG)).toBe(true);
    expectReportStructure(got.raw.toString("utf8"));
  });

  it("refuses an untrusted self-signed certificate unless allowed, and sends over implicit TLS (smtps://)", async () => {
    const server = await startSmtpServer({ tls: cert, secure: true });
    servers.push(server);
    const url = `smtps://127.0.0.1:${server.port}`;
    const strict = createMailTransport(
      { smtpUrl: url, outboxDir: dir },
      smtpEnv({ SRVUTIL_SMTP_TIMEOUT_SECONDS: "5" }),
    );
    try {
      const err = await strict.send(mail()).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MailSendError);
      expect((err as MailSendError).permanent).toBe(false);
      expect((err as Error).message).toMatch(/self[- ]signed|certificate/i);
    } finally {
      strict.close();
    }
    expect(server.messages).toHaveLength(0);

    const lax = createMailTransport(
      { smtpUrl: url, outboxDir: dir },
      smtpEnv({ SRVUTIL_SMTP_ALLOW_SELF_SIGNED: "true" }),
    );
    try {
      await lax.send(mail());
    } finally {
      lax.close();
    }
    expect(server.messages).toHaveLength(1);
    expect(server.messages[0]!.secure).toBe(true);
  });

  it("with SRVUTIL_SMTP_REQUIRE_TLS refuses a server that offers no STARTTLS", async () => {
    const server = await startSmtpServer();
    servers.push(server);
    const t = createMailTransport(
      { smtpUrl: `smtp://127.0.0.1:${server.port}`, outboxDir: dir },
      smtpEnv({ SRVUTIL_SMTP_REQUIRE_TLS: "true", SRVUTIL_SMTP_POOL: "false" }),
    );
    try {
      await expect(t.send(mail())).rejects.toThrow(/STARTTLS/i);
    } finally {
      t.close();
    }
    expect(server.messages).toHaveLength(0);
  });

  it("reports recipients the server refused; refusing all of them is a permanent error", async () => {
    const server = await startSmtpServer({ rejectRecipients: ["cto@example.com", "ops@example.com"] });
    servers.push(server);
    const t = createMailTransport({ smtpUrl: `smtp://127.0.0.1:${server.port}`, outboxDir: dir }, {});
    try {
      const res = await t.send(mail());
      expect(res.rejected.sort()).toEqual(["cto@example.com", "ops@example.com"]);
      expect(res.accepted).toEqual(["audit@example.com"]);
      const err = await t.send(mail({ bcc: [] })).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MailSendError);
      expect((err as MailSendError).permanent).toBe(true);
      expect((err as MailSendError).responseCode).toBe(550);
    } finally {
      t.close();
    }
    expect(server.messages).toHaveLength(1);
    expect(server.messages[0]!.envelopeTo).toEqual(["audit@example.com"]);
  });

  it("a wrong password fails without the password appearing in the error", async () => {
    const server = await startSmtpServer({ auth: { user: "reports", pass: "right" }, tls: cert });
    servers.push(server);
    const t = createMailTransport(
      { smtpUrl: `smtp://reports:wrongpass@127.0.0.1:${server.port}`, outboxDir: dir },
      smtpEnv({ SRVUTIL_SMTP_CA_FILE: cert.certFile }),
    );
    try {
      const err = (await t.send(mail()).catch((e: unknown) => e)) as MailSendError;
      expect(err).toBeInstanceOf(MailSendError);
      expect(err.code).toBe("EAUTH");
      expect(err.message).not.toContain("wrongpass");
    } finally {
      t.close();
    }
  });
});

describe("outbox transport (no SMTP configured)", () => {
  it("writes a complete .eml atomically, never overwriting an earlier one", async () => {
    const outbox = path.join(dir, "outbox");
    const t = createMailTransport({ smtpUrl: null, outboxDir: outbox });
    expect(t.kind).toBe("outbox");
    const first = await t.send(mail());
    const second = await t.send(mail({ outboxName: "../../etc/evil name" }));
    const third = await t.send(mail());
    expect(path.dirname(second.file!)).toBe(outbox);
    expect(path.basename(first.file!)).toBe("2026-W47.default.eml");
    expect(path.basename(third.file!)).toBe("2026-W47.default.2.eml");
    expect(readdirSync(outbox).filter((f) => f.endsWith(".tmp"))).toEqual([]);
    const raw = readFileSync(first.file!, "utf8");
    expectReportStructure(raw);
    const parsed = await simpleParser(raw);
    expect(parsed.messageId).toBe(mail().messageId);
    expect(parsed.html).toContain("web-01");
    expect(parsed.attachments[0]?.content.equals(TINY_PNG)).toBe(true);
  });
});

describe("SMTP settings", () => {
  it("parses smtp/smtps URLs with defaults and never shows the password", () => {
    const s = parseSmtpSettings("smtp://me%40corp:p%40ss@mail.corp:2525", {});
    expect(s).toMatchObject({
      secure: false,
      host: "mail.corp",
      port: 2525,
      user: "me@corp",
      password: "p@ss",
    });
    expect(s.pool).toBe(true);
    expect(parseSmtpSettings("smtps://mail.corp", {}).port).toBe(465);
    expect(parseSmtpSettings("smtp://mail.corp", {}).port).toBe(587);
    expect(describeSmtp(s)).toBe("smtp://me%40corp:***@mail.corp:2525");
    expect(redactSmtpUrl("smtps://u:hunter2@h:465")).toBe("smtps://u:***@h:465");
  });

  it.each([
    ["smtp://127.0.0.1:1", "smtp://127.0.0.1:1"],
    ["smtp://mail.corp", "smtp://mail.corp:587"],
    ["smtp://reports@mail.corp:25", "smtp://reports@mail.corp:25"],
    ["smtp://reports:hunter2@mail.corp:587", "smtp://reports:***@mail.corp:587"],
    ["smtp://me%40corp.com:p%40ss@mail.corp:2525", "smtp://me%40corp.com:***@mail.corp:2525"],
    ["smtps://u:hunter2@mail.corp", "smtps://u:***@mail.corp:465"],
    ["smtp://[2001:db8::1]:2525", "smtp://[2001:db8::1]:2525"],
    ["smtps://u:hunter2@[2001:db8::1]:465", "smtps://u:***@[2001:db8::1]:465"],
  ])("describes %s as %s (only a password masked), unchanged by the log's redaction", (url, shown) => {
    const described = describeSmtp(parseSmtpSettings(url, {}));
    expect(described).toBe(shown);
    expect(described).not.toContain("hunter2");
    expect(redactSecrets(JSON.stringify({ transport: described, message_id: "<m.1@localhost>" }))).toBe(
      JSON.stringify({ transport: shown, message_id: "<m.1@localhost>" }),
    );
  });

  it("names the variable to fix", () => {
    expect(() => parseSmtpSettings("http://u:hunter2@h", {})).toThrow(MailConfigError);
    expect(() => parseSmtpSettings("http://u:hunter2@h", {})).not.toThrow(/hunter2/);
    expect(() =>
      parseSmtpSettings("smtp://h", smtpEnv({ SRVUTIL_SMTP_CA_FILE: "/nonexistent.pem" })),
    ).toThrow(/SRVUTIL_SMTP_CA_FILE/);
    expect(() => parseSmtpSettings("smtp://h", smtpEnv({ SRVUTIL_SMTP_TIMEOUT_SECONDS: "soon" }))).toThrow(
      /SRVUTIL_SMTP_TIMEOUT_SECONDS/,
    );
    expect(() => parseSmtpSettings("smtp://h", smtpEnv({ SRVUTIL_SMTP_ALLOW_SELF_SIGNED: "maybe" }))).toThrow(
      /SRVUTIL_SMTP_ALLOW_SELF_SIGNED/,
    );
  });

  it("derives a stable Message-ID per (week, group)", () => {
    const a = deliveryMessageId("2026-W47", "web", "ops@example.org");
    expect(deliveryMessageId("2026-W47", "web", "ops@example.org")).toBe(a);
    expect(deliveryMessageId("2026-W47", "db", "ops@example.org")).not.toBe(a);
    expect(deliveryMessageId("2026-W48", "web", "ops@example.org")).not.toBe(a);
    expect(a).toMatch(/^<srvutil\.2026-W47\.web\.[0-9a-f]{12}@example\.org>$/);
  });
});
