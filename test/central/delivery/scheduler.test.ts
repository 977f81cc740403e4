import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { simpleParser } from "mailparser";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AutomationLog } from "../../../src/central/automation-log.js";
import { loadCentralConfig } from "../../../src/central/config.js";
import { parseDeliveryGroups } from "../../../src/central/delivery/groups.js";
import {
  type DeliveryEngineOptions,
  startDeliveryEngine,
  startDeliveryScheduler,
} from "../../../src/central/delivery/scheduler.js";
import type { DeliverySettings } from "../../../src/central/delivery/settings.js";
import { createMailTransport } from "../../../src/central/mail/index.js";
import { openStorage } from "../../../src/central/storage/open.js";
import { SqliteDeliveryStore } from "../../../src/central/storage/sqlite/deliveries.js";
import type { SqliteStore } from "../../../src/central/storage/sqlite/sqlite-store.js";
import { type SmtpFixture, startSmtpServer } from "../mail/smtp-fixture.js";
import { fleetComposer, openDeliveryDb, readLog, waitFor } from "./helpers.js";
import { ingestWeek } from "./week-fixture.js";

const FLEET = ["web-01", "db-01"];
let dir: string;
let log: AutomationLog;
const cleanup: Array<() => unknown> = [];

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-sched-"));
  log = new AutomationLog(path.join(dir, "Logs", "automation.log"));
});
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
});

function settings(over: Partial<DeliverySettings> = {}): DeliverySettings {
  return {
    cron: "0 7 * * 1",
    groupsFile: null,
    retry: { initialDelayMs: 100, maxDelayMs: 100, retryForMs: 10_000 },
    pollMs: 50,
    leaseMs: 5_000,
    ...over,
  };
}

function engineOptions(
  store: SqliteDeliveryStore,
  over: Partial<DeliveryEngineOptions> = {},
): DeliveryEngineOptions {
  return {
    deliveries: store,
    transport: createMailTransport({ smtpUrl: null, outboxDir: path.join(dir, "outbox") }),
    composer: fleetComposer(FLEET),
    groups: parseDeliveryGroups({}, ["ops@example.com"]),
    log,
    mailFrom: "srvutil <reports@example.com>",
    timeZone: "Europe/Berlin",
    settings: settings(),
    ...over,
  };
}

