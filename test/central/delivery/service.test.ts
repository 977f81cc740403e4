import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AutomationLog } from "../../../src/central/automation-log.js";
import type { ReportComposer } from "../../../src/central/delivery/composer.js";
import { type DeliveryGroup, parseDeliveryGroups } from "../../../src/central/delivery/groups.js";
import { startDeliveryEngine } from "../../../src/central/delivery/scheduler.js";
import { DeliveryService, UnknownGroupError } from "../../../src/central/delivery/service.js";
import type { RetryPolicy } from "../../../src/central/delivery/settings.js";
import {
  createMailTransport,
  deliveryMessageId,
  type MailTransport,
} from "../../../src/central/mail/index.js";
import type { SqliteDeliveryStore } from "../../../src/central/storage/sqlite/deliveries.js";
import { freePort, type SmtpFixture, startSmtpServer } from "../mail/smtp-fixture.js";
import { fleetComposer, openDeliveryDb, readLog, waitFor } from "./helpers.js";

const FROM = "srvutil <reports@example.com>";
const FLEET = ["web-01", "web-02", "db-01", "cache-01"];
const FAST_RETRY: RetryPolicy = { initialDelayMs: 150, maxDelayMs: 600, retryForMs: 10_000 };

let dir: string;
let db: ReturnType<typeof openDeliveryDb>;
let log: AutomationLog;
const cleanup: Array<() => unknown> = [];

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-delivery-"));
  db = openDeliveryDb(path.join(dir, "srvutil.db"));
  log = new AutomationLog(path.join(dir, "Logs", "automation.log"));
});
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
  db.db.close();
  rmSync(dir, { recursive: true, force: true });
});

function groups(): DeliveryGroup[] {
  return parseDeliveryGroups(
    {
      default: { to: ["ops@example.com"] },
      groups: [
        {
          name: "web",
          servers: ["web-*"],
          to: ["web-team@example.com"],
          cc: ["lead@example.com"],
          bcc: ["audit@example.com"],
        },
        { name: "data", servers: ["db-??", "cache-*"], to: ["dba@example.com", "nobody@example.com"] },
      ],
    },
    [],
  );
}

async function service(
  smtpPort: number,
  over: { composer?: ReportComposer; retry?: RetryPolicy; store?: SqliteDeliveryStore } = {},
): Promise<{ svc: DeliveryService; transport: MailTransport }> {
  const transport = createMailTransport(
    { smtpUrl: `smtp://127.0.0.1:${smtpPort}`, outboxDir: path.join(dir, "outbox") },
    { timeoutMs: 3000 },
  );
  cleanup.push(() => transport.close());
  const store = over.store ?? db.store;
  await store.init();
  const svc = new DeliveryService({
    deliveries: store,
    transport,
    composer: over.composer ?? fleetComposer(FLEET),
    groups: groups(),
    log,
    mailFrom: FROM,
    timeZone: "Europe/Berlin",
    retry: over.retry ?? FAST_RETRY,
    leaseMs: 5_000,
  });
  return { svc, transport };
}

async function smtp(opts: Parameters<typeof startSmtpServer>[0] = {}): Promise<SmtpFixture> {
  const s = await startSmtpServer(opts);
  cleanup.push(() => s.close());
  return s;
}

