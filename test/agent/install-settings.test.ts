import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { agentInstallCommand, agentRunCommand } from "../../src/agent/commands.js";
import { loadAgentConfig } from "../../src/agent/config.js";
import { createAgentToken } from "../../src/central/auth/tokens.js";
import { makeTestCentral, type TestCentral } from "../central/ingest/fixtures.js";

/**
 * `install` as a new user runs it: settings in the environment, then install.
 * Against the real central (fastify app + SQLite on loopback), so the check
 * before activation and the upload after it go through the real routes.
 */
let work: string;
let central: TestCentral;
let url: string;

beforeEach(async () => {
  work = mkdtempSync(join(tmpdir(), "srvutil-install-settings-"));
  central = await makeTestCentral();
  await central.app.listen({ port: 0, host: "127.0.0.1" });
  url = `http://127.0.0.1:${(central.app.server.address() as AddressInfo).port}`;
});
afterEach(async () => {
  await central.cleanup();
  rmSync(work, { recursive: true, force: true });
});

async function tokenFileFor(server: string): Promise<{ token: string; file: string }> {
  const token = await createAgentToken(central.store, server);
  const file = join(work, "agent.token");
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return { token, file };
}

async function install(
  env: Record<string, string>,
  over: Partial<Parameters<typeof agentInstallCommand>[0]> = {},
) {
  const lines: string[] = [];
  await agentInstallCommand({
    command: [process.execPath, "/opt/srvutil/srvutil-agent.mjs"],
    targetDir: join(work, "units"),
    noActivate: true,
    platform: "linux",
    env,
    print: (l) => lines.push(l),
    ...over,
  });
  return lines.join("\n");
}

