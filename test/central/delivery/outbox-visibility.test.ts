import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AutomationLog } from "../../../src/central/automation-log.js";
import { type RunningCentral, startCentral } from "../../../src/central/central-process.js";
import { loadCentralConfig } from "../../../src/central/config.js";
import { sendWeeklyReport } from "../../../src/central/delivery/send.js";
import { type SmtpFixture, startSmtpServer } from "../mail/smtp-fixture.js";
import { ingestWeek } from "./week-fixture.js";

// No silent outbox: recipients without an SMTP server are a warning at start
// and a gauge on /metrics; deliveries are counted by state on /metrics.
let dir: string;
let running: RunningCentral | null = null;
const servers: SmtpFixture[] = [];
afterEach(async () => {
  await running?.close();
  running = null;
  await Promise.all(servers.splice(0).map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

async function scrape(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const values = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m =
      /^(srvutil_(?:deliveries|delivery_last_sent_timestamp_seconds|outbox_emails|mail_outbox_only)(?:\{[^}]*\})?) (\S+)$/.exec(
        line,
      );
    if (m !== null) values.set(m[1]!, Number(m[2]));
  }
  return values;
}

describe("the outbox is never a quiet success", () => {
  it("recipients without SMTP: serve warns, /metrics says outbox only and counts the written email", async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-outbox-"));
    await ingestWeek(path.join(dir, "srvutil.db"));
    const config = loadCentralConfig({
      SRVUTIL_DATA_DIR: dir,
      SRVUTIL_LISTEN: "127.0.0.1:0",
      SRVUTIL_REPORT_TZ: "Europe/Berlin",
      SRVUTIL_REPORT_TO: "ops@example.com,cto@example.com",
      SRVUTIL_REPORT_CRON: "off",
    });
    running = await startCentral(config);
    expect(running.warnings).toContainEqual(
      expect.stringMatching(
        /^NOT SENT\. SRVUTIL_SMTP_URL is unset, so the emails for 2 recipients are only written to .*outbox \(0 there\)/,
      ),
    );
    const before = await scrape(running.url);
    expect(before.get("srvutil_mail_outbox_only")).toBe(1);
    expect(before.get("srvutil_outbox_emails")).toBe(0);
    expect(before.get('srvutil_deliveries{state="sent"}')).toBe(0);
    expect(before.get("srvutil_delivery_last_sent_timestamp_seconds")).toBe(0);

    const log = new AutomationLog(config.paths.automationLog, config.logRotation);
    const [outcome] = await sendWeeklyReport({ config, store: running.store, log, week: "2026-W47" });
    log.close();
    expect(outcome).toMatchObject({ status: "sent", transport: `outbox ${config.paths.outbox}` });
    const after = await scrape(running.url);
    expect(after.get("srvutil_outbox_emails")).toBe(1);
    expect(after.get('srvutil_deliveries{state="sent"}')).toBe(1);
    expect(after.get("srvutil_delivery_last_sent_timestamp_seconds")).toBeGreaterThan(Date.now() / 1000 - 60);
  }, 60_000);

  it("with SMTP: no warning, outbox_only 0; a refused delivery is counted as failed", async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-outbox-"));
    const smtp = await startSmtpServer({ rejectRecipients: ["ops@example.com"] });
    servers.push(smtp);
    await ingestWeek(path.join(dir, "srvutil.db"));
    const config = loadCentralConfig({
      SRVUTIL_DATA_DIR: dir,
      SRVUTIL_LISTEN: "127.0.0.1:0",
      SRVUTIL_REPORT_TZ: "Europe/Berlin",
      SRVUTIL_REPORT_TO: "ops@example.com",
      SRVUTIL_REPORT_CRON: "off",
      SRVUTIL_SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
      SRVUTIL_SMTP_POOL: "off",
    });
    running = await startCentral(config);
    // No mail warning (the agent downloads' warning depends on whether this checkout built the executables).
    expect(running.warnings.filter((w) => !w.startsWith("agent downloads:"))).toEqual([]);
    const log = new AutomationLog(config.paths.automationLog, config.logRotation);
    const [outcome] = await sendWeeklyReport({ config, store: running.store, log, week: "2026-W47" });
    log.close();
    // Every recipient refused with 550: permanent, no retry.
    expect(outcome).toMatchObject({ status: "failed" });
    const m = await scrape(running.url);
    expect(m.get("srvutil_mail_outbox_only")).toBe(0);
    expect(m.get('srvutil_deliveries{state="failed"}')).toBe(1);
    expect(m.get('srvutil_deliveries{state="sent"}')).toBe(0);
  }, 60_000);
});
