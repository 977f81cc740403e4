import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type RunningCentral, startCentral } from "../../src/central/central-process.js";
import { loadCentralConfig } from "../../src/central/config.js";
import { EXIT_CODE } from "../../src/errors.js";
import { runCli } from "../helpers/cli.js";
import { fakedClockEnv, recentShift } from "../helpers/clock.js";
import { docCommands } from "../helpers/docs.js";
import { ingestWeek } from "./delivery/week-fixture.js";
import { csvFor } from "./ingest/fixtures.js";

// docs/operations.md, run: backup while serving, restore on a new machine
// (identical reports, working tokens), and token rotation without a gap.
const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(path.join(os.tmpdir(), "srvutil-ops-"));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

// The week the tests report on, and the dates they post (up to two weeks later), are 2026-W47's
// moved to three weeks back (real clock): the ingest horizon refuses fixed dates one day.
const at = recentShift("2026-W47", { minWeeksAgo: 3 });
const WEEK = at("2026-W47");

const cliEnv = (data: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
  PATH: process.env.PATH,
  ...fakedClockEnv(),
  SRVUTIL_DATA_DIR: data,
  SRVUTIL_REPORT_TZ: "Europe/Berlin",
  ...extra,
});

async function serve(data: string): Promise<RunningCentral> {
  return startCentral(
    loadCentralConfig({
      SRVUTIL_DATA_DIR: data,
      SRVUTIL_LISTEN: "127.0.0.1:0",
      SRVUTIL_REPORT_TZ: "Europe/Berlin",
      SRVUTIL_REPORT_CRON: "off",
      SRVUTIL_RATE_LIMIT_PER_SECOND: "0",
    }),
  );
}

function upload(url: string, token: string, server: string, start: string): Promise<Response> {
  return fetch(`${url}/api/v1/metrics`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "text/csv" },
    body: csvFor(server, start, 12),
  });
}

const lastLine = (s: string) => s.trim().split("\n").at(-1)!;

/** The week's report as JSON without the instant it was generated. */
async function reportJson(data: string): Promise<unknown> {
  const r = await runCli(["report", "build", "--week", WEEK, "--format", "json", "--out", "-"], cliEnv(data));
  expect(r.code, r.stderr).toBe(0);
  const json = JSON.parse(r.stdout) as Record<string, unknown>;
  delete json.generated_at;
  return json;
}

describe("backup and restore (docs/operations.md)", () => {
  it("the doc's commands are the ones run here", () => {
    expect(docCommands("docs/operations.md", "## Backups")).toContain(
      "srvutil central backup /backup/srvutil-2026-11-23.db",
    );
    expect(docCommands("docs/operations.md", "## Restore")).toEqual([
      "srvutil central restore /backup/srvutil-2026-11-23.db",
    ]);
  });

  it("a backup taken while serving, restored on a new machine: identical report, working tokens", async () => {
    const data = tempDir();
    await ingestWeek(path.join(data, "srvutil.db"), at.weeks);
    const token = lastLine((await runCli(["central", "token", "add", "web-01"], cliEnv(data))).stdout);
    const viewer = lastLine(
      (await runCli(["central", "token", "add", "--role", "viewer", "grafana"], cliEnv(data))).stdout,
    );
    const backupDir = tempDir();
    const backup = path.join(backupDir, "srvutil-2026-11-23.db");

    const running = await serve(data);
    let before: unknown;
    try {
      expect((await upload(running.url, token, "web-01", at("2026-11-18T10:00:00Z"))).status).toBe(201);
      // Online: uploads keep arriving while the backup runs in another process.
      const uploads = Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          upload(
            running.url,
            token,
            "web-01",
            new Date(Date.parse(at("2026-11-25T00:00:00Z")) + i * 3_600_000).toISOString(),
          ),
        ),
      );
      const b = await runCli(["central", "backup", backup], cliEnv(data));
      expect(b.stderr).toBe("");
      expect(b.code).toBe(0);
      expect(b.stdout).toMatch(
        /^Backed up the database to .*srvutil-2026-11-23\.db \(\d+ bytes\)\. Keep .*received_metrics/,
      );
      expect((await uploads).every((r) => r.status === 201)).toBe(true);
      before = await reportJson(data);
    } finally {
      await running.close();
    }
    expect(readdirSync(backupDir)).toEqual(["srvutil-2026-11-23.db"]); // no .partial left
    const refused = await runCli(["central", "backup", backup], cliEnv(data));
    expect(refused.code).toBe(EXIT_CODE.bad_input);
    expect(refused.stderr).toContain("exists: choose a new file name");

    // A new machine: only the backup.
    const fresh = tempDir();
    const restored = await runCli(["central", "restore", backup], cliEnv(fresh));
    expect(restored.stderr).toBe("");
    expect(restored.code).toBe(0);
    expect(await reportJson(fresh)).toEqual(before);
    const list = await runCli(["central", "token", "list"], cliEnv(fresh));
    expect(list.stdout).toMatch(
      new RegExp(`agent\\s+web-01\\s+${token.split("_")[1]}\\s+\\S+\\s+\\S+\\s+active`),
    );
    const again = await serve(fresh);
    try {
      expect((await upload(again.url, token, "web-01", at("2026-11-30T10:00:00Z"))).status).toBe(201);
      const read = await fetch(`${again.url}/api/v1/servers`, {
        headers: { authorization: `Bearer ${viewer}` },
      });
      expect(read.status).toBe(200);
      expect(JSON.stringify(await read.json())).toContain("web-01");
    } finally {
      await again.close();
    }

    // Restoring over an existing database keeps that one beside it.
    const over = await runCli(["central", "restore", backup], cliEnv(fresh));
    expect(over.code).toBe(0);
    expect(readdirSync(fresh).filter((f) => f.startsWith("srvutil.db.before-restore-"))).toHaveLength(1);
  }, 120_000);

  it("refuses a file that is not a srvutil database, and changes nothing", async () => {
    const data = tempDir();
    await ingestWeek(path.join(data, "srvutil.db"), at.weeks);
    const junk = path.join(data, "junk.db");
    writeFileSync(
      junk,
      "not a database at all, just text that is long enough to look like a file".repeat(100),
    );
    const r = await runCli(["central", "restore", junk], cliEnv(data));
    expect(r.code).toBe(EXIT_CODE.bad_input);
    expect(r.stderr).toMatch(/junk\.db: not a (SQLite|srvutil) database/);
    expect(readdirSync(data).some((f) => f.includes("before-restore"))).toBe(false);
  });

  it("on PostgreSQL it points to pg_dump instead", async () => {
    const data = tempDir();
    mkdirSync(data, { recursive: true });
    const r = await runCli(
      ["central", "backup", path.join(data, "x.db")],
      cliEnv(data, { SRVUTIL_DB_URL: "postgres://srvutil:secret@db.example.com:5432/srvutil" }),
    );
    expect(r.code).toBe(EXIT_CODE.bad_input);
    expect(r.stderr).toContain("SRVUTIL_DB_URL is a PostgreSQL database: back it up with PostgreSQL's tools");
    expect(r.stderr).toContain("pg_dump --format=custom");
    expect(r.stderr).not.toContain("secret");
  });
});