describe("agent install saves what it was given and checks it first", () => {
  it("README flow: URL + token file in the environment → agent.json (0600, no token), unit env only the agent dir, and the service's config reports", async () => {
    const { token, file } = await tokenFileFor("web-01");
    const agentDir = join(work, "agent");
    const out = await install({
      SRVUTIL_CENTRAL_URL: url,
      SRVUTIL_AGENT_TOKEN_FILE: file,
      SRVUTIL_SERVER_NAME: "web-01",
      SRVUTIL_AGENT_DIR: agentDir,
      SRVUTIL_AGENT_UPLOAD_SECONDS: "600",
    });
    expect(out).toContain(`central ${url}/ accepts the token for server web-01`);
    const configPath = join(agentDir, "agent.json");
    expect(statSync(configPath).mode & 0o777).toBe(0o600);
    const text = readFileSync(configPath, "utf8");
    expect(text).not.toContain(token);
    expect(JSON.parse(text)).toEqual({
      central_url: `${url}/`,
      token_file: file,
      server_name: "web-01",
      upload_interval_seconds: 600,
    });
    const unit = readFileSync(join(work, "units", "srvutil-agent.service"), "utf8");
    expect(unit.match(/^Environment=.*$/gm)).toEqual([`Environment=SRVUTIL_AGENT_DIR=${agentDir}`]);
    expect(unit).not.toContain(token);

    // What the service sees: only SRVUTIL_AGENT_DIR. It has everything, and its upload arrives.
    const serviceEnv = { SRVUTIL_AGENT_DIR: agentDir, SRVUTIL_AGENT_CPU_MEASURE_MS: "50" };
    const seen = loadAgentConfig(serviceEnv);
    expect(seen).toMatchObject({
      centralUrl: `${url}/`,
      token,
      serverName: "web-01",
      uploadIntervalSeconds: 600,
    });
    const printed: string[] = [];
    await agentRunCommand({ once: true, env: serviceEnv, print: (l) => printed.push(l) });
    expect(printed.join("\n")).toMatch(/uploaded 1 file\(s\), 0 pending, 0 rejected/);
    const rows = central.store.db.prepare("SELECT DISTINCT server FROM samples").all();
    expect(rows).toEqual([{ server: "web-01" }]);
  });

  it("stops before writing anything when the token belongs to the other-case name (Windows host names)", async () => {
    const { file } = await tokenFileFor("sgcs-it-04");
    const agentDir = join(work, "agent");
    const attempt = install({
      SRVUTIL_CENTRAL_URL: url,
      SRVUTIL_AGENT_TOKEN_FILE: file,
      SRVUTIL_SERVER_NAME: "SGCS-IT-04",
      SRVUTIL_AGENT_DIR: agentDir,
    });
    await expect(attempt).rejects.toThrow(
      /belongs to server 'sgcs-it-04', but SRVUTIL_SERVER_NAME \/ server_name is 'SGCS-IT-04': server names are case-sensitive .*set SRVUTIL_SERVER_NAME=sgcs-it-04 .*srvutil central token add SGCS-IT-04/,
    );
    await expect(attempt).rejects.toHaveProperty("name", "AgentConfigError");
    expect(readdirSync(work)).toEqual(["agent.token"]);
  });

  it("a wrong token, a central that is down and a URL without the API each stop install with what to fix", async () => {
    const { file } = await tokenFileFor("web-01");
    const wrong = join(work, "wrong.token");
    writeFileSync(wrong, "srvu_agent_doesnotexist_0000000000000000");
    const env = {
      SRVUTIL_AGENT_TOKEN_FILE: wrong,
      SRVUTIL_SERVER_NAME: "web-01",
      SRVUTIL_AGENT_DIR: join(work, "a"),
    };
    await expect(install({ ...env, SRVUTIL_CENTRAL_URL: url })).rejects.toThrow(
      /refused the token \(HTTP 401/,
    );
    await expect(
      install({ ...env, SRVUTIL_AGENT_TOKEN_FILE: file, SRVUTIL_CENTRAL_URL: "http://127.0.0.1:9" }),
    ).rejects.toThrow(/cannot reach the central at http:\/\/127\.0\.0\.1:9\/ \(ECONNREFUSED/);
    await expect(
      install({ ...env, SRVUTIL_AGENT_TOKEN_FILE: file, SRVUTIL_CENTRAL_URL: `${url}/wrong-prefix` }),
    ).rejects.toThrow(/has no \/wrong-prefix\/api\/v1\/agent\/whoami/);
    expect(readdirSync(work).sort()).toEqual(["agent.token", "wrong.token"]);
  });

  it("a token given only as SRVUTIL_AGENT_TOKEN goes into its own 0600 file; earlier agent.json settings are kept", async () => {
    const token = await createAgentToken(central.store, "db-02");
    const agentDir = join(work, "agent");
    mkdirSync(agentDir);
    writeFileSync(join(agentDir, "agent.json"), JSON.stringify({ disks: { exclude_mounts: ["/boot*"] } }));
    const out = await install({
      SRVUTIL_CENTRAL_URL: url,
      SRVUTIL_AGENT_TOKEN: token,
      SRVUTIL_SERVER_NAME: "db-02",
      SRVUTIL_AGENT_DIR: agentDir,
    });
    expect(out).not.toContain(token);
    const tokenPath = join(agentDir, "agent.token");
    expect(readFileSync(tokenPath, "utf8").trim()).toBe(token);
    expect(statSync(tokenPath).mode & 0o777).toBe(0o600);
    const saved = JSON.parse(readFileSync(join(agentDir, "agent.json"), "utf8"));
    expect(saved).toEqual({
      disks: { exclude_mounts: ["/boot*"] },
      central_url: `${url}/`,
      token_file: tokenPath,
      server_name: "db-02",
    });
    expect(statSync(join(agentDir, "agent.json")).mode & 0o777).toBe(0o600);
    expect(loadAgentConfig({ SRVUTIL_AGENT_DIR: agentDir }).token).toBe(token);
  });

  it("--dry-run checks against the central, prints agent.json, and writes nothing; the token is never printed", async () => {
    const token = await createAgentToken(central.store, "web-03");
    const agentDir = join(work, "agent");
    const out = await install(
      {
        SRVUTIL_CENTRAL_URL: url,
        SRVUTIL_AGENT_TOKEN: token,
        SRVUTIL_SERVER_NAME: "web-03",
        SRVUTIL_AGENT_DIR: agentDir,
      },
      { dryRun: true },
    );
    expect(out).toContain("accepts the token for server web-03");
    expect(out).toContain(`# would write ${join(agentDir, "agent.json")}, mode 600:`);
    expect(out).toContain(`"token_file": "${join(agentDir, "agent.token")}"`);
    expect(out).toContain(
      `# would write ${join(agentDir, "agent.token")}, mode 600:\n(the token, ${token.length} characters)`,
    );
    expect(out).not.toContain(token);
    expect(readdirSync(work)).toEqual([]);
  });

  it("Windows: agent.json and the token file are created with a SYSTEM + Administrators ACL before their content, also with --no-activate", async () => {
    const { token } = await tokenFileFor("SRV-WIN-02");
    const agentDir = join(work, "ProgramData", "srvutil");
    const jsonPath = join(agentDir, "agent.json");
    const tokenPath = join(agentDir, "agent.token");
    // What each command saw on disk when it ran: the ACL must come while the file is still empty.
    const calls: { command: string[]; size: number | null; finalHolds: boolean }[] = [];
    const runCommand = (command: readonly string[]) => {
      const target = command[0] === "icacls" ? command[1]! : null;
      calls.push({
        command: [...command],
        size: target !== null && existsSync(target) ? statSync(target).size : null,
        finalHolds: existsSync(tokenPath) && readFileSync(tokenPath, "utf8").includes(token),
      });
    };
    const out = await install(
      {
        SRVUTIL_CENTRAL_URL: url,
        SRVUTIL_AGENT_TOKEN: token,
        SRVUTIL_SERVER_NAME: "SRV-WIN-02",
        SRVUTIL_AGENT_DIR: agentDir,
      },
      { platform: "win32", command: ["C:\\srvutil\\srvutil-agent.exe"], runCommand },
    );
    expect(calls.map((c) => c.command)).toEqual([
      [
        "icacls",
        `${jsonPath}.new-${process.pid}`,
        "/inheritance:r",
        "/grant:r",
        "*S-1-5-18:F",
        "*S-1-5-32-544:F",
      ],
      [
        "icacls",
        `${tokenPath}.new-${process.pid}`,
        "/inheritance:r",
        "/grant:r",
        "*S-1-5-18:F",
        "*S-1-5-32-544:F",
      ],
    ]);
    // Each file existed, empty, when its ACL was set; the token was nowhere on disk yet.
    expect(calls.map((c) => [c.size, c.finalHolds])).toEqual([
      [0, false],
      [0, false],
    ]);
    expect(readFileSync(tokenPath, "utf8")).toBe(`${token}\n`);
    expect(JSON.parse(readFileSync(jsonPath, "utf8"))).toMatchObject({ token_file: tokenPath });
    expect(readdirSync(agentDir).sort()).toEqual(["agent.json", "agent.token"]);
    expect(out).toContain(`wrote ${tokenPath} (readable by SYSTEM and Administrators only)`);
  });

  it("Windows: when the ACL cannot be set, nothing of the secret is written and install fails", async () => {
    const { token } = await tokenFileFor("SRV-WIN-03");
    const agentDir = join(work, "ProgramData", "srvutil");
    await expect(
      install(
        {
          SRVUTIL_CENTRAL_URL: url,
          SRVUTIL_AGENT_TOKEN: token,
          SRVUTIL_SERVER_NAME: "SRV-WIN-03",
          SRVUTIL_AGENT_DIR: agentDir,
        },
        {
          platform: "win32",
          command: ["C:\\srvutil\\srvutil-agent.exe"],
          runCommand: () => {
            throw new Error("'icacls' failed (exit 5)");
          },
        },
      ),
    ).rejects.toThrow(/icacls/);
    expect(readdirSync(agentDir)).toEqual([]);
  });

  it("Windows: agent.json gets a SYSTEM + Administrators ACL, and the task is started right after it is created", async () => {
    const { file } = await tokenFileFor("SRV-WIN-01");
    const out = await install(
      {
        SRVUTIL_CENTRAL_URL: url,
        SRVUTIL_AGENT_TOKEN_FILE: file,
        SRVUTIL_SERVER_NAME: "SRV-WIN-01",
        ProgramData: "D:\\ProgramData",
      },
      { platform: "win32", dryRun: true, command: ["C:\\Program Files\\srvutil\\srvutil-agent.exe"] },
    );
    expect(out).toContain(
      "# would create D:\\ProgramData\\srvutil\\agent.json empty, then run: icacls D:\\ProgramData\\srvutil\\agent.json /inheritance:r /grant:r *S-1-5-18:F *S-1-5-32-544:F\n# would write D:\\ProgramData\\srvutil\\agent.json:",
    );
    const runs = out.split("\n").filter((l) => l.startsWith("# would run: "));
    expect(runs).toEqual([
      `# would run: schtasks /Create /TN srvutil-agent /XML ${join(work, "units", "srvutil-agent.task.xml")} /F`,
      "# would run: schtasks /Run /TN srvutil-agent",
    ]);
  });
});

describe("default agent directory", () => {
  it("is the platform's place, not the current directory", () => {
    const opts = { requireCentral: false, cwd: work } as const;
    expect(loadAgentConfig({}, [], { ...opts, platform: "linux" }).agentDir).toBe("/var/lib/srvutil-agent");
    expect(loadAgentConfig({}, [], { ...opts, platform: "darwin" }).agentDir).toBe(
      "/Library/Application Support/srvutil",
    );
    expect(loadAgentConfig({ ProgramData: "E:\\PD" }, [], { ...opts, platform: "win32" }).agentDir).toBe(
      "E:\\PD\\srvutil",
    );
    expect(loadAgentConfig({}, [], { ...opts, platform: "win32" }).agentDir).toBe("C:\\ProgramData\\srvutil");
    expect(loadAgentConfig({}, ["--agent-dir", "rel"], opts).agentDir).toBe(join(work, "rel"));
  });
});
