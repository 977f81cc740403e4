import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AutomationLog } from "../../../src/central/automation-log.js";
import { loadCentralConfig } from "../../../src/central/config.js";
import { sendWeeklyReport } from "../../../src/central/delivery/send.js";
import { openStorage } from "../../../src/central/storage/open.js";
import { SqliteDeliveryStore } from "../../../src/central/storage/sqlite/deliveries.js";
import type { SqliteStore } from "../../../src/central/storage/sqlite/sqlite-store.js";
import type { Storage } from "../../../src/central/storage/store.js";
import { freePort, type SmtpFixture, startSmtpServer } from "../mail/smtp-fixture.js";
import { fleetComposer, readLog } from "./helpers.js";

let dir: string;
let store: Storage;
let smtp: SmtpFixture | null = null;

beforeEach(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-send-"));
  store = await openStorage(`sqlite:${path.join(dir, "srvutil.db")}`, {});
});
afterEach(async () => {
  await smtp?.close();
  smtp = null;
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("sendWeeklyReport (srvutil report send)", () => {
  it("a failed manual send stays pending; sending again delivers once; then 'already sent' unless --resend", async () => {
    const port = await freePort();
    const env = {
      SRVUTIL_DATA_DIR: dir,
      SRVUTIL_REPORT_TZ: "Europe/Berlin",
      SRVUTIL_REPORT_TO: "ops@example.com",
      SRVUTIL_SMTP_URL: `smtp://127.0.0.1:${port}`,
      SRVUTIL_DELIVERY_RETRY_INITIAL_SECONDS: "3600",
      SRVUTIL_DELIVERY_RETRY_MAX_SECONDS: "3600",
    };
    const config = loadCentralConfig(env);
    const log = new AutomationLog(config.paths.automationLog);
    const composer = fleetComposer(["web-01"]);
    const send = (extra: { resend?: boolean; groups?: string[] } = {}) =>
      sendWeeklyReport({ config, store, log, composer, week: "2026-W47", ...extra });

    const down = await send();
    expect(down).toMatchObject([{ week: "2026-W47", group: "default", status: "pending" }]);
    expect(down[0]!.error).toMatch(/ECONNREFUSED|connect/i);
    expect(down[0]!.nextAttemptAt! - Date.now()).toBeGreaterThan(3_500_000);

    smtp = await startSmtpServer({ port });
    // By hand, the next attempt does not wait for the backoff.
    const up = await send();
    expect(up).toMatchObject([{ status: "sent", transport: `smtp://127.0.0.1:${port}` }]);
    expect(smtp.messages).toHaveLength(1);

    const again = await send();
    expect(again).toMatchObject([{ status: "already-sent", messageId: up[0]!.messageId }]);
    expect(smtp.messages).toHaveLength(1);

    const resent = await send({ resend: true });
    expect(resent).toMatchObject([{ status: "sent", messageId: up[0]!.messageId }]);
    expect(smtp.messages).toHaveLength(2);

    await expect(send({ groups: ["nope"] })).rejects.toThrow(/--group: no group named 'nope'/);
    const manual = readLog(config.paths.automationLog).filter((l) => l.event === "delivery.manual_send");
    expect(manual).toHaveLength(4);
    expect(JSON.stringify(readLog(config.paths.automationLog))).not.toContain("nope@");
  });

  it("writes to the outbox when no SMTP server is configured, even with no recipients", async () => {
    const env = { SRVUTIL_DATA_DIR: dir, SRVUTIL_REPORT_TZ: "UTC" };
    const config = loadCentralConfig(env);
    const out = await sendWeeklyReport({
      config,
      store,
      log: new AutomationLog(config.paths.automationLog),
      composer: fleetComposer(["web-01"]),
      week: "last",
      now: Date.parse("2026-11-25T12:00:00Z"),
    });
    expect(out).toMatchObject([
      { week: "2026-W47", status: "sent", file: path.join(dir, "outbox", "2026-W47.default.eml") },
    ]);
  });

  it("when a running `central serve` holds the delivery, waits for its attempt and reports that outcome", async () => {
    const env = { SRVUTIL_DATA_DIR: dir, SRVUTIL_REPORT_TZ: "UTC", SRVUTIL_REPORT_TO: "ops@example.com" };
    const config = loadCentralConfig(env);
    const deliveries = new SqliteDeliveryStore((store as SqliteStore).db);
    await deliveries.init();
    const key = { week: "2026-W47", group: "default" };
    const now = Date.now();
    await deliveries.enqueue(key, { now, trigger: "schedule", retryUntil: now + 60_000 });
    expect(await deliveries.claimNext({ owner: "serve-X", now, leaseMs: 60_000 })).not.toBeNull();
    const finish = setTimeout(() => {
      void deliveries.markSent(key, {
        owner: "serve-X",
        now: Date.now(),
        messageId: "<by-serve@x>",
        response: "250 OK",
        rejected: [],
        recipients: "{}",
      });
    }, 300);
    try {
      const out = await sendWeeklyReport({
        config,
        store,
        log: new AutomationLog(config.paths.automationLog),
        composer: fleetComposer(["web-01"]),
        week: "2026-W47",
      });
      expect(out).toMatchObject([{ status: "sent", messageId: "<by-serve@x>" }]);
      expect(readdirSync(dir)).not.toContain("outbox"); // this process sent nothing itself
    } finally {
      clearTimeout(finish);
    }
  });

  it("never writes the SMTP password to automation.log or the outcome", async () => {
    const port = await freePort(); // nothing listens: the attempt fails and is logged
    const env = {
      SRVUTIL_DATA_DIR: dir,
      SRVUTIL_REPORT_TO: "ops@example.com",
      SRVUTIL_SMTP_URL: `smtp://reports:hunter2@127.0.0.1:${port}`,
    };
    const config = loadCentralConfig(env);
    const out = await sendWeeklyReport({
      config,
      store,
      log: new AutomationLog(config.paths.automationLog),
      composer: fleetComposer(["web-01"]),
      week: "2026-W47",
    });
    expect(out[0]!.status).toBe("pending");
    expect(out[0]!.transport).toBe(`smtp://reports:***@127.0.0.1:${port}`);
    const text = readFileSync(config.paths.automationLog, "utf8");
    expect(text).toContain("reports:***@");
    expect(text).not.toContain("hunter2");
    expect(JSON.stringify(out)).not.toContain("hunter2");
  });
});