describe("token rotation (docs/operations.md)", () => {
  it("add the new token, switch the agent, revoke the old one by id: no upload is refused in between", async () => {
    const commands = docCommands("docs/operations.md", "## Token rotation");
    expect(commands).toEqual([
      "srvutil central token add web-01",
      "srvutil central token list",
      "srvutil central token revoke web-01 --id 3f9a1c2b7e4d",
    ]);
    const data = tempDir();
    const env = cliEnv(data);
    const oldToken = lastLine((await runCli(["central", "token", "add", "web-01"], env)).stdout);
    const running = await serve(data);
    try {
      expect((await upload(running.url, oldToken, "web-01", at("2026-11-18T10:00:00Z"))).status).toBe(201);
      const newToken = lastLine((await runCli(commands[0]!.split(" ").slice(1), env)).stdout);
      // Both work while the agent is switched over.
      expect((await upload(running.url, oldToken, "web-01", at("2026-11-18T11:00:00Z"))).status).toBe(201);
      expect((await upload(running.url, newToken, "web-01", at("2026-11-18T12:00:00Z"))).status).toBe(201);
      await new Promise((r) => setTimeout(r, 50)); // the last use is written after the answer
      const oldId = oldToken.split("_")[1]!;
      const newId = newToken.split("_")[1]!;
      const list = await runCli(commands[1]!.split(" ").slice(1), env);
      const row = (id: string) => list.stdout.split("\n").find((l) => l.includes(id)) ?? "";
      expect(row(oldId)).toMatch(/\d\d:\d\dZ\s+\d{4}-\d\d-\d\dT\d\d:\d\dZ\s+active$/); // used
      expect(row(newId)).toMatch(/\d\d:\d\dZ\s+\d{4}-\d\d-\d\dT\d\d:\d\dZ\s+active$/);

      const revoke = await runCli(["central", "token", "revoke", "web-01", "--id", oldId], env);
      expect(revoke.stderr).toBe("");
      expect(revoke.stdout).toBe(`Revoked agent token ${oldId} of 'web-01'; 1 active token left\n`);
      expect((await upload(running.url, oldToken, "web-01", at("2026-11-18T13:00:00Z"))).status).toBe(401);
      expect((await upload(running.url, newToken, "web-01", at("2026-11-18T14:00:00Z"))).status).toBe(201);

      const wrong = await runCli(["central", "token", "revoke", "web-02", "--id", newId], env);
      expect(wrong.code).toBe(EXIT_CODE.bad_input);
      expect(wrong.stderr).toContain(`no active agent token ${newId} for 'web-02'`);
      const malformed = await runCli(["central", "token", "revoke", "web-01", "--id", "xyz"], env);
      expect(malformed.code).toBe(EXIT_CODE.bad_input);
      expect(malformed.stderr).toContain("--id: expected a token id of 12 hex digits");
      // Plain `revoke NAME` is the emergency stop: every token of the server.
      const all = await runCli(["central", "token", "revoke", "web-01"], env);
      expect(all.stdout).toBe("Revoked 1 agent token of 'web-01'\n");
      expect((await upload(running.url, newToken, "web-01", at("2026-11-18T15:00:00Z"))).status).toBe(401);
    } finally {
      await running.close();
    }
  }, 120_000);
});
