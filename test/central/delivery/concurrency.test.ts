import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { WEEKLY_SCHEDULE } from "../../../src/central/delivery/scheduler.js";
import { type SmtpFixture, startSmtpServer } from "../mail/smtp-fixture.js";
import { openDeliveryDb, readLog, waitFor } from "./helpers.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, "../../..");
const SCRIPT = path.join(HERE, "fixtures/engine-process.ts");
const GROUPS = {
  groups: [
    { name: "web", servers: ["web-*"], to: ["web@example.com"] },
    { name: "db", servers: ["db-*"], to: ["db@example.com"] },
  ],
};

let dir: string;
const children: ChildProcess[] = [];
const servers: SmtpFixture[] = [];

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-conc-"));
});
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  await Promise.all(servers.splice(0).map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

function startEngineProcess(env: Record<string, string>): {
  child: ChildProcess;
  ready: Promise<void>;
  exited: Promise<number | null>;
} {
  const child = spawn(process.execPath, ["--import", "tsx", SCRIPT], {
    cwd: REPO,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let stderr = "";
  child.stderr!.on("data", (d) => {
    stderr += d;
  });
  const ready = new Promise<void>((resolve) => {
    child.stdout!.on("data", (d: Buffer) => {
      if (d.toString().includes("ready")) resolve();
    });
  });
  const exited = new Promise<number | null>((resolve) => {
    child.on("close", (code) => {
      if (code !== 0 && code !== null) console.error(stderr);
      resolve(code);
    });
  });
  return { child, ready, exited };
}

describe("two processes on the same database", () => {
  it("deliver each (week, group) exactly once and run a missed schedule tick once", async () => {
    const server = await startSmtpServer({ dataDelayMs: 50 });
    servers.push(server);
    const dbFile = path.join(dir, "srvutil.db");
    const logFile = path.join(dir, "Logs", "automation.log");
    const { db, store } = openDeliveryDb(dbFile);
    await store.init();
    const now = Date.now();
    for (const week of ["2026-W40", "2026-W41", "2026-W42", "2026-W43"]) {
      for (const group of ["default", "web", "db"]) {
        await store.enqueue({ week, group }, { now, trigger: "schedule", retryUntil: now + 60_000 });
      }
    }
    // The last recorded tick is weeks old: both processes will see a missed run at start.
    await store.claimScheduledTick(WEEKLY_SCHEDULE, Date.parse("2026-10-05T05:00:00Z"), now);
    db.close();

    const common = {
      DB_FILE: dbFile,
      LOG_FILE: logFile,
      SMTP_PORT: String(server.port),
      GROUPS_JSON: JSON.stringify(GROUPS),
      GO_FILE: path.join(dir, "go"),
      EXPECT_ROWS: "15",
    };
    const a = startEngineProcess({ ...common, OWNER: "serve-A" });
    const b = startEngineProcess({ ...common, OWNER: "serve-B" });
    await Promise.all([a.ready, b.ready]);
    writeFileSync(path.join(dir, "go"), ""); // both start competing now
    expect(await a.exited).toBe(0);
    expect(await b.exited).toBe(0);

    expect(server.messages).toHaveLength(15);
    const ids = server.messages.map((m) => m.parsed.messageId);
    expect(new Set(ids).size).toBe(15);
    const check = openDeliveryDb(dbFile);
    const rows = await check.store.list();
    check.db.close();
    expect(rows).toHaveLength(15);
    expect(rows.every((r) => r.state === "sent" && r.attempts === 1)).toBe(true);

    const lines = readLog(logFile);
    const runs = lines.filter((l) => l.event === "schedule.run");
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ catch_up: true });
    const sent = lines.filter((l) => l.event === "delivery.sent");
    expect(sent).toHaveLength(15);
    const owners = new Set(sent.map((l) => l.owner));
    expect(owners).toEqual(new Set(["serve-A", "serve-B"])); // both really competed
  }, 40_000);

  it("a process killed mid-send: the other takes over when the lease expires and delivers once", async () => {
    let stalled = false;
    const server = await startSmtpServer({
      stallData: () => {
        if (stalled) return false;
        stalled = true;
        return true;
      },
    });
    servers.push(server);
    const dbFile = path.join(dir, "srvutil.db");
    const logFile = path.join(dir, "Logs", "automation.log");
    const { db, store } = openDeliveryDb(dbFile);
    await store.init();
    await store.enqueue(
      { week: "2026-W47", group: "web" },
      { now: Date.now(), trigger: "schedule", retryUntil: Date.now() + 60_000 },
    );
    db.close();
    const common = {
      DB_FILE: dbFile,
      LOG_FILE: logFile,
      SMTP_PORT: String(server.port),
      GROUPS_JSON: JSON.stringify(GROUPS),
      LEASE_SECONDS: "1.5",
      EXPECT_ROWS: "1",
      CRON: "0 0 1 1 *", // the schedule stays out of this test
    };
    const a = startEngineProcess({ ...common, OWNER: "serve-A" });
    await waitFor(() => stalled, 15_000, "process A to reach DATA");
    await new Promise((r) => setTimeout(r, 200));
    a.child.kill("SIGKILL");
    await a.exited;

    const b = startEngineProcess({ ...common, OWNER: "serve-B" });
    expect(await b.exited).toBe(0);
    expect(server.messages).toHaveLength(1);
    const check = openDeliveryDb(dbFile);
    const row = (await check.store.get({ week: "2026-W47", group: "web" }))!;
    check.db.close();
    expect(row).toMatchObject({ state: "sent", attempts: 2 });
    const resumed = readLog(logFile).find((l) => l.event === "delivery.resumed_after_crash");
    expect(resumed).toMatchObject({ owner: "serve-B", previous_owner: "serve-A" });
  }, 40_000);

  it("start together on a fresh database: the schema is created once, neither process fails", async () => {
    const server = await startSmtpServer();
    servers.push(server);
    const dbFile = path.join(dir, "fresh.db");
    const common = {
      DB_FILE: dbFile,
      LOG_FILE: path.join(dir, "Logs", "automation.log"),
      SMTP_PORT: String(server.port),
      GROUPS_JSON: JSON.stringify(GROUPS),
      GO_FILE: path.join(dir, "go"),
      EXPECT_ROWS: "0",
    };
    const procs = ["A", "B"].map((n) => startEngineProcess({ ...common, OWNER: `serve-${n}` }));
    await Promise.all(procs.map((p) => p.ready));
    writeFileSync(path.join(dir, "go"), "");
    for (const p of procs) expect(await p.exited).toBe(0);
    const check = openDeliveryDb(dbFile);
    const versions = check.db
      .prepare("SELECT version FROM schema_migrations WHERE component = 'deliveries'")
      .pluck()
      .all();
    check.db.close();
    expect(versions).toEqual([1]);
    const initialized = readLog(common.LOG_FILE).filter((l) => l.event === "schedule.initialized");
    expect(initialized).toHaveLength(1);
  }, 40_000);
});
