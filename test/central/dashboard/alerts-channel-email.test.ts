import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Alerting, loadAlerting } from "../../../src/central/alerts/setup.js";
import { loadCentralConfig } from "../../../src/central/config.js";
import { type SmtpFixture, startSmtpServer } from "../mail/smtp-fixture.js";
import { ADMIN, type DashboardHarness, dashboardBackends, InjectClient } from "./harness.js";

/**
 * "Send test" on /alerts/channels for an email channel: the central's own
 * mail settings (SRVUTIL_SMTP_URL) carry it to the in-process SMTP server,
 * which takes one channel's recipients and refuses the other's with 550.
 * The page shows the server's answer, or its refusal; nothing is queued.
 */
// The channel's path does not touch the store's backend: the first one (SQLite) is enough.
const [, , make] = (await dashboardBackends())[0]!;

describe("dashboard alert channels page: Send test through an email channel", () => {
  let h: DashboardHarness;
  let smtp: SmtpFixture;
  let alerting: Alerting;
  let admin: InjectClient;
  let dir = "";

  beforeAll(async () => {
    smtp = await startSmtpServer({ rejectRecipients: ["nobody@example.com"] });
    dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-alerts-mail-"));
    const file = path.join(dir, "alerts.json");
    writeFileSync(
      file,
      JSON.stringify({
        channels: [
          { name: "ops-mail", type: "email", to: ["ops@example.com", "oncall@example.com"] },
          { name: "dead-mail", type: "email", to: ["nobody@example.com"] },
        ],
      }),
    );
    alerting = loadAlerting(
      loadCentralConfig({
        SRVUTIL_DATA_DIR: dir,
        SRVUTIL_ALERTS_CONFIG: file,
        SRVUTIL_SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
        SRVUTIL_MAIL_FROM: "srvutil <alerts@example.com>",
        SRVUTIL_REPORT_TO: "ops@example.com",
      }),
      {},
    );
    h = await make({ clock: Date.now, alerting: { ...alerting, configFile: file } });
    admin = new InjectClient(h.app);
    await admin.signIn(ADMIN);
  });
  afterAll(async () => {
    await h?.close();
    alerting?.mail.close();
    await smtp?.close();
    if (dir !== "") rmSync(dir, { recursive: true, force: true });
  });

  it("mails the test to the channel's recipients and shows the SMTP server's answer", async () => {
    const page = await admin.get("/alerts/channels");
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain("Send test to ops-mail");

    const res = await admin.post("/alerts/channels/test", { name: "ops-mail" });
    expect(res.statusCode).toBe(200);
    expect(res.body).toMatch(
      /Test sent to ops-mail\.<\/strong> The channel answered: <span class="answer">250 [^<]+<\/span>/,
    );
    await smtp.waitForMessages(1);
    const m = smtp.messages[0]!;
    expect(m.envelopeTo.sort()).toEqual(["oncall@example.com", "ops@example.com"]);
    expect(m.parsed.subject).toMatch(/^\[srvutil\] /);
    expect(m.parsed.text).toContain("a test notification from the dashboard (alice); nothing is wrong");
    // A test is not an outbox row.
    expect(await h.store.alerts.listNotifications({})).toEqual([]);
  });

  it("shows the refusal of a recipient as the test's failure, and sends nothing", async () => {
    const before = smtp.messages.length;
    const res = await admin.post("/alerts/channels/test", { name: "dead-mail" });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain("Test to dead-mail failed:");
    expect(res.body).toMatch(/550/);
    expect(smtp.messages.length).toBe(before);
    const log = readFileSync(h.logFile, "utf8");
    expect(log).toMatch(/alert channel tested.*"channel":"ops-mail".*"ok":true/);
    expect(log).toMatch(/alert channel tested.*"channel":"dead-mail".*"ok":false/);
  });
});
