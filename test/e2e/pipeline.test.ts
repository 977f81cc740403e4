/**
 * The whole pipeline with real parts: the central process listening on a
 * free port, the real agent, a multi-day CSV over HTTP, the report build, and
 * the email received by a real SMTP server.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import type net from "node:net";
import os from "node:os";
import path from "node:path";
import { DateTime } from "luxon";
import { type ParsedMail, simpleParser } from "mailparser";
import { SMTPServer } from "smtp-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, srvutilCommand } from "../helpers/cli.js";
import { recentShift } from "../helpers/clock.js";
import { freePort } from "../helpers/net.js";

const SERVER = "e2e-web-01";

async function waitForHttp(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not come up in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * The report week: W47 of 2026 moved to last week (real clock) by whole weeks,
 * so the central's ingest horizon never refuses it and its weekdays stay.
 */
const at = recentShift("2026-W47");
const WEEK = at("2026-W47");

/**
 * Two days of WEEK (Europe/Berlin) at 10-minute steps on two mounts, written
 * with the local UTC offset like an agent on local time would.
 */
function multiDayCsv(): { csv: string; rows: number } {
  const lines = [
    "timestamp,server,cpu_percent,cpu_peak_percent,mem_total_bytes,mem_used_bytes,mem_available_bytes,disk_mount,disk_total_bytes,disk_used_bytes,disk_free_bytes",
  ];
  // Monday and Tuesday, local 00:10 … 24:00 (a DST change falls on a Sunday, never on these days).
  for (const [day, cpu] of [
    [at("2026-11-16"), 20],
    [at("2026-11-17"), 40],
  ] as const) {
    const midnight = DateTime.fromISO(`${day}T00:00:00`, { zone: "Europe/Berlin" });
    for (let i = 1; i <= 144; i++) {
      // Keep timestamps inside the local day: local time − 1 ms, the last one 23:59:59.999 local.
      const iso = midnight.plus({ minutes: i * 10, milliseconds: -1 }).toISO();
      const c = i % 2 === 0 ? cpu + 10 : cpu - 10; // avg = cpu
      lines.push(
        `${iso},${SERVER},${c},${c + 5},1000,${i % 2 === 0 ? 600 : 400},${i % 2 === 0 ? 400 : 600},/,5000,${1000 + i},${3000 - i}`,
      );
      lines.push(
        `${iso},${SERVER},${c},${c + 5},1000,${i % 2 === 0 ? 600 : 400},${i % 2 === 0 ? 400 : 600},/data,9000,100,8000`,
      );
    }
  }
  return { csv: `${lines.join("\n")}\n`, rows: lines.length - 1 };
}