describe("weekly schedule", () => {
  it("initializes on first start, then after three missed Mondays catches up once, for the last week", async () => {
    const { db, store } = openDeliveryDb(path.join(dir, "srvutil.db"));
    cleanup.push(() => db.close());
    let now = Date.parse("2026-11-04T10:00:00Z"); // a Wednesday
    const clock = () => now;

    const first = await startDeliveryEngine(engineOptions(store, { clock }));
    await first.stop();
    expect(await store.list()).toEqual([]);
    expect(readLog(log.file).some((l) => l.event === "schedule.initialized")).toBe(true);

    now = Date.parse("2026-11-25T12:00:00Z"); // down over Nov 9, 16 and 23
    const second = await startDeliveryEngine(engineOptions(store, { clock }));
    cleanup.push(() => second.stop());
    await waitFor(
      async () => (await store.list()).every((r) => r.state === "sent") && (await store.list()).length > 0,
    );
    const rows = await store.list();
    expect(rows.map((r) => [r.week, r.group, r.trigger])).toEqual([["2026-W47", "default", "catch-up"]]);
    const run = readLog(log.file).filter((l) => l.event === "schedule.run");
    expect(run).toHaveLength(1);
    expect(run[0]).toMatchObject({
      week: "2026-W47",
      catch_up: true,
      skipped_missed_runs: 2,
      groups: ["default"],
    });
    expect(run[0]!.tick).toBe("2026-11-23T06:00:00.000Z"); // Monday 07:00 in Berlin
    expect(readdirSync(path.join(dir, "outbox"))).toEqual(["2026-W47.default.eml"]);

    // Checking again, or restarting, does not run it twice.
    expect((await second.checkSchedule()).tick).toBeNull();
    await second.stop();
    const third = await startDeliveryEngine(engineOptions(store, { clock }));
    cleanup.push(() => third.stop());
    expect((await third.checkSchedule()).tick).toBeNull();

    // The next Monday 07:00 Berlin is an ordinary (on-time) run for W48.
    now = Date.parse("2026-11-30T06:00:00.400Z");
    const next = await third.checkSchedule();
    expect(next).toMatchObject({ week: "2026-W48", catchUp: false });
    expect(third.nextRun()?.toISOString()).toBe("2026-12-07T06:00:00.000Z");
    await waitFor(async () => (await store.get({ week: "2026-W48", group: "default" }))?.state === "sent");
    expect((await store.list()).map((r) => r.week)).toEqual(["2026-W48", "2026-W47"]);
  });

  it("computes ticks in the report time zone across the end of DST", async () => {
    const { db, store } = openDeliveryDb(path.join(dir, "srvutil.db"));
    cleanup.push(() => db.close());
    // Last run Monday 2026-10-19 07:00 CEST (05:00Z); DST ends Sunday 2026-10-25.
    await store.init();
    await store.claimScheduledTick("weekly-report", Date.parse("2026-10-19T05:00:00Z"), 0);
    const now = Date.parse("2026-10-26T06:00:01Z"); // Monday 07:00:01 CET
    const engine = await startDeliveryEngine(engineOptions(store, { clock: () => now }));
    cleanup.push(() => engine.stop());
    const run = readLog(log.file).find((l) => l.event === "schedule.run")!;
    expect(run).toMatchObject({ tick: "2026-10-26T06:00:00.000Z", week: "2026-W43", catch_up: false });
    expect(engine.nextRun()?.toISOString()).toBe("2026-11-02T06:00:00.000Z");
  });

  it("croner fires the configured expression in the report time zone and queues the week once", async () => {
    const server: SmtpFixture = await startSmtpServer();
    cleanup.push(() => server.close());
    const { db, store } = openDeliveryDb(path.join(dir, "srvutil.db"));
    cleanup.push(() => db.close());
    const engine = await startDeliveryEngine(
      engineOptions(store, {
        settings: settings({ cron: "* * * * * *" }), // every second
        transport: createMailTransport({ smtpUrl: `smtp://127.0.0.1:${server.port}`, outboxDir: dir }, {}),
      }),
    );
    cleanup.push(() => engine.stop());
    await server.waitForMessages(1, 5000);
    await waitFor(
      () => readLog(log.file).filter((l) => l.event === "schedule.run").length >= 2,
      5000,
      "2 ticks",
    );
    await engine.stop();
    // Every tick names the same "previous week": one delivery, one message.
    expect(server.messages).toHaveLength(1);
    const runs = readLog(log.file).filter((l) => l.event === "schedule.run");
    expect(runs.every((r) => r.catch_up === false)).toBe(true);
    expect(server.messages[0]!.parsed.subject).toContain(String(runs[0]!.week));
  });
});

