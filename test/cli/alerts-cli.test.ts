import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXIT_CODE } from "../../src/errors.js";
import { type Receiver, startReceiver } from "../central/alerts/http-receiver.js";
import { runCli } from "../helpers/cli.js";

/**
 * `srvutil alerts test` and `alerts silence add` as a process: the test
 * notification (shared with the dashboard's "Send test") reaches a loopback
 * webhook, a refusing one is reported, and a silence's span is read by the
 * shared parseSpan, capped at 366 days.
 */
describe("srvutil alerts test and silence add", () => {
  let receiver: Receiver;
  let dir = "";
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    receiver = await startReceiver((req) =>
      req.path.includes("/refuse/") ? { status: 500, body: "down" } : { status: 200, body: "ok" },
    );
    dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-alerts-cli-"));
    const file = path.join(dir, "alerts.json");
    writeFileSync(
      file,
      JSON.stringify({
        channels: [
          { name: "ops-hook", type: "webhook", url: `${receiver.origin}/hook/ok/secret-path-1` },
          { name: "broken-hook", type: "webhook", url: `${receiver.origin}/hook/refuse/secret-path-2` },
        ],
      }),
    );
    env = {
      PATH: process.env.PATH,
      HOME: dir,
      SRVUTIL_DATA_DIR: dir,
      SRVUTIL_ALERTS_CONFIG: file,
      SRVUTIL_PUBLIC_URL: "https://srvutil.example.com/",
    };
  });
  afterAll(async () => {
    await receiver?.close();
    if (dir !== "") rmSync(dir, { recursive: true, force: true });
  });

  it("sends the test notification through a channel and prints its answer, or why it failed", async () => {
    const ok = await runCli(["alerts", "test", "ops-hook"], env);
    expect(ok.stdout).toContain("answer:  HTTP 200 OK: ok");
    expect(ok.stdout).toContain("The channel took the notification.");
    expect(ok.code).toBe(0);
    const got = receiver.requests.at(-1)!;
    const payload = JSON.parse(got.body) as { event: string; alerts: { summary: string; url: string }[] };
    expect(payload.event).toBe("test");
    expect(payload.alerts[0]!.summary).toBe(
      "a test notification from `srvutil alerts test`; nothing is wrong",
    );
    expect(payload.alerts[0]!.url).toBe("https://srvutil.example.com/alerts");

    const down = await runCli(["alerts", "test", "broken-hook"], env);
    expect(down.stdout).toMatch(
      /answer: {2}webhook channel "broken-hook" \(http:\/\/127\.0\.0\.1:\d+\): HTTP 500/,
    );
    expect(down.stdout).toContain("Not reached: retry later");
    expect(down.stdout).not.toContain("secret-path");
    expect(down.code).toBe(EXIT_CODE.unavailable);
  }, 60_000);

  it("refuses a silence longer than 366 days and sets a shorter one", async () => {
    const long = await runCli(
      ["alerts", "silence", "add", "--server", "web-*", "--for", "400d", "--reason", "too long"],
      env,
    );
    expect(long.code).toBe(EXIT_CODE.bad_input);
    expect(long.stderr).toContain("--for: at most 366 days, got '400d'");
    const ok = await runCli(
      ["alerts", "silence", "add", "--server", "web-*", "--for", "2h", "--reason", "deploy"],
      env,
    );
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^silence \d+ until \d{4}-\d{2}-\d{2}T/);
    const list = await runCli(["alerts", "silence", "list", "--json"], env);
    const rows = JSON.parse(list.stdout) as { server: string; reason: string }[];
    expect(rows).toEqual([expect.objectContaining({ server: "web-*", reason: "deploy" })]);
  }, 60_000);
});
