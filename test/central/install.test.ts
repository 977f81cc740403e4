import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadCentralConfig } from "../../src/central/config.js";
import {
  type CentralServiceSpec,
  centralLaunchdPlist,
  centralTaskXml,
  envLine,
  parseEnvFile,
} from "../../src/central/install/index.js";
import { REPO_ROOT, runCli, srvutilCommand } from "../helpers/cli.js";
import { requireProgram } from "../helpers/programs.js";

// `srvutil central install|uninstall|status`, run through the CLI. The unit is
// checked by systemd-analyze, the plist by plistlib, the task XML by an XML parser.
const systemdAnalyze = () => requireProgram("systemd-analyze", "systemd");
const python3 = () => requireProgram("python3", "python3");

let work: string;
const children: ChildProcess[] = [];
beforeEach(() => {
  work = mkdtempSync(path.join(os.tmpdir(), "srvutil-central-install-"));
});
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill("SIGKILL");
  rmSync(work, { recursive: true, force: true });
});

const me = os.userInfo().username;
const baseEnv = (): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, HOME: process.env.HOME });

describe("central install on Linux (systemd)", () => {
  it("--dry-run prints the unit, the settings (secrets as ***) and the commands; writes nothing", async () => {
    const r = await runCli(
      [
        "central",
        "install",
        "--dry-run",
        "--unit-dir",
        path.join(work, "units"),
        "--settings",
        path.join(work, "c.env"),
      ],
      {
        ...baseEnv(),
        SRVUTIL_REPORT_TO: "ops@example.com",
        SRVUTIL_SMTP_URL: "smtp://reports%40example.com@smtp.gmail.com:587",
        SRVUTIL_SMTP_PASSWORD: "abcdefghijklmnop",
        SRVUTIL_MAIL_FROM: "reports@example.com",
      },
    );
    expect(r.stderr).not.toMatch(/srvutil: (?!warning)/);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("# would run: useradd --system --user-group --home-dir /var/lib/srvutil");
    expect(r.stdout).toContain(`# would write ${path.join(work, "c.env")}, mode 600:\n`);
    expect(r.stdout).toContain("SRVUTIL_DATA_DIR=/var/lib/srvutil\nSRVUTIL_LISTEN=127.0.0.1:8080\n");
    expect(r.stdout).toContain("SRVUTIL_SMTP_PASSWORD=***\n");
    expect(r.stdout).not.toContain("abcdefghijklmnop");
    expect(r.stdout).toContain("User=srvutil\n");
    expect(r.stdout).toContain(`EnvironmentFile=${path.join(work, "c.env")}\n`);
    expect(r.stdout).toContain("# would run: systemctl enable --now srvutil-central.service");
    expect(readdirSync(work)).toEqual([]);
  });

  it("writes a unit that passes systemd-analyze verify and a 0600 settings file that `serve --settings` runs with", async () => {
    const units = path.join(work, "units");
    const settings = path.join(work, "etc", "central.env");
    const data = path.join(work, "data dir");
    const env = {
      ...baseEnv(),
      SRVUTIL_DATA_DIR: data,
      SRVUTIL_LISTEN: "127.0.0.1:0",
      SRVUTIL_REPORT_TZ: "Europe/Berlin",
      SRVUTIL_MAIL_FROM: 'srvutil "reports" <reports@example.com>',
      SRVUTIL_REPORT_CRON: "off",
    };
    const args = [
      "central",
      "install",
      "--no-start",
      "--user",
      me,
      "--unit-dir",
      units,
      "--settings",
      settings,
    ];
    const r = await runCli(args, env);
    expect(r.stderr).not.toMatch(/srvutil: (?!warning)/);
    expect(r.code).toBe(0);
    const unitFile = path.join(units, "srvutil-central.service");
    const unit = readFileSync(unitFile, "utf8");
    for (const line of [
      `User=${me}`,
      `EnvironmentFile=${settings}`,
      "NoNewPrivileges=yes",
      "ProtectSystem=strict",
      `ReadWritePaths="${data}"`,
      `WorkingDirectory=${data}`,
      `ExecStart=${process.execPath} ${path.join(REPO_ROOT, "bin/srvutil.js")} central serve`,
    ]) {
      expect(unit).toContain(`${line}\n`);
    }
    const verify = spawnSync(systemdAnalyze(), ["verify", unitFile], { encoding: "utf8" });
    expect(`${verify.stdout}${verify.stderr}`).toBe("");
    expect(verify.status).toBe(0);

    expect(statSync(settings).mode & 0o777).toBe(0o600);
    const parsed = parseEnvFile(readFileSync(settings, "utf8"));
    expect(parsed).toMatchObject({ SRVUTIL_DATA_DIR: data, SRVUTIL_MAIL_FROM: env.SRVUTIL_MAIL_FROM });
    expect(loadCentralConfig(parsed).mailFrom).toBe(env.SRVUTIL_MAIL_FROM);

    // What launchd and Task Scheduler run: `central serve --settings FILE`, with nothing else set.
    const [cmd, argv] = srvutilCommand(["central", "serve", "--settings", settings]);
    const child = spawn(cmd, argv, { cwd: REPO_ROOT, env: baseEnv(), stdio: ["ignore", "pipe", "pipe"] });
    children.push(child);
    const line = await new Promise<string>((resolve, reject) => {
      child.stdout!.on("data", (d: Buffer) => resolve(d.toString()));
      child.on("close", (code) => reject(new Error(`serve exited ${code}`)));
    });
    expect(line).toMatch(/^srvutil \d+\.\d+\.\d+ central listening on http:\/\/127\.0\.0\.1:\d+\n/);
    const url = /(http:\S+)/.exec(line)![1]!;
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    child.kill("SIGTERM");
    expect(readdirSync(data)).toContain("srvutil.db");

    // A second install keeps the settings the operator may have edited since.
    writeFileSync(settings, `${readFileSync(settings, "utf8")}SRVUTIL_REPORT_TO=edited@example.com\n`);
    const again = await runCli(args, { ...env, SRVUTIL_REPORT_TO: "ignored@example.com" });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`kept ${settings}`);
    expect(parseEnvFile(readFileSync(settings, "utf8")).SRVUTIL_REPORT_TO).toBe("edited@example.com");

    const status = await runCli(
      ["central", "status", "--unit-dir", units, "--settings", settings],
      baseEnv(),
    );
    expect(status.stdout).toContain(`service file: ${unitFile} present\n`);
    expect(status.stdout).toContain(`settings: ${settings} mode 600\n`);
    expect(status.stdout).toContain(`data: ${data}\n`);
    expect(status.code).toBe(3); // not running under systemd here

    const un = await runCli(
      ["central", "uninstall", "--no-start", "--unit-dir", units, "--settings", settings],
      baseEnv(),
    );
    expect(un.code).toBe(0);
    expect(un.stdout).toContain(`removed ${unitFile}`);
    expect(un.stdout).toContain(`kept ${settings}, ${data}, user srvutil`);
    expect(readdirSync(units)).toEqual([]);
    expect(readdirSync(path.dirname(settings))).toEqual(["central.env"]);
  }, 60_000);

  it("refuses settings the service could not start with, before writing anything", async () => {
    const r = await runCli(
      [
        "central",
        "install",
        "--no-start",
        "--user",
        me,
        "--unit-dir",
        work,
        "--settings",
        path.join(work, "c.env"),
      ],
      { ...baseEnv(), SRVUTIL_LISTEN: "8080" },
    );
    expect(r.code).toBe(78);
    expect(r.stderr).toMatch(/^srvutil: SRVUTIL_LISTEN: expected HOST:PORT/m);
    expect(readdirSync(work)).toEqual([]);
  });

  it("status warns about a settings file others can read", async () => {
    const settings = path.join(work, "c.env");
    writeFileSync(settings, "SRVUTIL_DATA_DIR=/x\n", { mode: 0o644 });
    const r = await runCli(["central", "status", "--unit-dir", work, "--settings", settings], baseEnv());
    expect(r.stdout).toContain(
      `settings: ${settings} mode 644 (WARNING: readable by others; chmod 600 it, it holds secrets)`,
    );
    expect(r.stdout).toContain("service file: ");
    expect(r.stdout).toContain("absent (run `srvutil central install`)");
  });
});