describe("startDeliveryScheduler (the `central serve` entry point)", () => {
  it("uses the central store, the groups file and the outbox when no SMTP is configured", async () => {
    const groupsFile = path.join(dir, "groups.json");
    writeFileSync(
      groupsFile,
      JSON.stringify({
        default: { enabled: false },
        groups: [{ name: "web", servers: ["web-*"], to: ["w@example.com"] }],
      }),
    );
    const env = {
      SRVUTIL_DATA_DIR: dir,
      SRVUTIL_REPORT_TZ: "Europe/Berlin",
      SRVUTIL_GROUPS_FILE: groupsFile,
      SRVUTIL_REPORT_CRON: "0 7 * * 1",
      SRVUTIL_DELIVERY_POLL_SECONDS: "0.05",
    };
    const config = loadCentralConfig(env);
    const store = await openStorage(config.dbUrl);
    cleanup.push(() => store.close());
    // A delivery left pending by an earlier run is resumed at start.
    const deliveries = new SqliteDeliveryStore((store as SqliteStore).db);
    await deliveries.init();
    await deliveries.enqueue(
      { week: "2026-W47", group: "web" },
      { now: Date.now(), trigger: "schedule", retryUntil: Date.now() + 60_000 },
    );

    const running = await startDeliveryScheduler({ config, store, log, composer: fleetComposer(FLEET) });
    cleanup.push(() => running.stop());
    await waitFor(
      async () => (await deliveries.get({ week: "2026-W47", group: "web" }))?.state === "sent",
      5000,
    );
    await running.stop();
    const eml = path.join(config.paths.outbox, "2026-W47.web.eml");
    const parsed = await simpleParser(readFileSync(eml));
    expect(parsed.subject).toContain("2026-W47 (2026-11-16 to 2026-11-22)");
    expect(parsed.html).toContain("web-01");
    expect(parsed.html).not.toContain("db-01");
    const started = readLog(log.file).find((l) => l.event === "scheduler.started")!;
    expect(started).toMatchObject({ cron: "0 7 * * 1", timezone: "Europe/Berlin", groups: ["web"] });
  });

  it("reads its settings from the environment with clear errors", () => {
    const loadDeliverySettings = (env: Record<string, string>) => loadCentralConfig(env).delivery;
    expect(loadDeliverySettings({}).cron).toBe("0 7 * * 1");
    expect(loadDeliverySettings({ SRVUTIL_REPORT_CRON: "off" }).cron).toBeNull();
    expect(() => loadDeliverySettings({ SRVUTIL_REPORT_CRON: "every monday" })).toThrow(
      /SRVUTIL_REPORT_CRON/,
    );
    expect(() => loadDeliverySettings({ SRVUTIL_DELIVERY_RETRY_HOURS: "-1" })).toThrow(
      /SRVUTIL_DELIVERY_RETRY_HOURS/,
    );
    expect(() =>
      loadDeliverySettings({
        SRVUTIL_DELIVERY_RETRY_INITIAL_SECONDS: "600",
        SRVUTIL_DELIVERY_RETRY_MAX_SECONDS: "60",
      }),
    ).toThrow(/RETRY_MAX_SECONDS/);
    expect(loadDeliverySettings({ SRVUTIL_DELIVERY_RETRY_HOURS: "0.5" }).retry.retryForMs).toBe(1_800_000);
  });
});

// Needs the report module (buildWeeklyReport / renderReport); runs once it is implemented.
describe("startDeliveryScheduler with the real weekly report", () => {
  it("emails each group the report of its servers over SMTP", async () => {
    const server = await startSmtpServer();
    cleanup.push(() => server.close());
    const groupsFile = path.join(dir, "groups.json");
    writeFileSync(
      groupsFile,
      JSON.stringify({ groups: [{ name: "db", servers: ["db-*"], to: ["dba@example.com"] }] }),
    );
    const env = {
      SRVUTIL_DATA_DIR: dir,
      SRVUTIL_REPORT_TZ: "Europe/Berlin",
      SRVUTIL_REPORT_TO: "ops@example.com",
      SRVUTIL_SMTP_URL: `smtp://127.0.0.1:${server.port}`,
      SRVUTIL_GROUPS_FILE: groupsFile,
      SRVUTIL_DELIVERY_POLL_SECONDS: "0.05",
    };
    const config = loadCentralConfig(env);
    await ingestWeek(path.join(dir, "srvutil.db"));
    const store = await openStorage(config.dbUrl);
    cleanup.push(() => store.close());
    const deliveries = new SqliteDeliveryStore((store as SqliteStore).db);
    await deliveries.init();
    for (const group of ["default", "db"]) {
      await deliveries.enqueue(
        { week: "2026-W47", group },
        { now: Date.now(), trigger: "schedule", retryUntil: Date.now() + 60_000 },
      );
    }
    const running = await startDeliveryScheduler({ config, store, log });
    cleanup.push(() => running.stop());
    await server.waitForMessages(2, 20_000);
    await running.stop();
    const byGroup = new Map(
      server.messages.map((m) => [String(m.parsed.headers.get("x-srvutil-group")), m.parsed]),
    );
    const fleet = byGroup.get("default")!;
    expect(fleet.subject).toMatch(
      /^srvutil weekly report 2026-W47 \(2026-11-16 to 2026-11-22\): \d+ of 2 servers? needs? action$/,
    );
    expect(fleet.html).toContain("web-01");
    expect(fleet.html).toContain("db-01");
    const db = byGroup.get("db")!;
    expect(db.html).toContain("db-01");
    expect(db.html).not.toContain("web-01");
    expect(db.subject).toContain("[db]");
  }, 60_000);
});
