import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { EXIT_CODE } from "../../../src/errors.js";
import { runCli } from "../../helpers/cli.js";
import { freePort, makeSelfSignedCert, type SmtpFixture, startSmtpServer } from "./smtp-fixture.js";

// `srvutil report test-mail --to ADDRESS` against a real SMTP server in this
// process: it prints what the server answered, accepted or refused.
let dir: string;
const servers: SmtpFixture[] = [];
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-test-mail-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const env = (extra: Record<string, string>): NodeJS.ProcessEnv => ({
  PATH: process.env.PATH,
  SRVUTIL_DATA_DIR: dir,
  SRVUTIL_MAIL_FROM: "srvutil@example.com",
  ...extra,
});

describe("srvutil report test-mail", () => {
  it("prints the server's final answer and the accepted recipient; the message arrives", async () => {
    const smtp = await startSmtpServer();
    servers.push(smtp);
    const r = await runCli(
      ["report", "test-mail", "--to", "ops@example.com"],
      env({ SRVUTIL_SMTP_URL: `smtp://127.0.0.1:${smtp.port}` }),
    );
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`server:  smtp://127.0.0.1:${smtp.port} (STARTTLS when offered)\n`);
    expect(r.stdout).toMatch(/^answer: {2}250 OK queued as 1$/m); // the fixture's own words
    expect(r.stdout).toContain("accepted: ops@example.com\n");
    expect(smtp.messages).toHaveLength(1);
    expect(smtp.messages[0]!.envelopeTo).toEqual(["ops@example.com"]);
    expect(smtp.messages[0]!.parsed.subject).toMatch(/^srvutil test mail from /);
  }, 30_000);

  it("a refused recipient: prints the 550 and the command it answered, exit 78, nothing delivered", async () => {
    const smtp = await startSmtpServer({ rejectRecipients: ["nobody@example.com"] });
    servers.push(smtp);
    const r = await runCli(
      ["report", "test-mail", "--to", "nobody@example.com"],
      env({ SRVUTIL_SMTP_URL: `smtp://127.0.0.1:${smtp.port}` }),
    );
    expect(r.stdout).toMatch(/^answer: {2}550 no such user nobody@example\.com \(to RCPT TO\)$/m);
    expect(r.stdout).toMatch(/^hint: {4}the server refused the sender or a recipient/m);
    expect(r.code).toBe(EXIT_CODE.bad_config);
    expect(smtp.messages).toHaveLength(0);
  }, 30_000);

  it("one of two recipients refused: the other gets it, the refusal is listed, exit 1", async () => {
    const smtp = await startSmtpServer({ rejectRecipients: ["nobody@example.com"] });
    servers.push(smtp);
    const r = await runCli(
      ["report", "test-mail", "--to", "ops@example.com", "--to", "nobody@example.com"],
      env({ SRVUTIL_SMTP_URL: `smtp://127.0.0.1:${smtp.port}` }),
    );
    expect(r.stdout).toContain("accepted: ops@example.com\n");
    expect(r.stdout).toContain("refused:  nobody@example.com\n");
    expect(r.code).toBe(1);
    expect(smtp.messages.map((m) => m.envelopeTo)).toEqual([["ops@example.com"]]);
  }, 30_000);

  it("wrong password over STARTTLS: prints the 535, the password from a file never shows", async () => {
    const { key, cert } = makeSelfSignedCert(dir);
    const smtp = await startSmtpServer({
      tls: { key, cert },
      auth: { user: "reports@example.com", pass: "right" },
    });
    servers.push(smtp);
    const passwordFile = path.join(dir, "smtp-password");
    writeFileSync(passwordFile, "WRONGSECRET\n", { mode: 0o600 });
    const r = await runCli(
      ["report", "test-mail", "--to", "ops@example.com"],
      env({
        SRVUTIL_SMTP_URL: `smtp://reports%40example.com@127.0.0.1:${smtp.port}`,
        SRVUTIL_SMTP_PASSWORD_FILE: passwordFile,
        SRVUTIL_SMTP_ALLOW_SELF_SIGNED: "on",
      }),
    );
    expect(r.stdout).toContain(`server:  smtp://reports%40example.com:***@127.0.0.1:${smtp.port}`);
    expect(r.stdout).toMatch(/^answer: {2}535 535 authentication failed \(to AUTH PLAIN\)$/m); // the fixture's words, code included
    expect(r.stdout).toMatch(/^hint: {4}the server refused the user name or password/m);
    expect(`${r.stdout}${r.stderr}`).not.toContain("WRONGSECRET");
    expect(r.code).not.toBe(0);
    expect(smtp.messages).toHaveLength(0);
  }, 30_000);

  it("no server listening: says so with the hint about host and port, exit 69", async () => {
    const port = await freePort();
    const r = await runCli(
      ["report", "test-mail", "--to", "ops@example.com"],
      env({ SRVUTIL_SMTP_URL: `smtp://127.0.0.1:${port}`, SRVUTIL_SMTP_TIMEOUT_SECONDS: "5" }),
    );
    expect(r.stdout).toMatch(/^answer: {2}no SMTP answer: .*ECONNREFUSED/m);
    expect(r.stdout).toMatch(/^hint: {4}the server did not answer/m);
    expect(r.code).toBe(EXIT_CODE.unavailable);
  }, 30_000);

  it("without SRVUTIL_SMTP_URL it refuses (exit 78) instead of writing to the outbox", async () => {
    const r = await runCli(["report", "test-mail", "--to", "ops@example.com"], env({}));
    expect(r.code).toBe(EXIT_CODE.bad_config);
    expect(r.stderr).toMatch(/^srvutil: SRVUTIL_SMTP_URL: not set, so no email is ever sent/);
  }, 30_000);
});
