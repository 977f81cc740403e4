/**
 * `npm start` runs `srvutil demo`: it must work on a fresh data directory
 * with the embedded defaults (SQLite, outbox instead of SMTP), and again on
 * the same directory (re-uploads are duplicates, nothing doubles).
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { DateTime } from "luxon";
import { afterAll, describe, expect, it } from "vitest";
import { verifyPassword } from "../../src/central/dashboard/password.js";
import { runCli } from "../helpers/cli.js";

describe("srvutil demo", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-demo-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const env = {
    ...process.env,
    SRVUTIL_DATA_DIR: dir,
    SRVUTIL_LISTEN: "127.0.0.1:0",
    SRVUTIL_REPORT_TZ: "Europe/Berlin",
    SRVUTIL_SMTP_URL: "",
    SRVUTIL_REPORT_TO: "",
  };

  it("builds last week's report, the email and the log from a simulated fleet", async () => {
    const first = await runCli(["demo", "--no-serve", "--weeks", "2"], env, 120_000);
    expect(first.code, first.stderr + first.stdout).toBe(0);
    const reports = readdirSync(path.join(dir, "reports"));
    const jsonFile = reports.find((f) => f.endsWith(".json"))!;
    expect(reports).toContain(jsonFile.replace(/\.json$/, ".html"));
    const report = JSON.parse(readFileSync(path.join(dir, "reports", jsonFile), "utf8"));
    const names: string[] = report.servers.map((s: { server: string }) => s.server);
    expect(names.filter((n) => n.startsWith("demo-"))).toHaveLength(10);
    expect(report.servers.find((s: { server: string }) => s.server === "demo-ci-silent").status).toBe(
      "silent",
    );
    // Every demo server reported every day but the silent one's last days.
    const web = report.servers.find((s: { server: string }) => s.server === "demo-web-01");
    // One sample per 5 minutes: 288 a day, 276 or 300 on a Berlin DST-change Sunday (the real clock's
    // last week may hold one).
    const fiveMinutesIn = (date: string) => {
      const day = DateTime.fromISO(date, { zone: "Europe/Berlin" });
      return day.plus({ days: 1 }).diff(day, "minutes").minutes / 5;
    };
    expect(web.days.map((d: { samples: number }) => d.samples)).toEqual(
      web.days.map((d: { date: string }) => fiveMinutesIn(d.date)),
    );
    expect(web.days.filter((d: { samples: number }) => d.samples === 288).length).toBeGreaterThanOrEqual(6);

    const eml = readdirSync(path.join(dir, "outbox")).filter((f) => f.endsWith(".eml"));
    expect(eml).toHaveLength(1);
    const message = readFileSync(path.join(dir, "outbox", eml[0]!), "utf8");
    expect(message).toContain("demo-db-01");
    expect(message).toMatch(/^To: ops@example\.com\r?$/m);
    expect(existsSync(path.join(dir, "Logs", "automation.log"))).toBe(true);
    expect(first.stdout).toContain("demo fleet");
    // A dashboard admin whose printed password is the stored one; the report is in the archive.
    const login = /dashboard\s+http:\/\/\S+\/\s+sign in as demo \/ (\S+)/.exec(first.stdout);
    expect(login, first.stdout).not.toBeNull();
    const db = new Database(path.join(dir, "srvutil.db"), { readonly: true });
    try {
      const hash = db
        .prepare("SELECT password_hash FROM dashboard_users WHERE name = 'demo' AND role = 'admin'")
        .pluck()
        .get() as string;
      expect(await verifyPassword(login![1]!, hash)).toBe(true);
      expect(db.prepare("SELECT count(*) FROM report_archive WHERE week = ?").pluck().get(report.week)).toBe(
        1,
      );
    } finally {
      db.close();
    }

    const rowsBefore = countRows(dir);
    const second = await runCli(["demo", "--no-serve", "--weeks", "2"], env, 120_000);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/already stored/);
    // Only what is new since the first run is added: the real agent's sample and the
    // fleet's samples of the few minutes in between (13 rows per 5-minute step).
    expect(countRows(dir) - rowsBefore).toBeLessThanOrEqual(20 + 13 * 3);
  }, 240_000);
});

function countRows(dir: string): number {
  const db = new Database(path.join(dir, "srvutil.db"), { readonly: true });
  try {
    return (db.prepare("SELECT count(*) AS n FROM samples").get() as { n: number }).n;
  } finally {
    db.close();
  }
}
