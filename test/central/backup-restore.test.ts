import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { EXIT_CODE } from "../../src/errors.js";
import { runCli, srvutilCommand } from "../helpers/cli.js";
import { DAY_MS, fakedClockEnv, isoWeekAgo, isoWeekMondayAgo } from "../helpers/clock.js";
import { freePort } from "../helpers/net.js";
import { adminQuery, createTestSchema, findTestPostgres, requirePostgres } from "../helpers/postgres.js";
import { requireProgram } from "../helpers/programs.js";
import { DashboardClient } from "./dashboard/http-client.js";
import { csvFor } from "./ingest/fixtures.js";

// The disaster-recovery story of docs/operations.md, with real processes:
// a running `central serve` is backed up while uploads keep arriving, and
// the backup is restored on a "new machine" (a data directory that does not
// exist yet, a new process), which then serves, takes the old agent token,
// signs in the old user and reports the old weeks identically. Data ages
// relative to the real clock (2 and 6 weeks old), so the raw-sample horizon
// and the rollups are part of what is restored.

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(path.join(os.tmpdir(), "srvutil-restore-"));
  dirs.push(d);
  return d;
};
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  for (const d of dirs) rmSync(d, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
});

const USER = { name: "ops-admin", password: "restored password one" };
const PG = await findTestPostgres();

/** `db`: SRVUTIL_DB_URL, when the central is on PostgreSQL. */
const cliEnv = (data: string, db?: string): NodeJS.ProcessEnv => ({
  PATH: process.env.PATH,
  ...fakedClockEnv(), // nothing unless npm run test:future fakes this process's clock
  SRVUTIL_DATA_DIR: data,
  SRVUTIL_REPORT_TZ: "UTC",
  ...(db === undefined ? {} : { SRVUTIL_DB_URL: db }),
});

const lastLine = (s: string) => s.trim().split("\n").at(-1)!;

/**
 * The ISO week `weeksAgo` weeks before now, and instants in it: `minutes`
 * after Wednesday 10:00 UTC (below 5,000, so still in the week).
 */
function weekAgo(weeksAgo: number): { week: string; start: (minutes: number) => string } {
  const wednesday10 = isoWeekMondayAgo(weeksAgo) + 2 * DAY_MS + 10 * 3_600_000;
  return {
    week: isoWeekAgo(weeksAgo),
    start: (minutes) => new Date(wednesday10 + minutes * 60_000).toISOString(),
  };
}

/** `central token add web-01` and an admin USER on the central of `data` (and `db`); the agent token. */
async function enrol(data: string, db?: string): Promise<string> {
  const token = lastLine((await runCli(["central", "token", "add", "web-01"], cliEnv(data, db))).stdout);
  const passwordFile = path.join(tempDir(), "password");
  writeFileSync(passwordFile, `${USER.password}\n`);
  const added = await runCli(
    ["central", "user", "add", USER.name, "--role", "admin", "--password-file", passwordFile],
    cliEnv(data, db),
  );
  expect(added.code, added.stderr).toBe(0);
  return token;
}

interface Serving {
  url: string;
  /** What the process printed so far (its log), for a failure's message. */
  output(): string;
  stop(): Promise<void>;
}

