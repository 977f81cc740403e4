import { realpathSync } from "node:fs";
import { chmod, copyFile, mkdir, open, rename, rm, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { AgentUsageError } from "../errors.js";
import { launchdPlan, launchdUninstallPlan } from "./launchd.js";
import { schtasksPlan, schtasksUninstallPlan } from "./schtasks.js";
import { windowsAclCommand } from "./settings.js";
import { systemdPlan, systemdUninstallPlan } from "./systemd.js";
import type { GeneratedFile, InstallMode, InstallPlan, InstallSpec } from "./types.js";

export * from "./enrol.js";
export * from "./launchd.js";
export * from "./schtasks.js";
export * from "./settings.js";
export * from "./systemd.js";
export * from "./types.js";
export * from "./verify.js";

export interface InstallOptions {
  platform?: NodeJS.Platform;
  /** Where the unit/plist/task XML goes (default: the platform's system location). */
  targetDir?: string;
  /** Print what would be written and run, change nothing. */
  dryRun?: boolean;
  /** Run the activation commands (systemctl / launchctl / schtasks). Default true. */
  activate?: boolean;
  /** Where --dry-run output and progress lines go. */
  print?: (line: string) => void;
  /** Runs one command; throws when it fails (default: spawnSync with the output shown). */
  runCommand?: CommandRunner;
}

/** Runs one command, program first; throws when it cannot start or exits non-zero. */
export type CommandRunner = (command: readonly string[]) => void | Promise<void>;

async function spawnRunner(): Promise<CommandRunner> {
  const { spawnSync } = await import("node:child_process");
  return ([cmd, ...args]) => {
    const r = spawnSync(cmd!, args, { stdio: "inherit", windowsHide: true });
    if (r.error || r.status !== 0) {
      throw new Error(`'${[cmd, ...args].join(" ")}' failed (${r.error?.message ?? `exit ${r.status}`})`);
    }
  };
}

export function parseInstallMode(text: string | undefined): InstallMode {
  if (text === undefined) return "service";
  if (text === "service" || text === "timer") return text;
  throw new AgentUsageError(`--mode must be 'service' or 'timer', not '${text}'`);
}

export function installPlan(spec: InstallSpec, platform: NodeJS.Platform, targetDir?: string): InstallPlan {
  switch (platform) {
    case "linux":
      return systemdPlan(spec, targetDir);
    case "darwin":
      return launchdPlan(spec, targetDir);
    case "win32":
      return schtasksPlan(spec, targetDir);
    default:
      throw new AgentUsageError(
        `agent install supports linux (systemd), darwin (launchd) and win32 (Task Scheduler), not ${platform}`,
      );
  }
}

export function uninstallPlan(
  platform: NodeJS.Platform,
  targetDir: string | undefined,
  agentDir: string,
): InstallPlan {
  switch (platform) {
    case "linux":
      return systemdUninstallPlan(targetDir);
    case "darwin":
      return launchdUninstallPlan(targetDir);
    case "win32":
      return schtasksUninstallPlan(targetDir ?? agentDir);
    default:
      throw new AgentUsageError(`agent uninstall supports linux, darwin and win32, not ${platform}`);
  }
}

function sameFile(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
}

function encode(file: GeneratedFile): Buffer {
  return file.encoding === "utf16le"
    ? Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(file.content, "utf16le")])
    : Buffer.from(file.content, "utf8");
}

async function runAll(
  commands: readonly string[][],
  print: (l: string) => void,
  tolerateFailure: boolean,
  run: CommandRunner,
): Promise<void> {
  for (const command of commands) {
    print(`$ ${command.join(" ")}`);
    try {
      await run(command);
    } catch (err) {
      if (!tolerateFailure) throw err;
    }
  }
}

/**
 * Writes a file only SYSTEM and Administrators may read, on Windows. It is
 * created empty beside its target, given that ACL (inheritance removed:
 * ProgramData lets Users read), and only then filled and renamed into
 * place, so the secret is never in a file with the inherited ACL, not even
 * for a moment, and `--no-activate` does not skip the ACL.
 */