describe("end to end: agent → API → SQLite → report → SMTP", () => {
  let dir: string;
  let central: ChildProcess | undefined;
  let centralUrl: string;
  let smtp: SMTPServer;
  let smtpPort: number;
  const mails: ParsedMail[] = [];
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-e2e-"));
    smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ["STARTTLS"],
      logger: false,
      onData(stream, _session, callback) {
        simpleParser(stream)
          .then((mail) => {
            mails.push(mail);
            callback();
          })
          .catch(callback);
      },
    });
    await new Promise<void>((resolve) => smtp.listen(0, "127.0.0.1", resolve));
    smtpPort = (smtp.server.address() as net.AddressInfo).port;

    const port = await freePort();
    centralUrl = `http://127.0.0.1:${port}`;
    env = {
      ...process.env,
      SRVUTIL_DATA_DIR: path.join(dir, "central"),
      SRVUTIL_LISTEN: `127.0.0.1:${port}`,
      SRVUTIL_REPORT_TZ: "Europe/Berlin",
      SRVUTIL_SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
      SRVUTIL_MAIL_FROM: "srvutil@example.test",
      SRVUTIL_REPORT_TO: "ops@example.test",
      // The scheduler must not fire on its own during the test.
      SRVUTIL_REPORT_CRON: "0 7 1 1 *",
    };
    const [cmd, args] = srvutilCommand(["central", "serve"]);
    central = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    central.stdout?.on("data", (d) => {
      output += d;
    });
    central.stderr?.on("data", (d) => {
      output += d;
    });
    try {
      await waitForHttp(`${centralUrl}/healthz`, 20_000);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${output}`);
    }
  }, 60_000);

  afterAll(async () => {
    central?.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 200));
    central?.kill("SIGKILL");
    await new Promise<void>((resolve) => smtp.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  it("runs every stage for real", async () => {
    // 1. Tokens: the last line of `token add` is the token alone.
    const add = await runCli(["central", "token", "add", SERVER], env);
    expect(add.code, add.stderr).toBe(0);
    const token = add.stdout.trim().split("\n").at(-1)!;
    expect(token.length).toBeGreaterThanOrEqual(22);

    const agentName = "e2e-agent-host";
    const agentAdd = await runCli(["central", "token", "add", agentName], env);
    const agentToken = agentAdd.stdout.trim().split("\n").at(-1)!;

    // 2. The real agent, once, against the real central.
    const agentDir = path.join(dir, "agent");
    const agent = await runCli(["agent", "run", "--once"], {
      ...env,
      SRVUTIL_CENTRAL_URL: centralUrl,
      SRVUTIL_AGENT_TOKEN: agentToken,
      SRVUTIL_SERVER_NAME: agentName,
      SRVUTIL_AGENT_DIR: agentDir,
    });
    expect(agent.code, agent.stderr + agent.stdout).toBe(0);
    expect(agent.stdout + agent.stderr).not.toContain(agentToken);
    const received = path.join(dir, "central", "received_metrics");
    expect(readdirSync(path.join(received, agentName)).length).toBeGreaterThan(0);
    // Delivered means removed from the spool.
    const spooled = readdirSync(path.join(agentDir, "metrics")).filter((f) => f.endsWith(".csv"));
    expect(spooled).toEqual([]);

    // 3. A multi-day CSV over HTTP (multipart, as `curl -F file=@x.csv` sends it).
    const { csv, rows } = multiDayCsv();
    const form = new FormData();
    form.append("file", new Blob([csv], { type: "text/csv" }), "week.csv");
    const up = await fetch(`${centralUrl}/api/v1/metrics`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}` },
      body: form,
    });
    expect(up.status).toBe(201);
    expect(await up.json()).toMatchObject({ rows, duplicates: 0 });

    // Uploading it again changes nothing.
    const again = await fetch(`${centralUrl}/api/v1/metrics`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "text/csv" },
      body: csv,
    });
    expect(again.status).toBe(201);
    expect(await again.json()).toMatchObject({ rows, duplicates: rows });

    // Another server's token cannot write as this server.
    const forged = await fetch(`${centralUrl}/api/v1/metrics`, {
      method: "POST",
      headers: { authorization: `Bearer ${agentToken}`, "content-type": "text/csv" },
      body: csv,
    });
    expect(forged.status).toBe(403);

    // 4. The report, as JSON.
    const build = await runCli(["report", "build", "--week", WEEK, "--format", "json", "--out", "-"], env);
    expect(build.code, build.stderr).toBe(0);
    const report = JSON.parse(build.stdout);
    expect(report).toMatchObject({ week: WEEK, timezone: "Europe/Berlin" });
    const server = report.servers.find((s: { server: string }) => s.server === SERVER);
    expect(server.days).toHaveLength(7);
    const [monday, tuesday, wednesday] = server.days;
    expect(monday).toMatchObject({ date: at("2026-11-16"), samples: 144 });
    expect(monday.cpu.avg).toBeCloseTo(20, 10);
    expect(monday.cpu.peak).toBe(35);
    expect(tuesday.cpu.avg).toBeCloseTo(40, 10);
    expect(tuesday.cpu.peak).toBe(55);
    expect(monday.memory).toMatchObject({ total_bytes: 1000, used_avg_bytes: 500, available_avg_bytes: 500 });
    expect(monday.memory.percent_avg).toBeCloseTo(50, 10);
    expect(monday.memory.percent_peak).toBe(60);
    expect(monday.disks).toEqual([
      { mount: "/", total_bytes: 5000, used_bytes: 1144, free_bytes: 2856, percent: (1144 / 4000) * 100 },
      { mount: "/data", total_bytes: 9000, used_bytes: 100, free_bytes: 8000, percent: (100 / 8100) * 100 },
    ]);
    expect(wednesday).toMatchObject({ date: at("2026-11-18"), samples: 0, cpu: { avg: null, peak: null } });

    // 5. The email, through a real SMTP conversation.
    const send = await runCli(["report", "send", "--week", WEEK], env);
    expect(send.code, send.stderr + send.stdout).toBe(0);
    expect(mails).toHaveLength(1);
    const mail = mails[0]!;
    expect(mail.subject).toContain(WEEK);
    expect(String(mail.html)).toContain(SERVER);
    expect(mail.text).toContain(SERVER);
    expect(JSON.stringify(mail.to)).toContain("ops@example.test");
    // The body is the digest; the full report travels as attachments (HTML, JSON, daily CSV).
    const files = mail.attachments.filter((a) => a.contentDisposition === "attachment");
    expect(files.map((a) => a.filename).sort()).toEqual([
      `srvutil-${WEEK}-daily.csv`,
      `srvutil-${WEEK}.html`,
      `srvutil-${WEEK}.json`,
    ]);
    const attachedJson = JSON.parse(files.find((a) => a.filename!.endsWith(".json"))!.content.toString());
    expect(attachedJson.servers.map((s: { server: string }) => s.server)).toEqual([SERVER]);

    // 6. Every step is in the automation log.
    const log = readFileSync(path.join(dir, "central", "Logs", "automation.log"), "utf8");
    expect(log).toContain(WEEK);
    expect(log).not.toContain(token);
  }, 120_000);
});
