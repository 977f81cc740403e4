/**
 * `srvutil alerts …` as an operator runs it: the CLI from source against a
 * real SQLite file, a test notification to a loopback receiver, silences and
 * acknowledgements that the store then holds, and the exit codes scripts act on.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStorage } from "../../src/central/storage/open.js";
import { EXIT_CODE } from "../../src/errors.js";
import { alertCommit, alertEpisode } from "../helpers/alerts.js";
import { runCli } from "../helpers/cli.js";

describe("srvutil alerts", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-cli-alerts-"));
  const bodies: { path: string; body: string }[] = [];
  let status = 200;
  let server: Server;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => {
        body += c.toString();
      });
      req.on("end", () => {
        bodies.push({ path: req.url ?? "", body });
        res.writeHead(status, { "content-type": "text/plain" }).end(status === 200 ? "ok" : "no such hook");
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    const file = path.join(dir, "alerts.json");
    writeFileSync(
      file,
      JSON.stringify({
        channels: [{ name: "hook", type: "webhook", url_env: "HOOK_URL" }],
      }),
    );
    env = {
      PATH: process.env.PATH,
      SRVUTIL_DATA_DIR: dir,
      SRVUTIL_ALERTS_CONFIG: file,
      HOOK_URL: `http://127.0.0.1:${port}/hooks/s3cr3t-path`,
    };
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it("test sends a test notification and prints the answer; a refusal exits non-zero without the secret path", async () => {
    const ok = await runCli(["alerts", "test", "hook"], env);
    expect(ok.stderr).toBe("");
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain("channel: hook (webhook)");
    expect(ok.stdout).toMatch(/answer: +.*200/);
    expect(JSON.parse(bodies.at(-1)!.body)).toMatchObject({ event: "test", channel: "hook" });
    status = 404;
    const refused = await runCli(["alerts", "test", "hook"], env);
    status = 200;
    expect(refused.code).toBe(EXIT_CODE.unavailable);
    expect(refused.stdout).toMatch(/answer: +.*404/);
    expect(refused.stdout).toContain("Refused");
    expect(`${refused.stdout}${refused.stderr}`).not.toContain("s3cr3t");
    const unknown = await runCli(["alerts", "test", "pager"], env);
    expect(unknown.code).toBe(EXIT_CODE.bad_input);
    expect(unknown.stderr).toContain("no channel 'pager'");
    expect(unknown.stderr).toContain("the channels are hook");
  }, 120_000);

  it("a mistake in SRVUTIL_ALERTS_CONFIG is a config error naming its place", async () => {
    const bad = path.join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ channels: [{ name: "x", type: "pager" }] }));
    const r = await runCli(["alerts", "test", "x"], { ...env, SRVUTIL_ALERTS_CONFIG: bad });
    expect(r.code).toBe(EXIT_CODE.bad_config);
    expect(r.stderr).toContain("channels[0].type");
  });

  it("silence add, list and end; list and ack of the alerts the store holds", async () => {
    const add = await runCli(
      ["alerts", "silence", "add", "--server", "db-*", "--for", "2h", "--reason", "kernel upgrade"],
      env,
    );
    expect(add.stderr).toBe("");
    expect(add.code).toBe(0);
    const id = /^silence (\d+) until /.exec(add.stdout)?.[1];
    expect(id).toBeDefined();
    const list = await runCli(["alerts", "silence", "list", "--json"], env);
    const silences = JSON.parse(list.stdout) as {
      id: number;
      server: string;
      reason: string;
      ends_at: string;
    }[];
    expect(silences.map((s) => [s.id, s.server, s.reason])).toEqual([[Number(id), "db-*", "kernel upgrade"]]);
    const hoursLeft = (Date.parse(silences[0]!.ends_at) - Date.now()) / 3_600_000;
    expect(hoursLeft).toBeGreaterThan(1.9);
    expect(hoursLeft).toBeLessThanOrEqual(2);
    expect((await runCli(["alerts", "silence", "end", id!], env)).code).toBe(0);
    expect((await runCli(["alerts", "silence", "list"], env)).stdout).toContain("no silence is in force");
    expect((await runCli(["alerts", "silence", "end", id!], env)).code).toBe(1);
    const badSpan = await runCli(
      ["alerts", "silence", "add", "--server", "x", "--for", "soon", "--reason", "r"],
      env,
    );
    expect(badSpan.code).toBe(EXIT_CODE.bad_input);
    expect(badSpan.stderr).toContain("--for: expected a span such as 30m, 2h or 3d, got 'soon'");
    const badRule = await runCli(
      ["alerts", "silence", "add", "--rule", "disk", "--for", "1h", "--reason", "r"],
      env,
    );
    expect(badRule.code).toBe(EXIT_CODE.bad_input);
    expect(badRule.stderr).toContain("--rule: expected one of server_silent,");

    // An alert firing now, as an evaluation of central serve would have stored it.
    const store = await openStorage(`sqlite:${path.join(dir, "srvutil.db")}`);
    try {
      await store.init();
      const now = Date.now();
      expect(
        await store.alerts.commitEvaluation(
          alertCommit(now, {
            expectedVersion: (await store.alerts.readOpen()).version,
            inserts: [alertEpisode(now, { server: "db-01" })],
          }),
        ),
      ).toBe(true);
    } finally {
      await store.close();
    }
    const open = await runCli(["alerts", "list", "--json"], env);
    const alerts = JSON.parse(open.stdout) as { id: number; server: string; state: string }[];
    expect(alerts.map((a) => [a.server, a.state])).toEqual([["db-01", "firing"]]);
    const ack = await runCli(
      ["alerts", "ack", String(alerts[0]!.id), "--note", "ana is on it", "--by", "ana"],
      env,
    );
    expect(ack.stdout).toContain(`acknowledged alert ${alerts[0]!.id}`);
    const table = await runCli(["alerts", "list"], env);
    expect(table.stdout).toMatch(/firing\twarning\tdb-01\tcpu_pressure\t-\t.*\tana\t/);
    expect((await runCli(["alerts", "ack", "999999"], env)).code).toBe(1);
  }, 240_000);
});
