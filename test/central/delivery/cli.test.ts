import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { SqliteDeliveryStore } from "../../../src/central/storage/sqlite/deliveries.js";
import { EXIT_CODE } from "../../../src/errors.js";
import { runCli } from "../../helpers/cli.js";
import { type SmtpFixture, startSmtpServer } from "../mail/smtp-fixture.js";
import { openDeliveryDb } from "./helpers.js";
import { ingestWeek } from "./week-fixture.js";

let dir: string;
const servers: SmtpFixture[] = [];
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-cli-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

function env(dataDir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    SRVUTIL_DATA_DIR: dataDir,
    SRVUTIL_REPORT_TZ: "Europe/Berlin",
    SRVUTIL_REPORT_TO: "ops@example.com",
    ...extra,
  };
}

describe("srvutil report status / send (arguments and listing)", () => {
  it("lists recorded deliveries as a table and as JSON", async () => {
    const data = path.join(dir, "status");
    mkdirSync(data, { recursive: true });
    const { db, store } = openDeliveryDb(path.join(data, "srvutil.db"));
    await store.init();
    const now = Date.parse("2026-11-23T06:00:00Z");
    await store.enqueue(
      { week: "2026-W47", group: "default" },
      { now, trigger: "schedule", retryUntil: now + 1000 },
    );
    await store.enqueue(
      { week: "2026-W46", group: "web" },
      { now, trigger: "schedule", retryUntil: now + 1000 },
    );
    const claimed = await store.claimNext({
      owner: "t",
      now,
      leaseMs: 1000,
      only: [{ week: "2026-W46", group: "web" }],
    });
    await (store as SqliteDeliveryStore).markSent(
      { week: claimed!.week, group: claimed!.group },
      { owner: "t", now, messageId: "<m@x>", response: "250 OK queued", rejected: [], recipients: "{}" },
    );
    db.close();

    const table = await runCli(["report", "status"], env(data));
    expect(table.code).toBe(0);
    const lines = table.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^schedule: 0 7 \* \* 1 \(Europe\/Berlin\), last run never, next run 20\d\d-/);
    // Recipients without an SMTP server: the status says that nothing is sent.
    expect(lines[1]).toBe(
      `mail: NOT SENT. SRVUTIL_SMTP_URL is unset, so the emails for 1 recipient are only written to ${path.join(data, "outbox")} (0 there); set SRVUTIL_SMTP_URL (docs/mail.md) and check it with \`srvutil report test-mail --to ADDRESS\``,
    );
    expect(lines[2]).toMatch(/^WEEK\s+GROUP\s+STATE\s+ATTEMPTS/);
    expect(lines[3]).toMatch(/^2026-W47\s+default\s+pending\s+0/);
    expect(lines[4]).toMatch(/^2026-W46\s+web\s+sent\s+1 .*<m@x> 250 OK queued/);

    const json = await runCli(["report", "status", "--state", "sent", "--json"], env(data));
    const rows = JSON.parse(json.stdout) as Array<Record<string, unknown>>;
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ week: "2026-W46", group: "web", state: "sent", message_id: "<m@x>" });
  });

  it("refuses an unknown group with a message naming the option (exit code 64, bad input)", async () => {
    const data = path.join(dir, "bad");
    const group = await runCli(["report", "send", "--week", "2026-W47", "--group", "nope"], env(data));
    expect(group.code).toBe(EXIT_CODE.bad_input);
    expect(group.stderr).toContain("--group: no group named 'nope'; configured: default");
  });
});

// Needs the report module (buildWeeklyReport / renderReport); runs once it is implemented.
describe("srvutil report send with the real report", () => {
  it("sends by hand once, then says 'already sent' (resend: see send.test.ts)", async () => {
    const server = await startSmtpServer();
    servers.push(server);
    const data = path.join(dir, "send");
    await ingestWeek(path.join(data, "srvutil.db"));
    const smtpEnv = env(data, { SRVUTIL_SMTP_URL: `smtp://127.0.0.1:${server.port}` });

    const first = await runCli(["report", "send", "--week", "2026-W47"], smtpEnv);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(
      /2026-W47 default: sent via smtp:\/\/127\.0\.0\.1:\d+ as <srvutil\.2026-W47\.default\./,
    );
    expect(server.messages).toHaveLength(1);
    const msg = server.messages[0]!.parsed;
    expect(msg.subject).toContain("2026-W47 (2026-11-16 to 2026-11-22)");
    expect(msg.html).toContain("web-01");
    for (const cid of [...String(msg.html).matchAll(/cid:([^"')\s]+)/g)].map((m) => m[1])) {
      expect(msg.attachments.some((a) => a.cid === cid)).toBe(true);
    }
    // The full report is attached beside the digest.
    expect(
      msg.attachments.some(
        (a) => a.contentDisposition === "attachment" && a.filename === "srvutil-2026-W47.json",
      ),
    ).toBe(true);

    const again = await runCli(["report", "send", "--week", "2026-W47"], smtpEnv);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("already sent");
    expect(server.messages).toHaveLength(1);
  }, 60_000);
});