/** `srvutil central serve` as its own process on `data`. */
async function serve(data: string, db?: string): Promise<Serving> {
  const port = await freePort();
  const [cmd, args] = srvutilCommand(["central", "serve"]);
  const child = spawn(cmd, args, {
    env: {
      ...cliEnv(data, db),
      SRVUTIL_LISTEN: `127.0.0.1:${port}`,
      SRVUTIL_REPORT_CRON: "off",
      SRVUTIL_RATE_LIMIT_PER_SECOND: "0",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let output = "";
  child.stdout?.on("data", (d) => {
    output += d;
  });
  child.stderr?.on("data", (d) => {
    output += d;
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const up = await fetch(`${url}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) break;
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`serve did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    output: () => output,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

function upload(url: string, token: string, start: string, count = 12): Promise<Response> {
  return fetch(`${url}/api/v1/metrics`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "text/csv" },
    body: csvFor("web-01", start, count),
  });
}

/** The week's report as JSON, without the instant it was generated. */
async function reportJson(data: string, week: string, db?: string): Promise<Record<string, unknown>> {
  const r = await runCli(
    ["report", "build", "--week", week, "--format", "json", "--out", "-"],
    cliEnv(data, db),
  );
  expect(r.code, r.stderr).toBe(0);
  const json = JSON.parse(r.stdout) as Record<string, unknown>;
  delete json.generated_at;
  return json;
}

/** web-01's samples over the report's days (0 when it has none). */
function samplesOf(report: Record<string, unknown>): number {
  const servers = (report.servers ?? []) as { server: string; days: { samples: number }[] }[];
  const web = servers.find((s) => s.server === "web-01");
  return (web?.days ?? []).reduce((sum, d) => sum + d.samples, 0);
}

/**
 * Makes the database sizable (≈ `mb` MiB) with incompressible raw uploads in
 * raw_uploads, the table SRVUTIL_RAW_STORE=database fills: the backup copies
 * every page, while serve's start and the reports stay as quick as without.
 */
function padDatabase(dbFile: string, mb: number): void {
  const db = new Database(dbFile);
  try {
    const insert = db.prepare(
      "INSERT INTO raw_uploads (server, upload_id, received_at, raw_path, body_gzip) VALUES (?, ?, ?, ?, ?)",
    );
    const now = Date.now() - 90 * 86_400_000;
    db.transaction(() => {
      for (let i = 0; i < mb * 16; i++) {
        insert.run(
          "archive-01",
          `pad-${i}`,
          now + i,
          `received_metrics/archive-01/pad-${i}.csv`,
          randomBytes(65_536),
        );
      }
    })();
  } finally {
    db.close();
  }
}

describe("central backup while serving, restore on a new machine", () => {
  it("restores into a missing directory: identical old weeks, the old token and user work; received_metrics/ with or without", async () => {
    const old = path.join(tempDir(), "data");
    const six = weekAgo(6);
    const two = weekAgo(2);
    const one = weekAgo(1);
    const recent = Date.now() - 3_600_000; // after the restore: the old token, new data
    const recentWeek = isoWeekAgo(0, recent);

    const token = await enrol(old);
    padDatabase(path.join(old, "srvutil.db"), 128);

    const backupFile = path.join(tempDir(), "nightly", "srvutil.db"); // nightly/ does not exist yet
    const before: Record<string, Record<string, unknown>> = {};
    const latencies: number[] = [];
    const baseline: number[] = [];
    let duringBackup = 0;
    let afterBackup = 0;
    let backupMs = 0;

    const a = await serve(old);
    try {
      for (const [i, w] of [six, two].entries()) {
        for (let h = 0; h < 6; h++) {
          expect((await upload(a.url, token, w.start(h * 60))).status, `week ${i}`).toBe(201);
        }
      }
      for (let h = 0; h < 5; h++) {
        const t0 = performance.now();
        expect((await upload(a.url, token, one.start(h * 60))).status).toBe(201);
        baseline.push(performance.now() - t0);
      }
      before[six.week] = await reportJson(old, six.week);
      before[two.week] = await reportJson(old, two.week);
      expect(samplesOf(before[six.week]!)).toBeGreaterThan(0);
      expect(samplesOf(before[two.week]!)).toBeGreaterThan(0);

      // The backup runs in its own process; uploads keep going to serve, one
      // after the other, each timed, until it is done.
      const started = performance.now();
      let done = false;
      const backup = runCli(["central", "backup", backupFile], cliEnv(old)).finally(() => {
        done = true;
        backupMs = performance.now() - started;
      });
      // Each upload starts a minute later than the one before: new content
      // (not a replay), partly new samples.
      let minute = 300;
      while (!done) {
        if (minute >= 4_000) throw new Error("the backup outlasted 3,700 uploads");
        const t0 = performance.now();
        const r = await upload(a.url, token, one.start(minute++));
        latencies.push(performance.now() - t0);
        expect(r.status).toBe(201);
        duringBackup++;
      }
      const b = await backup;
      expect(b.stderr).toBe("");
      expect(b.code).toBe(0);
      // After the backup: only received_metrics/ has these.
      for (let k = 0; k < 3; k++) {
        expect((await upload(a.url, token, one.start(4_200 + k * 60))).status).toBe(201);
        afterBackup++;
      }
    } finally {
      await a.stop();
    }
    const after = await reportJson(old, one.week);
    const max = Math.max(...latencies);
    process.stderr.write(
      `backup of ${(statSync(backupFile).size / 2 ** 20).toFixed(0)} MiB took ${backupMs.toFixed(0)} ms; ` +
        `${duringBackup} uploads during it, all 201, longest ${max.toFixed(0)} ms ` +
        `(before the backup: longest ${Math.max(...baseline).toFixed(0)} ms)\n`,
    );
    expect(statSync(backupFile).size).toBeGreaterThan(128 * 2 ** 20);
    expect(statSync(path.dirname(backupFile)).mode & 0o777).toBe(0o700);
    expect(statSync(backupFile).mode & 0o777).toBe(0o600);
    expect(duringBackup).toBeGreaterThan(0);
    expect(max).toBeLessThan(5_000);

    // New machine 1: nothing but the backup; the data directory does not exist.
    const fresh = path.join(tempDir(), "new-machine", "data");
    const restored = await runCli(["central", "restore", backupFile], cliEnv(fresh));
    expect(restored.stderr).toBe("");
    expect(restored.code).toBe(0);
    expect(restored.stdout).toContain(`into ${fresh} (created, mode 0700).`);
    expect(restored.stdout).toContain("No raw upload files in");
    expect(restored.stdout).toContain("The central works without them");
    expect(statSync(fresh).mode & 0o777).toBe(0o700);
    expect(statSync(path.join(fresh, "srvutil.db")).mode & 0o777).toBe(0o600);
    expect(await reportJson(fresh, six.week)).toEqual(before[six.week]);
    expect(await reportJson(fresh, two.week)).toEqual(before[two.week]);
    // What arrived after the backup is not in it.
    expect(samplesOf(await reportJson(fresh, one.week))).toBeLessThan(samplesOf(after));

    const b2 = await serve(fresh);
    try {
      expect((await upload(b2.url, token, new Date(recent).toISOString(), 6)).status).toBe(201);
      const browser = new DashboardClient(b2.url);
      expect((await browser.signIn({ ...USER, password: "not the password" })).status).toBe(401);
      const signIn = await browser.signIn(USER);
      expect(signIn.status).toBe(303);
      expect((await browser.get("/")).status).toBe(200);
    } finally {
      await b2.stop();
    }
    expect(readdirSync(path.join(fresh, "received_metrics", "web-01")).length).toBeGreaterThan(0);
    expect(samplesOf(await reportJson(fresh, recentWeek))).toBeGreaterThan(0);
    expect(await reportJson(fresh, six.week)).toEqual(before[six.week]);
    expect(await reportJson(fresh, two.week)).toEqual(before[two.week]);

    // New machine 2: the backup plus a file copy of received_metrics/ taken
    // later; restore re-ingests the uploads the backup misses.
    const withRaw = path.join(tempDir(), "data");
    mkdirSync(withRaw);
    cpSync(path.join(old, "received_metrics"), path.join(withRaw, "received_metrics"), { recursive: true });
    const r2 = await runCli(["central", "restore", backupFile], cliEnv(withRaw));
    expect(r2.stderr).toBe("");
    expect(r2.code).toBe(0);
    const reingested = Number(
      /received_metrics\/: (\d+) raw files? received after the backup re-ingested/.exec(r2.stdout)?.[1],
    );
    expect(reingested).toBeGreaterThanOrEqual(afterBackup);
    expect(await reportJson(withRaw, one.week)).toEqual(after);
    expect(await reportJson(withRaw, six.week)).toEqual(before[six.week]);
    expect(await reportJson(withRaw, two.week)).toEqual(before[two.week]);
    // Restoring the same backup again re-ingests the same files, and counts nothing twice.
    const r3 = await runCli(["central", "restore", backupFile], cliEnv(withRaw));
    expect(r3.code, r3.stderr).toBe(0);
    expect(await reportJson(withRaw, one.week)).toEqual(after);
  }, 300_000);

  it("refuses user errors with a message and exit 64 or 69, never a stack trace, and creates nothing", async () => {
    const root = tempDir();
    const data = path.join(root, "data");
    const none = await runCli(["central", "restore", path.join(root, "missing.db")], cliEnv(data));
    expect(none.code).toBe(EXIT_CODE.bad_input);
    expect(none.stderr).toMatch(/missing\.db: no such file/);
    const junk = path.join(root, "junk.db");
    writeFileSync(junk, "not a database, just text long enough to look like a file\n".repeat(100));
    const notSqlite = await runCli(["central", "restore", junk], cliEnv(data));
    expect(notSqlite.code).toBe(EXIT_CODE.bad_input);
    expect(notSqlite.stderr).toMatch(/junk\.db: not a (SQLite|srvutil) database/);
    const folder = await runCli(["central", "restore", root], cliEnv(data));
    expect(folder.code).toBe(EXIT_CODE.bad_input);
    expect(folder.stderr).toContain("not a file written by `central backup`");
    for (const r of [none, notSqlite, folder]) expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(readdirSync(root).sort()).toEqual(["junk.db"]); // no data directory was created

    // A restore over the database a running serve holds.
    const live = path.join(root, "live");
    expect((await runCli(["central", "token", "add", "web-01"], cliEnv(live))).code).toBe(0);
    const backupFile = path.join(root, "b.db");
    expect((await runCli(["central", "backup", backupFile], cliEnv(live))).code).toBe(0);
    const s = await serve(live);
    try {
      const busy = await runCli(["central", "restore", backupFile], cliEnv(live));
      expect(busy.code).toBe(EXIT_CODE.unavailable);
      expect(busy.stderr).toContain("central serve instance is running on");
      expect(busy.stderr).toContain("Stop it first");
      expect(busy.stderr).not.toMatch(/\n\s+at /);
      expect(readdirSync(live).some((f) => f.includes("before-restore"))).toBe(false);
    } finally {
      await s.stop();
    }
    const stopped = await runCli(["central", "restore", backupFile], cliEnv(live));
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(readdirSync(live).filter((f) => f.includes("before-restore"))).toHaveLength(1);

    // A backup written by an older srvutil (here: one migration short) stays
    // as it was written, raw files or not: going back to that version
    // (docs/upgrading.md) needs it unmigrated.
    const older = path.join(root, "older.db");
    cpSync(backupFile, older);
    const db = new Database(older);
    const newest = db
      .prepare(
        "SELECT version FROM schema_migrations WHERE component = 'metrics' ORDER BY version DESC LIMIT 1",
      )
      .pluck()
      .get() as number;
    db.prepare("DELETE FROM schema_migrations WHERE component = 'metrics' AND version = ?").run(newest);
    db.close();
    const withRaw = path.join(root, "older-target");
    mkdirSync(path.join(withRaw, "received_metrics", "web-01"), { recursive: true });
    const r = await runCli(["central", "restore", older], cliEnv(withRaw));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("written by an older srvutil and is left as it is");
    const restored = new Database(path.join(withRaw, "srvutil.db"), { readonly: true });
    const versions = restored
      .prepare("SELECT version FROM schema_migrations WHERE component = 'metrics'")
      .pluck()
      .all();
    restored.close();
    expect(versions).not.toContain(newest);
  }, 120_000);
});

/**
 * PostgreSQL: `central backup` and `restore` point to pg_dump and pg_restore
 * (docs/operations.md), so the story is told with them: dump a running
 * central's schema while it takes uploads, restore it into a new database,
 * and serve that from a data directory that does not exist yet.
 */
describe("PostgreSQL: pg_dump while serving, pg_restore on a new machine", () => {
  it("gives identical old weeks, and the old token and user work", async (ctx) => {
    const url = requirePostgres(ctx, PG);
    const { schema, drop } = await createTestSchema(url, "srvutil_dump");
    const newDb = `srvutil_restore_${process.pid}_${randomBytes(3).toString("hex")}`;
    const withSchema = (u: string) =>
      `${u}${u.includes("?") ? "&" : "?"}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
    const source = withSchema(url);
    const target = withSchema(databaseUrl(url, newDb));
    try {
      const old = path.join(tempDir(), "data");
      const six = weekAgo(6);
      const two = weekAgo(2);
      const one = weekAgo(1);
      const token = await enrol(old, source);

      const dump = path.join(tempDir(), "srvutil.dump");
      const before: Record<string, Record<string, unknown>> = {};
      const a = await serve(old, source);
      try {
        for (const w of [six, two])
          for (let h = 0; h < 6; h++) {
            expect(await uploadAsAgent(a, token, w.start(h * 60))).toBe(201);
          }
        before[six.week] = await reportJson(old, six.week, source);
        before[two.week] = await reportJson(old, two.week, source);
        expect(samplesOf(before[six.week]!)).toBeGreaterThan(0);
        expect(samplesOf(before[two.week]!)).toBeGreaterThan(0);
        // The dump runs while serve keeps taking uploads.
        const dumping = run(requireProgram("pg_dump", "postgresql-client"), [
          "--format=custom",
          `--schema=${schema}`,
          `--file=${dump}`,
          url,
        ]);
        let minute = 0;
        let settled = false;
        void dumping.finally(() => {
          settled = true;
        });
        while (!settled && minute < 200) {
          expect(await uploadAsAgent(a, token, one.start(minute++))).toBe(201);
        }
        const d = await dumping;
        expect(d.code, d.stderr).toBe(0);
      } finally {
        await a.stop();
      }

      // New machine: a new database, and a data directory that does not exist yet.
      await adminQuery(url, `CREATE DATABASE ${newDb}`);
      const restored = await run(requireProgram("pg_restore", "postgresql-client"), [
        "--no-owner",
        `--dbname=${databaseUrl(url, newDb)}`,
        dump,
      ]);
      expect(restored.code, restored.stderr).toBe(0);
      const fresh = path.join(tempDir(), "new-machine", "data");
      expect(await reportJson(fresh, six.week, target)).toEqual(before[six.week]);
      expect(await reportJson(fresh, two.week, target)).toEqual(before[two.week]);
      const b = await serve(fresh, target);
      try {
        expect(await uploadAsAgent(b, token, new Date(Date.now() - 3_600_000).toISOString(), 6)).toBe(201);
        const browser = new DashboardClient(b.url);
        expect((await browser.signIn({ ...USER, password: "not the password" })).status).toBe(401);
        expect((await browser.signIn(USER)).status).toBe(303);
        expect((await browser.get("/")).status).toBe(200);
      } finally {
        await b.stop();
      }
      expect(
        samplesOf(await reportJson(fresh, isoWeekAgo(0, Date.now() - 3_600_000), target)),
      ).toBeGreaterThan(0);
      expect(await reportJson(fresh, six.week, target)).toEqual(before[six.week]);
    } finally {
      await adminQuery(url, `DROP DATABASE IF EXISTS ${newDb} WITH (FORCE)`).catch(() => {});
      await drop();
    }
  }, 300_000);
});

/**
 * Uploads as the agent does: a 5xx means "try again", so it is sent once more.
 * Each 5xx is written to stderr with the serve log (one was seen once in 19
 * runs on PostgreSQL, not explained yet), and the
 * test allows one per run: more means something is wrong, not a rare race.
 */
let resends = 0;
async function uploadAsAgent(s: Serving, token: string, start: string, count?: number): Promise<number> {
  const first = await upload(s.url, token, start, count);
  if (first.status < 500) return first.status;
  resends++;
  process.stderr.write(
    `upload answered ${first.status}: ${await first.text()}\n--- serve log (tail) ---\n${s.output().slice(-4000)}\n`,
  );
  expect(resends, "more than one 5xx in one run").toBeLessThanOrEqual(1);
  return (await upload(s.url, token, start, count)).status;
}

function databaseUrl(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

function run(cmd: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr?.on("data", (d) => {
      stderr += d;
    });
    child.on("error", reject);
    child.on("exit", (code) => resolve({ code, stderr }));
  });
}