describe("DeliveryService", () => {
  it("sends each group its own servers, to/cc/bcc, with the week, date range and action count in the subject", async () => {
    const server = await smtp();
    const { svc } = await service(server.port);
    await svc.enqueueWeek("2026-W47", { trigger: "manual" });
    const results = await svc.processDue();
    expect(results.map((r) => [r.group, r.state]).sort()).toEqual([
      ["data", "sent"],
      ["default", "sent"],
      ["web", "sent"],
    ]);
    expect(server.messages).toHaveLength(3);
    const byGroup = new Map(server.messages.map((m) => [String(m.parsed.headers.get("x-srvutil-group")), m]));
    const web = byGroup.get("web")!;
    expect(web.parsed.subject).toBe(
      "srvutil weekly report 2026-W47 (2026-11-16 to 2026-11-22): all 2 servers OK [web]",
    );
    expect(web.parsed.html).toContain("web-01");
    expect(web.parsed.html).not.toContain("db-01");
    expect(web.envelopeTo.sort()).toEqual(["audit@example.com", "lead@example.com", "web-team@example.com"]);
    expect(web.parsed.messageId).toBe(deliveryMessageId("2026-W47", "web", FROM));
    const data = byGroup.get("data")!;
    expect(data.parsed.subject).toContain("1 of 2 servers needs action [data]");
    expect(data.parsed.text).toContain("cache-01");
    const fleet = byGroup.get("default")!;
    expect(fleet.parsed.subject).toBe(
      "srvutil weekly report 2026-W47 (2026-11-16 to 2026-11-22): 1 of 4 servers needs action",
    );

    const rows = await db.store.list();
    expect(
      rows.every((r) => r.state === "sent" && r.attempts === 1 && r.smtpResponse?.startsWith("250")),
    ).toBe(true);
    // Queuing the same week again changes nothing: exactly once.
    const again = await svc.enqueueWeek("2026-W47", { trigger: "schedule" });
    expect(again.every((q) => q.outcome === "unchanged")).toBe(true);
    expect(await svc.processDue()).toEqual([]);
    expect(server.messages).toHaveLength(3);

    const events = readLog(log.file).map((l) => l.event);
    for (const e of [
      "delivery.queued",
      "delivery.building",
      "delivery.built",
      "delivery.sending",
      "delivery.sent",
    ]) {
      expect(events).toContain(e);
    }
    const sent = readLog(log.file).find((l) => l.event === "delivery.sent" && l.group === "web")!;
    expect(sent.message_id).toBe(deliveryMessageId("2026-W47", "web", FROM));
  });

  it("the server is down at send time, then back: retried with backoff and delivered once", async () => {
    const port = await freePort();
    const { svc } = await service(port);
    await svc.enqueueWeek("2026-W47", { trigger: "schedule", groups: ["web"] });
    const first = await svc.processDue();
    expect(first).toHaveLength(1);
    expect(first[0]!.state).toBe("pending");
    expect(first[0]!.error).toMatch(/ECONNREFUSED|connect/i);
    const row = (await db.store.get({ week: "2026-W47", group: "web" }))!;
    expect(row.state).toBe("pending");
    expect(row.nextAttemptAt - row.updatedAt).toBe(150);
    // Not due yet: nothing happens before the backoff delay.
    expect(await svc.processDue()).toEqual([]);

    const server = await smtp({ port });
    await new Promise((r) => setTimeout(r, 200));
    const second = await svc.processDue();
    expect(second.map((r) => r.state)).toEqual(["sent"]);
    expect(server.messages).toHaveLength(1);
    expect((await db.store.get({ week: "2026-W47", group: "web" }))!).toMatchObject({
      state: "sent",
      attempts: 2,
    });
    const events = readLog(log.file).map((l) => l.event);
    expect(events.filter((e) => e === "delivery.retry_scheduled")).toHaveLength(1);
    expect(events.filter((e) => e === "delivery.sent")).toHaveLength(1);
  });

  it("backs off exponentially and marks the delivery failed when the retry window closes", async () => {
    const port = await freePort();
    const { svc } = await service(port, { retry: { initialDelayMs: 50, maxDelayMs: 100, retryForMs: 400 } });
    await svc.enqueueWeek("2026-W47", { trigger: "schedule", groups: ["web"] });
    const delays: number[] = [];
    await waitFor(async () => {
      for (const r of await svc.processDue()) {
        if (r.state === "pending") delays.push(r.nextAttemptAt! - Date.now());
      }
      return (await db.store.get({ week: "2026-W47", group: "web" }))!.state === "failed";
    }, 5000);
    const row = (await db.store.get({ week: "2026-W47", group: "web" }))!;
    expect(row.lastError).toMatch(/gave up after \d+ attempts/);
    expect(row.attempts).toBeGreaterThanOrEqual(3);
    expect(delays[0]!).toBeLessThanOrEqual(50);
    expect(Math.max(...delays)).toBeGreaterThan(50); // doubled, capped at 100
    const failed = readLog(log.file).filter((l) => l.event === "delivery.failed");
    expect(failed).toHaveLength(1);
    expect(failed[0]!.level).toBe("error");
  });

  it("a recipient the server rejects is recorded while the others get the mail; rejecting all fails at once", async () => {
    const server = await smtp({ rejectRecipients: ["nobody@example.com", "ops@example.com"] });
    const { svc } = await service(server.port);
    await svc.enqueueWeek("2026-W47", { trigger: "manual", groups: ["data", "default"] });
    const results = await svc.processDue();
    const data = results.find((r) => r.group === "data")!;
    expect(data.state).toBe("sent");
    expect(server.messages).toHaveLength(1);
    expect(server.messages[0]!.envelopeTo).toEqual(["dba@example.com"]);
    expect((await db.store.get({ week: "2026-W47", group: "data" }))!.rejected).toEqual([
      "nobody@example.com",
    ]);
    const def = results.find((r) => r.group === "default")!;
    expect(def.state).toBe("failed"); // 550 to the only recipient: retrying cannot help
    const row = (await db.store.get({ week: "2026-W47", group: "default" }))!;
    expect(row).toMatchObject({ state: "failed", attempts: 1 });
    expect(row.lastError).toMatch(/550|no such user|Recipient/i);
    // A manual send may retry a failed delivery (it was never delivered); it is not counted as a resend.
    const retried = await svc.enqueueWeek("2026-W47", {
      trigger: "manual",
      groups: ["default"],
      retryFailed: true,
    });
    expect(retried[0]!.outcome).toBe("requeued");
    expect((await db.store.get({ week: "2026-W47", group: "default" }))!).toMatchObject({
      state: "pending",
      attempts: 0,
      resends: 0,
    });
    const sentAgain = await svc.enqueueWeek("2026-W47", {
      trigger: "manual",
      groups: ["data"],
      retryFailed: true,
    });
    expect(sentAgain[0]!.outcome).toBe("unchanged"); // sent stays sent without --resend
    const lines = readLog(log.file);
    expect(lines.find((l) => l.event === "delivery.recipients_rejected")?.rejected).toEqual([
      "nobody@example.com",
    ]);
    expect(lines.find((l) => l.event === "delivery.failed")?.group).toBe("default");
  });

  it("--resend sends a sent delivery again with the same Message-ID, marked as a resend", async () => {
    const server = await smtp();
    const { svc } = await service(server.port);
    await svc.enqueueWeek("2026-W47", { trigger: "manual", groups: ["web"] });
    await svc.processDue();
    const requeued = await svc.enqueueWeek("2026-W47", { trigger: "resend", groups: ["web"], resend: true });
    expect(requeued[0]!.outcome).toBe("requeued");
    await svc.processDue();
    expect(server.messages).toHaveLength(2);
    expect(server.messages[1]!.parsed.messageId).toBe(server.messages[0]!.parsed.messageId);
    expect(server.messages[1]!.parsed.headers.get("x-srvutil-resend")).toBe("1");
    expect((await db.store.get({ week: "2026-W47", group: "web" }))!).toMatchObject({
      state: "sent",
      resends: 1,
    });
    expect(() => svc.selectGroups(["nope"])).toThrow(UnknownGroupError);
  });

  it("a report that fails to build is retried, then sent", async () => {
    const server = await smtp();
    let calls = 0;
    const real = fleetComposer(FLEET);
    const flaky: ReportComposer = async (req) => {
      calls++;
      if (calls === 1) throw new Error("database is locked");
      return real(req);
    };
    const { svc } = await service(server.port, { composer: flaky });
    await svc.enqueueWeek("2026-W47", { trigger: "schedule", groups: ["web"] });
    expect((await svc.processDue())[0]!.error).toMatch(/building the report failed: database is locked/);
    await waitFor(async () => (await svc.processDue()).some((r) => r.state === "sent"), 3000);
    expect(server.messages).toHaveLength(1);
  });
});