async function writeWithPrivateAcl(file: GeneratedFile, run: CommandRunner): Promise<void> {
  const temp = `${file.path}.new-${process.pid}`;
  await rm(temp, { force: true });
  await (await open(temp, "wx")).close();
  try {
    await run(windowsAclCommand(temp));
    const handle = await open(temp, "r+");
    try {
      await handle.writeFile(encode(file));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file.path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}

/** Writes the plan's files (and runs its activation commands), or only prints them with dryRun. */
export async function applyInstall(plan: InstallPlan, options: InstallOptions = {}): Promise<void> {
  const print = options.print ?? ((l: string) => process.stdout.write(`${l}\n`));
  const copies = plan.copies ?? [];
  if (options.dryRun) {
    for (const c of copies) {
      print(sameFile(c.from, c.to) ? `# ${c.to} is already in place` : `# would copy ${c.from} to ${c.to}`);
    }
    for (const f of plan.files) {
      if (plan.platform === "win32" && f.privateAcl) {
        print(`# would create ${f.path} empty, then run: ${windowsAclCommand(f.path).join(" ")}`);
      }
      const mode = f.mode !== undefined && plan.platform !== "win32" ? `, mode ${f.mode.toString(8)}` : "";
      print(`# would write ${f.path}${f.encoding === "utf16le" ? " (UTF-16LE with BOM)" : ""}${mode}:`);
      print(f.secret ? `(the token, ${f.content.trim().length} characters)` : f.content.trimEnd());
      print("");
    }
    for (const c of plan.activate) print(`# would run: ${c.join(" ")}`);
    return;
  }
  for (const c of copies) {
    if (sameFile(c.from, c.to)) continue;
    await mkdir(dirname(c.to), { recursive: true });
    // Copy beside, then rename: the old executable may be running (ETXTBSY if written in place).
    const temp = `${c.to}.new-${process.pid}`;
    await copyFile(c.from, temp);
    await chmod(temp, 0o755);
    await rename(temp, c.to);
    print(`copied ${c.from} to ${c.to}`);
  }
  const run = options.runCommand ?? (await spawnRunner());
  for (const f of plan.files) {
    await mkdir(dirname(f.path), { recursive: true });
    if (plan.platform === "win32" && f.privateAcl) {
      await writeWithPrivateAcl(f, run);
      print(`wrote ${f.path} (readable by SYSTEM and Administrators only)`);
      continue;
    }
    const mode = f.mode ?? 0o644;
    await writeFile(f.path, encode(f), { mode });
    // writeFile's mode applies only to a new file; an agent.json from an earlier install is tightened too.
    if (process.platform !== "win32") await chmod(f.path, mode);
    print(`wrote ${f.path}`);
  }
  if (options.activate ?? true) await runAll(plan.activate, print, false, run);
}

/** Stops and deregisters the agent, then deletes its files (missing ones are fine). */
export async function applyUninstall(plan: InstallPlan, options: InstallOptions = {}): Promise<void> {
  const print = options.print ?? ((l: string) => process.stdout.write(`${l}\n`));
  if (options.dryRun) {
    for (const c of plan.deactivate) print(`# would run: ${c.join(" ")}`);
    for (const f of plan.files) print(`# would remove ${f.path}`);
    for (const c of plan.copies ?? []) print(`# would remove ${c.to}`);
    for (const c of plan.activate) print(`# would run: ${c.join(" ")}`);
    return;
  }
  const run = options.runCommand ?? (await spawnRunner());
  if (options.activate ?? true) await runAll(plan.deactivate, print, true, run);
  for (const f of [...plan.files.map((f) => f.path), ...(plan.copies ?? []).map((c) => c.to)]) {
    await rm(f, { force: true });
    print(`removed ${f}`);
  }
  if (options.activate ?? true) await runAll(plan.activate, print, true, run);
}
