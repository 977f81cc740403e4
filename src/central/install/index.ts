import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { usageError } from "../../errors.js";
import { CENTRAL_ENV_VARIABLES, loadCentralConfig, THRESHOLD_ENV_VARIABLES } from "../config.js";
import { redactSmtpUrl } from "../mail/settings.js";
import { localDatabaseDirectory, redactDatabaseUrl } from "../storage/database-url.js";
import { type Account, lookUpAccount, serviceAccessWarnings } from "./access.js";
import { envLine, parseEnvFile } from "./env-file.js";
import {
  CENTRAL_LAUNCHD_LABEL,
  CENTRAL_TASK,
  CENTRAL_UNIT,
  type CentralServiceSpec,
  centralLaunchdPlist,
  centralSystemdUnit,
  centralTaskXml,
} from "./units.js";

export * from "./env-file.js";
export * from "./units.js";

export interface CentralInstallOptions {
  platform: NodeJS.Platform;
  /** The installer's environment: its SRVUTIL_* settings go into a new env file. */
  env: Readonly<Record<string, string | undefined>>;
  /** Program and leading arguments that run this CLI. */
  command: readonly string[];
  dryRun?: boolean;
  /** Run the service manager (systemctl / launchctl / schtasks); false: only write the files. */
  start?: boolean;
  /** Account the service runs as (Linux default srvutil, created when missing; macOS default daemon). */
  user?: string;
  /** Where the unit, plist or task XML goes (default: the platform's place). */
  unitDir?: string;
  /** The settings file (default /etc/srvutil/central.env, macOS /usr/local/etc/srvutil/central.env). */
  envFile?: string;
  print?: (line: string) => void;
  /** Who the service user is (tests inject it); default `id` on this machine. */
  lookUpAccount?: (name: string) => Account;
}

interface Layout {
  unitFile: string;
  envFile: string;
  user: string;
}

function layout(o: Pick<CentralInstallOptions, "platform" | "env" | "user" | "unitDir" | "envFile">): Layout {
  switch (o.platform) {
    case "linux":
      return {
        unitFile: path.posix.join(o.unitDir ?? "/etc/systemd/system", `${CENTRAL_UNIT}.service`),
        envFile: o.envFile ?? "/etc/srvutil/central.env",
        user: o.user ?? "srvutil",
      };
    case "darwin":
      return {
        unitFile: path.posix.join(o.unitDir ?? "/Library/LaunchDaemons", `${CENTRAL_LAUNCHD_LABEL}.plist`),
        envFile: o.envFile ?? "/usr/local/etc/srvutil/central.env",
        user: o.user ?? "daemon",
      };
    case "win32": {
      const base = path.win32.join(o.env.ProgramData ?? "C:\\ProgramData", "srvutil-central");
      return {
        unitFile: path.win32.join(o.unitDir ?? base, `${CENTRAL_TASK}.task.xml`),
        envFile: o.envFile ?? path.win32.join(base, "central.env"),
        user: "SYSTEM",
      };
    }
    default:
      throw usageError(
        `central install supports linux (systemd), darwin (launchd) and win32 (Task Scheduler), not ${o.platform}`,
      );
  }
}

function defaultDataDir(platform: NodeJS.Platform, env: CentralInstallOptions["env"]): string {
  if (platform === "win32") {
    return path.win32.join(env.ProgramData ?? "C:\\ProgramData", "srvutil-central", "data");
  }
  return platform === "darwin" ? "/usr/local/var/srvutil" : "/var/lib/srvutil";
}

/** Settings a new env file gets: the installer's SRVUTIL_* variables, with a service's data dir and listen address. */
export function serviceSettings(
  platform: NodeJS.Platform,
  env: CentralInstallOptions["env"],
): Record<string, string> {
  const known = new Set([...CENTRAL_ENV_VARIABLES, ...THRESHOLD_ENV_VARIABLES]);
  const out: Record<string, string> = {
    SRVUTIL_DATA_DIR: env.SRVUTIL_DATA_DIR ?? defaultDataDir(platform, env),
    // Behind a TLS proxy on the same machine (README, "Central server"); change it for direct TLS.
    SRVUTIL_LISTEN: env.SRVUTIL_LISTEN ?? "127.0.0.1:8080",
  };
  for (const [k, v] of Object.entries(env)) {
    if (known.has(k) && v !== undefined && v.trim() !== "" && !(k in out)) out[k] = v;
  }
  return out;
}

