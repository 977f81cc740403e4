/**
 * docs/quickstart.md, Linux, run as written: each command of the doc is run
 * here, in order, with the changes a test needs (no root, no systemd): the
 * installs write into a temporary folder with --no-start, the service is
 * `central serve --settings FILE` started by the test, the mail server is an
 * in-process SMTP server, the agent is tested once with `run --once` (exit
 * code 0) and its install is a --dry-run (which still checks URL, token and
 * name against the central); the dashboard user of the doc then signs in and
 * sees the server.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DashboardClient } from "../central/dashboard/http-client.js";
import { type SmtpFixture, startSmtpServer } from "../central/mail/smtp-fixture.js";
import { REPO_ROOT, runCli, srvutilCommand } from "../helpers/cli.js";
import { docCommands } from "../helpers/docs.js";
import { freePort } from "../helpers/net.js";

const work = mkdtempSync(path.join(os.tmpdir(), "srvutil-quick-"));
const children: ChildProcess[] = [];
let smtp: SmtpFixture | null = null;
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  await smtp?.close();
  rmSync(work, { recursive: true, force: true });
});

const DOC_SETTINGS = "/etc/srvutil/central.env";
const base = (): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, HOME: process.env.HOME });
/** `srvutil a b c` of the doc as CLI arguments, its settings file replaced by the test's. */
const argsOf = (command: string, settings: string) =>
  command
    .split(" ")
    .slice(1)
    .map((a) => (a === DOC_SETTINGS ? settings : a));

