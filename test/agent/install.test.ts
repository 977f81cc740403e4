import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { agentInstallCommand, agentUninstallCommand } from "../../src/agent/commands.js";
import { AgentUsageError } from "../../src/agent/errors.js";
import { launchdPlist } from "../../src/agent/install/launchd.js";
import { schtasksXml, windowsQuote } from "../../src/agent/install/schtasks.js";
import { systemdQuote, systemdServiceUnit } from "../../src/agent/install/systemd.js";
import type { InstallSpec } from "../../src/agent/install/types.js";
import { requireProgram } from "../helpers/programs.js";

// The real tools check what we write; a missing one fails the test and names its package.
const systemdAnalyze = () => requireProgram("systemd-analyze", "systemd");
const python3 = () => requireProgram("python3", "python3");

let work: string;
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), "srvutil-install-"));
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

const spec = (over: Partial<InstallSpec> = {}): InstallSpec => ({
  mode: "service",
  command: [process.execPath, "/opt/srvutil agent/srvutil-agent.mjs"],
  agentDir: "/var/lib/srvutil-agent",
  configFile: null,
  intervalMinutes: 20,
  ...over,
});

function verify(files: string[]): { status: number | null; output: string } {
  const r = spawnSync(systemdAnalyze(), ["verify", ...files], { encoding: "utf8" });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe("systemd", () => {
  it("install --dry-run prints the unit and writes nothing", async () => {
    const lines: string[] = [];
    await agentInstallCommand({
      command: [process.execPath, "/opt/srvutil-agent.mjs"],
      dryRun: true,
      targetDir: work,
      platform: "linux",
      env: { SRVUTIL_AGENT_DIR: join(work, "agent") },
      print: (l) => lines.push(l),
    });
    const out = lines.join("\n");
    expect(out).toContain(`# would write ${join(work, "srvutil-agent.service")}`);
    expect(out).toContain(`ExecStart=${process.execPath} /opt/srvutil-agent.mjs run\n`);
    expect(out).toContain("# would run: systemctl enable --now srvutil-agent.service");
    expect(readdirSync(work)).toEqual([]);
  });

  it("service and timer units pass systemd-analyze verify; uninstall removes them", async () => {
    const env = {
      SRVUTIL_AGENT_DIR: join(work, "agent dir"),
      SRVUTIL_CENTRAL_URL: "http://x",
      SRVUTIL_AGENT_TOKEN: "secret-token-1",
    };
    const units = join(work, "units");
    for (const mode of ["service", "timer"] as const) {
      rmSync(units, { recursive: true, force: true });
      await agentInstallCommand({
        command: [process.execPath, join(work, "srvutil-agent.mjs")],
        mode,
        targetDir: units,
        noActivate: true,
        verify: false,
        platform: "linux",
        env,
        print: () => {},
      });
      const files = readdirSync(units).map((f) => join(units, f));
      expect(files.length).toBe(mode === "timer" ? 2 : 1);
      const result = verify(files);
      expect(result.output).toBe("");
      expect(result.status).toBe(0);
      const service = readFileSync(join(units, "srvutil-agent.service"), "utf8");
      expect(service).not.toContain("secret-token-1"); // tokens never go into unit files
      expect(service).toContain(`Environment="SRVUTIL_AGENT_DIR=${join(work, "agent dir")}"`);
      expect(service).toContain(mode === "timer" ? "Type=oneshot" : "Restart=on-failure");
      expect(service).toContain(mode === "timer" ? " run --once\n" : " run\n");
    }
    expect(readFileSync(join(units, "srvutil-agent.timer"), "utf8")).toContain("OnUnitActiveSec=20min");
    await agentUninstallCommand({
      targetDir: units,
      noActivate: true,
      platform: "linux",
      env,
      print: () => {},
    });
    expect(readdirSync(units)).toEqual([]);
  });

  it("the verify step itself catches a broken unit (control)", () => {
    const bad = join(work, "broken.service");
    writeFileSync(bad, "[Service]\nExecStart=relative/program run\n");
    expect(verify([bad]).status).not.toBe(0);
  });

  it("quotes paths with spaces and escapes % specifiers", () => {
    expect(systemdQuote("/usr/bin/node")).toBe("/usr/bin/node");
    expect(systemdQuote("/opt/my agent/a.mjs")).toBe('"/opt/my agent/a.mjs"');
    expect(systemdQuote("/data/100%")).toBe("/data/100%%");
    expect(systemdServiceUnit(spec())).toContain(
      "ExecStart=" + process.execPath + ' "/opt/srvutil agent/srvutil-agent.mjs" run',
    );
  });
});

describe("launchd", () => {
  it("service plist keeps the daemon alive; timer plist runs --once every 20 minutes", () => {
    const service = launchdPlist(spec({ agentDir: "/Library/Application Support/srvutil & co" }));
    expect(service).toContain("<key>KeepAlive</key>");
    expect(service).toContain("<string>/Library/Application Support/srvutil &amp; co</string>");
    const timer = launchdPlist(spec({ mode: "timer" }));
    expect(timer).toContain("<key>StartInterval</key>\n  <integer>1200</integer>");
    expect(timer).toContain("<string>--once</string>");
  });

  it("is a valid property list (parsed by python's plistlib)", () => {
    const file = join(work, "com.srvutil.agent.plist");
    writeFileSync(file, launchdPlist(spec({ mode: "timer", configFile: "/etc/srvutil/agent.json" })));
    const json = execFileSync(
      python3(),
      ["-c", "import plistlib,json,sys; print(json.dumps(plistlib.load(open(sys.argv[1],'rb'))))", file],
      { encoding: "utf8" },
    );
    const plist = JSON.parse(json) as Record<string, unknown>;
    expect(plist.Label).toBe("com.srvutil.agent");
    expect(plist.ProgramArguments).toEqual([
      process.execPath,
      "/opt/srvutil agent/srvutil-agent.mjs",
      "run",
      "--once",
    ]);
    expect(plist.EnvironmentVariables).toEqual({
      SRVUTIL_AGENT_DIR: "/var/lib/srvutil-agent",
      SRVUTIL_AGENT_CONFIG: "/etc/srvutil/agent.json",
    });
    expect(plist.StartInterval).toBe(1200);
  });
});

describe("Windows Task Scheduler", () => {
  const winSpec = spec({
    mode: "timer",
    command: ["C:\\Program Files\\nodejs\\node.exe", "C:\\srvutil\\srvutil-agent.mjs"],
    agentDir: "C:\\ProgramData\\srvutil agent",
  });

  it("repeats run --once every 20 minutes as SYSTEM, with the agent dir as a flag", () => {
    const xml = schtasksXml(winSpec);
    expect(xml).toContain("<Interval>PT20M</Interval>");
    expect(xml).toContain("<UserId>S-1-5-18</UserId>");
    expect(xml).toContain("<Command>C:\\Program Files\\nodejs\\node.exe</Command>");
    expect(xml).toContain(
      "<Arguments>C:\\srvutil\\srvutil-agent.mjs run --once --agent-dir &quot;C:\\ProgramData\\srvutil agent&quot;</Arguments>",
    );
    expect(xml).toContain("<MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>");
  });

  it("is well-formed XML in the Task Scheduler namespace, written as UTF-16 with BOM", async () => {
    const commands: string[][] = [];
    await agentInstallCommand({
      command: winSpec.command,
      mode: "timer",
      targetDir: work,
      noActivate: true,
      verify: false,
      platform: "win32",
      env: { SRVUTIL_AGENT_DIR: join(work, "a") },
      print: () => {},
      runCommand: (c) => {
        commands.push([...c]);
      },
    });
    // --no-activate: no schtasks, but agent.json still got its ACL (before its content).
    expect(commands.map((c) => c[0])).toEqual(["icacls"]);
    // agent.json went into the agent dir with this machine's path rules, not into the cwd.
    expect(readdirSync(join(work, "a"))).toEqual(["agent.json"]);
    const file = join(work, "srvutil-agent.task.xml");
    const bytes = readFileSync(file);
    expect([bytes[0], bytes[1]]).toEqual([0xff, 0xfe]);
    const root = execFileSync(
      python3(),
      [
        "-c",
        "import xml.dom.minidom,sys; d=xml.dom.minidom.parse(sys.argv[1]); print(d.documentElement.namespaceURI, d.getElementsByTagName('Interval')[0].firstChild.data)",
        file,
      ],
      { encoding: "utf8" },
    );
    expect(root.trim()).toBe("http://schemas.microsoft.com/windows/2004/02/mit/task PT20M");
  });

  it("quotes arguments like the Microsoft C runtime", () => {
    expect(windowsQuote("plain")).toBe("plain");
    expect(windowsQuote("C:\\a b\\")).toBe('"C:\\a b\\\\"');
    expect(windowsQuote('say "hi"')).toBe('"say \\"hi\\""');
  });
});

it("refuses to install a TypeScript entry point a service manager could not start", async () => {
  await expect(
    agentInstallCommand({
      command: ["node", "/src/agent/main.ts"],
      targetDir: work,
      noActivate: true,
      platform: "linux",
      env: {},
      print: () => {},
    }),
  ).rejects.toThrow(/built CLI/);
});

it("refuses an unknown mode with a usage error", async () => {
  await expect(
    agentInstallCommand({
      command: ["node"],
      mode: "cron",
      dryRun: true,
      platform: "linux",
      env: {},
      print: () => {},
    }),
  ).rejects.toThrow(AgentUsageError);
});