/** Reminders of the settings most installs need, written as comments when unset. */
const TEMPLATE_LINES: readonly [string, string][] = [
  ["SRVUTIL_REPORT_TZ", "Europe/Berlin"],
  ["SRVUTIL_REPORT_TO", "ops@example.com,cto@example.com"],
  ["SRVUTIL_SMTP_URL", "smtp://reports%40example.com@smtp.example.com:587"],
  ["SRVUTIL_SMTP_PASSWORD_FILE", "/etc/srvutil/smtp-password"],
  ["SRVUTIL_MAIL_FROM", "reports@example.com"],
  ["SRVUTIL_PUBLIC_URL", "https://srvutil.example.com"],
  // The TLS proxy in front of the loopback listen address (README, "Central server").
  ["SRVUTIL_TRUSTED_PROXIES", "127.0.0.1"],
];

export function formatCentralEnvFile(settings: Record<string, string>, restartHint: string): string {
  const lines = [
    "# srvutil central settings and secrets (README, Configuration). Mode 0600.",
    `# After a change: ${restartHint}`,
    ...Object.entries(settings).map(([k, v]) => envLine(k, v)),
  ];
  const unset = TEMPLATE_LINES.filter(([k]) => !(k in settings));
  if (unset.length > 0) {
    lines.push("", "# Most installs also set:");
    for (const [k, example] of unset) lines.push(`# ${k}=${example}`);
  }
  return `${lines.join("\n")}\n`;
}

/** Values of secrets as --dry-run and status print them. */
function redactedLine(line: string): string {
  const m = /^(SRVUTIL_[A-Z0-9_]+)=(.*)$/.exec(line);
  if (m === null) return line;
  const [, key, value] = m as unknown as [string, string, string];
  if (key === "SRVUTIL_SMTP_PASSWORD") return `${key}=***`;
  if (key === "SRVUTIL_SMTP_URL" || key === "SRVUTIL_DB_URL") {
    const raw = value.replace(/^"|"$/g, "");
    return `${key}=${key === "SRVUTIL_DB_URL" ? redactDatabaseUrl(raw) : redactSmtpUrl(raw)}`;
  }
  return line;
}

function restartHint(platform: NodeJS.Platform): string {
  if (platform === "linux") return `sudo systemctl restart ${CENTRAL_UNIT}`;
  if (platform === "darwin") return `sudo launchctl kickstart -k system/${CENTRAL_LAUNCHD_LABEL}`;
  return `schtasks /End /TN ${CENTRAL_TASK} & schtasks /Run /TN ${CENTRAL_TASK} (elevated)`;
}

export interface CentralPlan {
  spec: CentralServiceSpec;
  layout: Layout;
  /** Content of a new env file, or null when one exists (it is kept as it is). */
  envFileContent: string | null;
  unitContent: string;
  /** Before the files: the account and the data directory. */
  setup: string[][];
  /** After the files: register and start. */
  activate: string[][];
}

/** What `central install` writes and runs on this platform; reads the existing env file when there is one. */
export function centralInstallPlan(o: CentralInstallOptions): CentralPlan {
  const l = layout(o);
  const existing = existsSync(l.envFile) ? parseEnvFile(readFileSync(l.envFile, "utf8"), l.envFile) : null;
  const settings = existing ?? serviceSettings(o.platform, o.env);
  // The service must be able to start with these settings: check them now, not at boot.
  const config = loadCentralConfig(settings);
  const dbDir = localDatabaseDirectory(config.dbUrl);
  const spec: CentralServiceSpec = {
    command: o.command,
    envFile: l.envFile,
    // A plan for another platform (a Windows --dry-run on Linux) keeps that platform's path.
    dataDir: o.platform === process.platform ? config.dataDir : (settings.SRVUTIL_DATA_DIR ?? config.dataDir),
    extraWritablePaths: dbDir !== null && !isInside(dbDir, config.dataDir) ? [dbDir] : [],
    user: l.user,
    port: config.listen.port,
  };
  const envFileContent = existing === null ? formatCentralEnvFile(settings, restartHint(o.platform)) : null;
  switch (o.platform) {
    case "linux":
      return {
        spec,
        layout: l,
        envFileContent,
        unitContent: centralSystemdUnit(spec),
        setup: [
          // Only when the account is missing (see applyCentralInstall).
          [
            "useradd",
            "--system",
            "--user-group",
            "--home-dir",
            spec.dataDir,
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            spec.user,
          ],
          ["chown", "-R", `${spec.user}:${spec.user}`, spec.dataDir, ...spec.extraWritablePaths],
        ],
        activate: [
          ["systemctl", "daemon-reload"],
          ["systemctl", "enable", "--now", `${CENTRAL_UNIT}.service`],
        ],
      };
    case "darwin":
      return {
        spec,
        layout: l,
        envFileContent,
        unitContent: centralLaunchdPlist(spec, path.posix.join(spec.dataDir, "Logs")),
        setup: [
          ["chown", "-R", spec.user, spec.dataDir, ...spec.extraWritablePaths],
          // launchd starts `serve --settings` as the user: it must read its settings.
          ["chown", spec.user, l.envFile],
        ],
        activate: [["launchctl", "bootstrap", "system", l.unitFile]],
      };
    default:
      return {
        spec,
        layout: l,
        envFileContent,
        unitContent: centralTaskXml(spec),
        setup: [
          // Only SYSTEM and Administrators may read the settings (they hold secrets).
          ["icacls", l.envFile, "/inheritance:r", "/grant:r", "*S-1-5-18:F", "*S-1-5-32-544:F"],
        ],
        activate: [
          ["schtasks", "/Create", "/TN", CENTRAL_TASK, "/XML", l.unitFile, "/F"],
          // A boot trigger alone would first start it at the next reboot.
          ["schtasks", "/Run", "/TN", CENTRAL_TASK],
        ],
      };
  }
}