describe("docs/quickstart.md, Linux", () => {
  it("central as a service, a test mail, one agent, last week's report", async () => {
    const doc = docCommands("docs/quickstart.md", "## Linux");
    expect(doc).toEqual([
      "srvutil central install --dry-run",
      "srvutil central install",
      "srvutil central status",
      `srvutil report --settings ${DOC_SETTINGS} test-mail --to you@example.com`,
      `srvutil central --settings ${DOC_SETTINGS} user add admin --role admin`,
      `srvutil central --settings ${DOC_SETTINGS} token add web-01`,
      "./srvutil-agent run --once",
      "./srvutil-agent install",
      `srvutil report --settings ${DOC_SETTINGS} send --week last`,
      `srvutil report --settings ${DOC_SETTINGS} status`,
    ]);
    const [
      dryRun,
      install,
      status,
      testMail,
      userAdd,
      tokenAdd,
      agentOnce,
      agentInstall,
      send,
      reportStatus,
    ] = doc as [string, string, string, string, string, string, string, string, string, string];
    const settings = path.join(work, "etc", "central.env");
    const units = path.join(work, "units");
    const data = path.join(work, "var-lib-srvutil");
    const port = await freePort();

    // 1. `central install --dry-run`, exactly as documented: prints, writes nothing.
    const dry = await runCli(argsOf(dryRun, settings), base());
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain("# would write /etc/systemd/system/srvutil-central.service");

    // 2. `central install` (here: our paths, our user, no systemctl).
    const inst = await runCli(
      [
        ...argsOf(install, settings),
        "--no-start",
        "--user",
        os.userInfo().username,
        "--unit-dir",
        units,
        "--settings",
        settings,
      ],
      { ...base(), SRVUTIL_DATA_DIR: data, SRVUTIL_LISTEN: `127.0.0.1:${port}` },
    );
    expect(inst.code, inst.stderr).toBe(0);
    expect(readFileSync(path.join(units, "srvutil-central.service"), "utf8")).toContain(
      `EnvironmentFile=${settings}`,
    );

    // 3. "sudoedit /etc/srvutil/central.env": the report and mail settings.
    smtp = await startSmtpServer();
    const passwordFile = path.join(work, "etc", "smtp-password");
    writeFileSync(passwordFile, "not-checked-by-the-fixture\n", { mode: 0o600 });
    appendFileSync(
      settings,
      [
        "SRVUTIL_REPORT_TZ=Europe/Berlin",
        "SRVUTIL_REPORT_TO=ops@example.com",
        `SRVUTIL_SMTP_URL=smtp://127.0.0.1:${smtp.port}`,
        "SRVUTIL_MAIL_FROM=srvutil <reports@example.com>",
        "",
      ].join("\n"),
    );

    // 4. "systemctl restart srvutil-central": what the unit runs, with the settings systemd would pass.
    const [cmd, argv] = srvutilCommand(["central", "serve", "--settings", settings]);
    const serve = spawn(cmd, argv, { cwd: REPO_ROOT, env: base(), stdio: ["ignore", "pipe", "pipe"] });
    children.push(serve);
    let serveErr = "";
    serve.stderr!.on("data", (d) => {
      serveErr += d;
    });
    const firstLine = await new Promise<string>((resolve, reject) => {
      serve.stdout!.on("data", (d: Buffer) => resolve(d.toString()));
      serve.on("close", (code) => reject(new Error(`serve exited ${code}: ${serveErr}`)));
    });
    expect(firstLine).toBe(`srvutil 0.1.0 central listening on http://127.0.0.1:${port}\n`);
    const central = `http://127.0.0.1:${port}`;

    // 5. `central status`: installed (not running here: no systemd).
    const st = await runCli(
      [...argsOf(status, settings), "--unit-dir", units, "--settings", settings],
      base(),
    );
    expect(st.stdout).toContain("service file: ");
    expect(st.stdout).toContain(`settings: ${settings} mode 600`);

    // 6. The test mail.
    const mail = await runCli(argsOf(testMail, settings), base());
    expect(mail.code, mail.stdout + mail.stderr).toBe(0);
    expect(mail.stdout).toMatch(/^answer: {2}250 /m);
    expect(smtp.messages.map((m) => m.envelopeTo)).toEqual([["you@example.com"]]);

    // The first start only recorded the schedule: nothing was sent by it.
    await new Promise((r) => setTimeout(r, 500));
    expect(smtp.messages).toHaveLength(1);

    // 7. The dashboard user, its password on stdin as a script gives it (a terminal is asked twice, unechoed).
    const adminPassword = "quick start dashboard pw";
    const userAdded = await new Promise<{ code: number | null; out: string }>((resolve, reject) => {
      const [ucmd, uargv] = srvutilCommand(argsOf(userAdd, settings));
      const child = spawn(ucmd, uargv, { cwd: REPO_ROOT, env: base(), stdio: ["pipe", "pipe", "pipe"] });
      let out = "";
      child.stdout!.on("data", (d) => {
        out += d;
      });
      child.stderr!.on("data", (d) => {
        out += d;
      });
      child.once("error", reject);
      child.once("close", (code) => resolve({ code, out }));
      child.stdin!.end(`${adminPassword}\n`);
    });
    expect(userAdded.code, userAdded.out).toBe(0);
    expect(userAdded.out).toBe("Added dashboard admin 'admin'\n");

    // 8. The agent's token.
    const add = await runCli(argsOf(tokenAdd, settings), base());
    expect(add.code, add.stderr).toBe(0);
    const token = add.stdout.trim().split("\n").at(-1)!;
    const tokenFile = path.join(work, "agent.token");
    writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });

    // 9. On web-01: "test it once" (`run --once`, exit code 0), then `./srvutil-agent install`,
    // checked against the central (dry run: no root here).
    expect(agentOnce).toBe("./srvutil-agent run --once");
    expect(agentInstall).toBe("./srvutil-agent install");
    const agentEnv = {
      ...base(),
      SRVUTIL_CENTRAL_URL: central,
      SRVUTIL_AGENT_TOKEN_FILE: tokenFile,
      SRVUTIL_SERVER_NAME: "web-01",
      SRVUTIL_AGENT_DIR: path.join(work, "agent"),
    };
    const run = await runCli(["agent", "run", "--once"], agentEnv);
    expect(run.code, run.stderr + run.stdout).toBe(0);
    expect(run.stdout).toMatch(/uploaded 1 file\(s\), 0 pending, 0 rejected\n$/);
    // What the doc says a wrong setting looks like: 78, the sample kept for the next run.
    const wrongUrl = await runCli(["agent", "run", "--once"], {
      ...agentEnv,
      SRVUTIL_CENTRAL_URL: `${central}/srvutil`,
    });
    expect(wrongUrl.code, wrongUrl.stderr + wrongUrl.stdout).toBe(78);
    expect(wrongUrl.stdout).toMatch(/0 rejected \(HTTP 404: .*check SRVUTIL_CENTRAL_URL/);
    const agentPlan = await runCli(["agent", "install", "--dry-run"], agentEnv);
    expect(agentPlan.code, agentPlan.stderr).toBe(0);
    expect(agentPlan.stdout).toContain(`central ${central}/ accepts the token for server web-01`);
    const again = await runCli(["agent", "run", "--once"], agentEnv);
    expect(again.code, again.stderr + again.stdout).toBe(0);
    expect(again.stdout).toMatch(/uploaded 2 file\(s\), 0 pending, 0 rejected\n$/);
    const servers = await runCli(["central", "--settings", settings, "token", "list"], base());
    expect(servers.stdout).toMatch(
      /agent\s+web-01\s+[0-9a-f]{12}\s+\S+\s+\d{4}-\d\d-\d\dT\d\d:\d\dZ\s+active/,
    ); // used

    // 10. The dashboard: the user of step 7 signs in and sees web-01.
    const browser = new DashboardClient(central);
    const signIn = await browser.signIn({ name: "admin", password: adminPassword });
    expect(signIn.status, signIn.text).toBe(303);
    expect(signIn.headers.location).toBe("/");
    const fleet = await browser.get("/");
    expect(fleet.status).toBe(200);
    expect(fleet.text).toContain("web-01");

    // 11. Last week's report, now.
    const sent = await runCli(argsOf(send, settings), base());
    expect(sent.code, sent.stdout + sent.stderr).toBe(0);
    expect(sent.stdout).toMatch(/^20\d\d-W\d\d default: sent via smtp:\/\/127\.0\.0\.1:\d+ as <srvutil\./m);
    expect(smtp.messages).toHaveLength(2);
    expect(smtp.messages[1]!.envelopeTo).toEqual(["ops@example.com"]);

    // 12. `report status`: the delivery, the schedule, where mail goes.
    const rs = await runCli(argsOf(reportStatus, settings), base());
    expect(rs.code, rs.stderr).toBe(0);
    expect(rs.stdout).toMatch(/^schedule: 0 7 \* \* 1 \(Europe\/Berlin\), last run /m);
    expect(rs.stdout).toMatch(new RegExp(`^mail: smtp://127\\.0\\.0\\.1:${smtp.port}/?, 1 recipient$`, "m"));
    expect(rs.stdout).toMatch(/^20\d\d-W\d\d\s+default\s+sent\s+1 /m);

    serve.kill("SIGTERM");
  }, 180_000);
});