describe("leases", () => {
  it("an attempt slower than the lease keeps it (renewed), so a second process never takes over", async () => {
    const server = await smtp();
    const real = fleetComposer(FLEET);
    const slow: ReportComposer = async (req) => {
      await new Promise((r) => setTimeout(r, 900)); // three lease lengths
      return real(req);
    };
    const mk = async (owner: string, store: SqliteDeliveryStore) => {
      const transport = createMailTransport(
        { smtpUrl: `smtp://127.0.0.1:${server.port}`, outboxDir: dir },
        {},
      );
      cleanup.push(() => transport.close());
      return new DeliveryService({
        deliveries: store,
        transport,
        composer: slow,
        groups: groups(),
        log,
        mailFrom: FROM,
        timeZone: "UTC",
        retry: FAST_RETRY,
        leaseMs: 300,
        owner,
      });
    };
    await db.store.init();
    const a = await mk("A", db.store);
    const other = openDeliveryDb(path.join(dir, "srvutil.db"));
    cleanup.push(() => other.db.close());
    const b = await mk("B", other.store);
    await a.enqueueWeek("2026-W47", { trigger: "manual", groups: ["web"] });
    const attemptA = a.processDue();
    const claimsByB: number[] = [];
    const until = Date.now() + 1200;
    while (Date.now() < until) {
      claimsByB.push((await b.processDue()).length);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect((await attemptA).map((r) => r.state)).toEqual(["sent"]);
    expect(claimsByB.every((n) => n === 0)).toBe(true);
    expect(server.messages).toHaveLength(1);
    expect(readLog(log.file).some((l) => l.event === "delivery.lease_lost")).toBe(false);
  });
});

describe("restart in the middle of a retry", () => {
  it("a new process resumes the pending delivery and delivers it once", async () => {
    const port = await freePort();
    const settings = {
      cron: null,
      groupsFile: null,
      retry: { initialDelayMs: 300, maxDelayMs: 300, retryForMs: 30_000 },
      pollMs: 50,
      leaseMs: 5_000,
    };
    const transportA = createMailTransport({ smtpUrl: `smtp://127.0.0.1:${port}`, outboxDir: dir }, {});
    const engineA = await startDeliveryEngine({
      deliveries: db.store,
      transport: transportA,
      composer: fleetComposer(FLEET),
      groups: groups(),
      log,
      mailFrom: FROM,
      timeZone: "Europe/Berlin",
      settings,
      owner: "process-A",
    });
    await engineA.service.enqueueWeek("2026-W47", { trigger: "schedule" });
    await waitFor(
      async () => (await db.store.list()).every((r) => r.state === "pending" && r.attempts >= 1),
      5000,
      "first failed attempts",
    );
    await engineA.stop(); // the "crash": A is gone while the retries are pending

    const server = await smtp({ port });
    const dbB = openDeliveryDb(path.join(dir, "srvutil.db")); // B has its own connection, like a new process
    cleanup.push(() => dbB.db.close());
    const engineB = await startDeliveryEngine({
      deliveries: dbB.store,
      transport: createMailTransport({ smtpUrl: `smtp://127.0.0.1:${port}`, outboxDir: dir }, {}),
      composer: fleetComposer(FLEET),
      groups: groups(),
      log,
      mailFrom: FROM,
      timeZone: "Europe/Berlin",
      settings,
      owner: "process-B",
    });
    cleanup.push(() => engineB.stop());
    await server.waitForMessages(3, 5000);
    await waitFor(async () => (await dbB.store.list()).every((r) => r.state === "sent"), 5000, "all sent");
    await new Promise((r) => setTimeout(r, 400)); // a second retry round would show up here
    expect(server.messages).toHaveLength(3);
    const ids = server.messages.map((m) => m.parsed.messageId);
    expect(new Set(ids).size).toBe(3);
    const sentBy = readLog(log.file).filter((l) => l.event === "delivery.sent");
    expect(sentBy).toHaveLength(3);
  });
});