function isInside(dir: string, parent: string): boolean {
  const rel = path.relative(parent, dir);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

function run(cmd: readonly string[], print: (l: string) => void, tolerate = false): boolean {
  print(`$ ${cmd.join(" ")}`);
  const r = spawnSync(cmd[0]!, cmd.slice(1), { stdio: "inherit", windowsHide: true });
  const ok = r.error === undefined && r.status === 0;
  if (!ok && !tolerate) {
    throw usageError(`'${cmd.join(" ")}' failed (${r.error?.message ?? `exit ${r.status}`})`);
  }
  return ok;
}

function userExists(user: string): boolean {
  const r = spawnSync("id", ["-u", user], { stdio: "ignore" });
  return r.status === 0;
}

export async function applyCentralInstall(o: CentralInstallOptions): Promise<CentralPlan> {
  const print = o.print ?? ((l: string) => process.stdout.write(`${l}\n`));
  const plan = centralInstallPlan(o);
  const { spec, layout: l } = plan;
  const setup = plan.setup.filter((c) => c[0] !== "useradd" || o.dryRun || !userExists(spec.user));
  if (o.platform !== "win32" && o.platform === process.platform) {
    // The service user must reach the program it starts (SYSTEM on Windows reads everything).
    const account = (o.lookUpAccount ?? lookUpAccount)(spec.user);
    const files = o.command.filter((part) => path.isAbsolute(part));
    for (const w of serviceAccessWarnings(files, account, { privateTmp: o.platform === "linux" })) {
      print(`# WARNING: ${w}`);
    }
  }
  if (o.dryRun) {
    print(`# service: ${l.unitFile}; settings: ${l.envFile}; data: ${spec.dataDir}; runs as ${spec.user}`);
    for (const c of setup)
      print(`# would run: ${c.join(" ")}${c[0] === "useradd" ? "   (only if the user is missing)" : ""}`);
    if (plan.envFileContent === null) print(`# would keep ${l.envFile} as it is (it exists)`);
    else {
      print(`# would write ${l.envFile}, mode 600:`);
      print(plan.envFileContent.trimEnd().split("\n").map(redactedLine).join("\n"));
      print("");
    }
    print(`# would write ${l.unitFile}${o.platform === "win32" ? " (UTF-16LE with BOM)" : ", mode 644"}:`);
    print(plan.unitContent.trimEnd());
    print("");
    if (o.start ?? true) for (const c of plan.activate) print(`# would run: ${c.join(" ")}`);
    return plan;
  }
  if (o.platform !== "win32" && process.getuid?.() !== 0 && (o.start ?? true)) {
    throw usageError("central install needs root: run it with sudo (or --dry-run to see what it does)");
  }
  mkdirSync(spec.dataDir, { recursive: true, mode: 0o750 });
  if (plan.envFileContent !== null) {
    mkdirSync(path.dirname(l.envFile), { recursive: true, mode: 0o755 });
    writeFileSync(l.envFile, plan.envFileContent, { mode: 0o600, flag: "wx" });
    print(`wrote ${l.envFile} (mode 600)`);
  } else {
    print(`kept ${l.envFile}`);
  }
  if (o.platform !== "win32") chmodSync(l.envFile, 0o600); // an older, looser file is tightened too
  for (const c of setup) {
    if (c[0] === "chown" && process.getuid?.() !== 0) {
      // Not root (a test, or --no-start by a user): the files are already this user's.
      continue;
    }
    run(c, print);
  }
  mkdirSync(path.dirname(l.unitFile), { recursive: true });
  const unit =
    o.platform === "win32"
      ? Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(plan.unitContent, "utf16le")])
      : Buffer.from(plan.unitContent);
  writeFileSync(l.unitFile, unit, { mode: 0o644 });
  print(`wrote ${l.unitFile}`);
  if (o.start ?? true) for (const c of plan.activate) run(c, print);
  return plan;
}

