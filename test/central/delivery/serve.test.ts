import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { REPO_ROOT, srvutilCommand } from "../../helpers/cli.js";
import { fakedClockEnv } from "../../helpers/clock.js";
import { type SmtpFixture, startSmtpServer } from "../mail/smtp-fixture.js";
import { openDeliveryDb, readLog, waitFor } from "./helpers.js";
import { ingestWeek } from "./week-fixture.js";

const children: ChildProcess[] = [];
const servers: SmtpFixture[] = [];
let dir: string | null = null;

afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  await Promise.all(servers.splice(0).map((s) => s.close()));
  if (dir !== null) rmSync(dir, { recursive: true, force: true });
  dir = null;
});

function serve(env: NodeJS.ProcessEnv): {
  child: ChildProcess;
  listening: Promise<void>;
  exited: Promise<number | null>;
} {
  const [cmd, args] = srvutilCommand(["central", "serve"]);
  const child = spawn(cmd, args, { cwd: REPO_ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let stderr = "";
  child.stderr!.on("data", (d) => {
    stderr += d;
  });
  const listening = new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", (d: Buffer) => {
      if (d.toString().includes("listening on")) resolve();
    });
    child.on("close", (code) => reject(new Error(`central serve exited ${code}: ${stderr}`)));
  });
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  return { child, listening, exited };
}

// Two real `srvutil central serve` processes on one database. Needs the report module.
describe("two `srvutil central serve` processes on the same database", () => {
  it("deliver each (week, group) exactly once", async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-serve-"));
    // The mail server answers nothing until both processes listen, so the one that starts
    // first cannot finish the queue alone: they really compete for the deliveries.
    let open = () => {};
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const smtp = await startSmtpServer({ dataDelayMs: 50, gate });
    servers.push(smtp);
    const dbFile = path.join(dir, "srvutil.db");
    await ingestWeek(dbFile);
    const groupsFile = path.join(dir, "groups.json");
    writeFileSync(
      groupsFile,
      JSON.stringify({
        groups: [
          { name: "web", servers: ["web-*"], to: ["web@example.com"] },
          { name: "db", servers: ["db-*"], to: ["db@example.com"] },
        ],
      }),
    );
    // Deliveries queued earlier (e.g. by `report send` while SMTP was down) and not yet sent.
    const { db, store } = openDeliveryDb(dbFile);
    await store.init();
    const now = Date.now();
    for (const week of ["2026-W44", "2026-W45", "2026-W46"]) {
      for (const group of ["default", "web", "db"]) {
        await store.enqueue({ week, group }, { now, trigger: "manual", retryUntil: now + 60_000 });
      }
    }
    db.close();
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      ...fakedClockEnv(), // queued at this process's Date.now(): the servers must share its clock
      SRVUTIL_DATA_DIR: dir,
      SRVUTIL_LISTEN: "127.0.0.1:0",
      SRVUTIL_REPORT_TZ: "Europe/Berlin",
      SRVUTIL_REPORT_TO: "ops@example.com",
      SRVUTIL_SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
      SRVUTIL_GROUPS_FILE: groupsFile,
      SRVUTIL_REPORT_CRON: "* * * * * *", // every second: both processes see every tick
      SRVUTIL_DELIVERY_POLL_SECONDS: "0.1",
      // A transient failure (e.g. the report's tables being created by the other process) is retried quickly.
      SRVUTIL_DELIVERY_RETRY_INITIAL_SECONDS: "0.5",
    };
    const a = serve(env);
    const b = serve(env);
    await Promise.all([a.listening, b.listening]);
    open();
    // 9 queued + the schedule's "last week" for 3 groups.
    const logFile = path.join(dir, "Logs", "automation.log");
    try {
      await smtp.waitForMessages(12, 30_000);
    } catch (err) {
      const tail = readLog(logFile)
        .filter((l) => l.level !== "info")
        .slice(-5);
      throw new Error(`${(err as Error).message}; last problems in automation.log: ${JSON.stringify(tail)}`);
    }
    await waitFor(
      () => readLog(logFile).filter((l) => l.event === "schedule.run").length >= 2,
      10_000,
      "ticks",
    );
    a.child.kill("SIGTERM");
    b.child.kill("SIGTERM");
    expect(await a.exited).toBe(0);
    expect(await b.exited).toBe(0);

    expect(smtp.messages).toHaveLength(12);
    expect(new Set(smtp.messages.map((m) => m.parsed.messageId)).size).toBe(12);
    const lines = readLog(logFile);
    const ticks = lines.filter((l) => l.event === "schedule.run").map((l) => l.tick);
    expect(new Set(ticks).size).toBe(ticks.length); // no tick ran twice
    const owners = new Set(lines.filter((l) => l.event === "delivery.sent").map((l) => l.owner));
    expect(owners.size).toBe(2);
  }, 60_000);
});
