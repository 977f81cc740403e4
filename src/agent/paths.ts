import { posix, win32 } from "node:path";

/**
 * Where the agent lives on each platform when nothing says otherwise. Paths
 * are built with the target platform's rules, so a plan for Windows made on
 * Linux (tests, --dry-run) has Windows paths.
 */
type Env = Readonly<Record<string, string | undefined>>;

/** The agent directory: spool, logs, CPU state and agent.json. */
export function defaultAgentDir(
  platform: NodeJS.Platform = process.platform,
  env: Env = process.env,
): string {
  switch (platform) {
    case "win32":
      return win32.join(env.ProgramData ?? env.PROGRAMDATA ?? "C:\\ProgramData", "srvutil");
    case "darwin":
      return "/Library/Application Support/srvutil";
    default:
      return "/var/lib/srvutil-agent";
  }
}

/** Where `install` copies the single executable. */
export function defaultBinDir(platform: NodeJS.Platform = process.platform, env: Env = process.env): string {
  return platform === "win32"
    ? win32.join(env.ProgramFiles ?? env.PROGRAMFILES ?? "C:\\Program Files", "srvutil")
    : "/usr/local/bin";
}

/** The installed executable's file name. */
export function executableName(platform: NodeJS.Platform = process.platform): string {
  return platform === "win32" ? "srvutil-agent.exe" : "srvutil-agent";
}

export function pathModule(platform: NodeJS.Platform): typeof posix {
  return platform === "win32" ? win32 : posix;
}

/**
 * Path rules for a file that install writes on this machine: Windows rules for a Windows path
 * (C:\…, \\server\share\…) or on Windows, else POSIX. A Windows plan made on Linux (tests,
 * --dry-run) keeps Windows paths; a Linux directory never gets a backslash-joined name.
 */
export function pathRulesFor(dir: string): typeof posix {
  return process.platform === "win32" || /^[A-Za-z]:[\\/]|^\\\\/.test(dir) ? win32 : posix;
}