/** Stops and deregisters the service and removes its unit; keeps the settings, the data and the account. */
export async function applyCentralUninstall(
  o: Omit<CentralInstallOptions, "command">,
): Promise<{ removed: string; kept: string[] }> {
  const print = o.print ?? ((l: string) => process.stdout.write(`${l}\n`));
  const l = layout(o);
  const stop =
    o.platform === "linux"
      ? [["systemctl", "disable", "--now", `${CENTRAL_UNIT}.service`]]
      : o.platform === "darwin"
        ? [["launchctl", "bootout", `system/${CENTRAL_LAUNCHD_LABEL}`]]
        : [
            ["schtasks", "/End", "/TN", CENTRAL_TASK],
            ["schtasks", "/Delete", "/TN", CENTRAL_TASK, "/F"],
          ];
  const after = o.platform === "linux" ? [["systemctl", "daemon-reload"]] : [];
  let dataDir = "(see SRVUTIL_DATA_DIR)";
  if (existsSync(l.envFile)) {
    dataDir = parseEnvFile(readFileSync(l.envFile, "utf8"), l.envFile).SRVUTIL_DATA_DIR ?? dataDir;
  }
  const kept = [l.envFile, dataDir, ...(o.platform === "linux" ? [`user ${l.user}`] : [])];
  if (o.dryRun) {
    if (o.start ?? true) for (const c of stop) print(`# would run: ${c.join(" ")}`);
    print(`# would remove ${l.unitFile}`);
    if (o.start ?? true) for (const c of after) print(`# would run: ${c.join(" ")}`);
    print(`# would keep ${kept.join(", ")}`);
    return { removed: l.unitFile, kept };
  }
  if (o.start ?? true) for (const c of stop) run(c, print, true);
  rmSync(l.unitFile, { force: true });
  print(`removed ${l.unitFile}`);
  if (o.start ?? true) for (const c of after) run(c, print, true);
  print(`kept ${kept.join(", ")} (remove them by hand to delete everything)`);
  return { removed: l.unitFile, kept };
}

export interface CentralServiceStatus {
  lines: string[];
  installed: boolean;
  running: boolean;
}

/** What is installed and whether the service manager runs it. */
export function centralStatus(
  o: Omit<CentralInstallOptions, "command" | "dryRun" | "start">,
): CentralServiceStatus {
  const l = layout(o);
  const lines: string[] = [];
  const installed = existsSync(l.unitFile);
  lines.push(
    `service file: ${l.unitFile} ${installed ? "present" : "absent (run `srvutil central install`)"}`,
  );
  if (existsSync(l.envFile)) {
    const mode = statSync(l.envFile).mode & 0o777;
    const loose = o.platform !== "win32" && (mode & 0o077) !== 0;
    lines.push(
      `settings: ${l.envFile} mode ${mode.toString(8)}${loose ? " (WARNING: readable by others; chmod 600 it, it holds secrets)" : ""}`,
    );
    const settings = parseEnvFile(readFileSync(l.envFile, "utf8"), l.envFile);
    lines.push(`data: ${settings.SRVUTIL_DATA_DIR ?? "(SRVUTIL_DATA_DIR unset: ./data of the service)"}`);
    lines.push(`listen: ${settings.SRVUTIL_LISTEN ?? "127.0.0.1:8080"}`);
  } else {
    lines.push(`settings: ${l.envFile} absent`);
  }
  const query =
    o.platform === "linux"
      ? ["systemctl", "is-active", `${CENTRAL_UNIT}.service`]
      : o.platform === "darwin"
        ? ["launchctl", "print", `system/${CENTRAL_LAUNCHD_LABEL}`]
        : ["schtasks", "/Query", "/TN", CENTRAL_TASK];
  const r = spawnSync(query[0]!, query.slice(1), { encoding: "utf8", windowsHide: true });
  let running = false;
  if (r.error !== undefined) {
    lines.push(`state: unknown (${query[0]} is not available: ${r.error.message})`);
  } else {
    const out = (r.stdout ?? "").trim();
    running =
      o.platform === "linux"
        ? out === "active"
        : o.platform === "darwin"
          ? r.status === 0 && /state = running/.test(out)
          : r.status === 0 && /Running/.test(out);
    lines.push(
      `state: ${o.platform === "linux" ? out || `exit ${r.status}` : running ? "running" : `not running (${query.join(" ")}: exit ${r.status})`}`,
    );
  }
  return { lines, installed, running };
}