const spec: CentralServiceSpec = {
  command: ["C:\\Program Files\\nodejs\\node.exe", "C:\\srvutil\\bin\\srvutil.js"],
  envFile: "C:\\ProgramData\\srvutil-central\\central.env",
  dataDir: "C:\\ProgramData\\srvutil-central\\data",
  extraWritablePaths: [],
  user: "SYSTEM",
  port: 8080,
};

describe("central install on macOS and Windows", () => {
  it("the launchd plist is a valid property list that runs `serve --settings` as the user", () => {
    const file = path.join(work, "central.plist");
    writeFileSync(
      file,
      centralLaunchdPlist(
        {
          ...spec,
          command: ["/usr/local/bin/node", "/opt/srvutil & co/bin/srvutil.js"],
          envFile: "/usr/local/etc/srvutil/central.env",
          dataDir: "/usr/local/var/srvutil",
          user: "daemon",
        },
        "/usr/local/var/srvutil/Logs",
      ),
    );
    const r = spawnSync(
      python3(),
      ["-c", "import plistlib,json,sys; print(json.dumps(plistlib.load(open(sys.argv[1],'rb'))))", file],
      { encoding: "utf8" },
    );
    expect(r.stderr).toBe("");
    const plist = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(plist).toMatchObject({
      Label: "com.srvutil.central",
      UserName: "daemon",
      RunAtLoad: true,
      KeepAlive: { SuccessfulExit: false },
      ProgramArguments: [
        "/usr/local/bin/node",
        "/opt/srvutil & co/bin/srvutil.js",
        "central",
        "serve",
        "--settings",
        "/usr/local/etc/srvutil/central.env",
      ],
    });
  });

  it("the Task Scheduler XML starts at boot as SYSTEM, restarts on failure, and parses", () => {
    const xml = centralTaskXml(spec);
    expect(xml).toContain("<BootTrigger>");
    expect(xml).toContain("<UserId>S-1-5-18</UserId>");
    expect(xml).toContain("<Command>C:\\Program Files\\nodejs\\node.exe</Command>");
    expect(xml).toContain(
      "<Arguments>C:\\srvutil\\bin\\srvutil.js central serve --settings C:\\ProgramData\\srvutil-central\\central.env</Arguments>",
    );
    expect(xml).toContain("<RestartOnFailure>");
    const file = path.join(work, "task.xml");
    writeFileSync(file, xml.replace('encoding="UTF-16"', 'encoding="UTF-8"'));
    const r = spawnSync(
      python3(),
      ["-c", "import xml.etree.ElementTree as E,sys; E.parse(sys.argv[1]); print('ok')", file],
      { encoding: "utf8" },
    );
    expect(r.stdout.trim()).toBe("ok");
  });

  it("a Windows --dry-run names the ACL command that keeps the settings to SYSTEM and Administrators", async () => {
    const { applyCentralInstall } = await import("../../src/central/install/index.js");
    const lines: string[] = [];
    await applyCentralInstall({
      platform: "win32",
      env: { ProgramData: "C:\\ProgramData", SRVUTIL_LISTEN: "127.0.0.1:8080" },
      command: spec.command,
      dryRun: true,
      envFile: path.join(work, "central.env"),
      unitDir: work,
      print: (l) => lines.push(l),
    });
    const out = lines.join("\n");
    expect(out).toContain("SRVUTIL_DATA_DIR='C:\\ProgramData\\srvutil-central\\data'");
    expect(out).toContain("<WorkingDirectory>C:\\ProgramData\\srvutil-central\\data</WorkingDirectory>");
    expect(out).toContain(
      `# would run: icacls ${path.join(work, "central.env")} /inheritance:r /grant:r *S-1-5-18:F *S-1-5-32-544:F`,
    );
    expect(out).toContain("# would run: schtasks /Create /TN srvutil-central /XML");
    expect(out).toContain("# would run: schtasks /Run /TN srvutil-central");
    expect(readdirSync(work)).toEqual([]);
  });
});

describe("the settings file format", () => {
  it("round-trips any value through envLine and parseEnvFile, as systemd and sh read it", () => {
    const values = [
      "plain",
      "with space",
      "C:\\ProgramData\\srvutil",
      "it's",
      'quote " and \\ backslash',
      "$HOME `cmd`",
      "a=b,c",
    ];
    const text = values.map((v, i) => envLine(`K${i}`, v)).join("\n");
    const parsed = parseEnvFile(`# comment\n\n${text}\n`);
    expect(values.map((_, i) => parsed[`K${i}`])).toEqual(values);
    // The same file through a real shell.
    const file = path.join(work, "x.env");
    mkdirSync(work, { recursive: true });
    writeFileSync(file, `${text}\n`);
    const sh = spawnSync(
      "sh",
      ["-c", `set -a; . "${file}"; for i in 0 1 2 3 4 5 6; do eval "printf '%s\\n' \\"\\$K$i\\""; done`],
      {
        encoding: "utf8",
      },
    );
    expect(sh.stdout.split("\n").slice(0, values.length)).toEqual(values);
    expect(() => parseEnvFile("no equals sign")).toThrow(/line 1: expected KEY=VALUE/);
  });
});
