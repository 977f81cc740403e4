export type InstallMode = "service" | "timer";

export interface InstallSpec {
  /** service: the daemon, restarted on failure; timer: `run --once` every intervalMinutes. */
  mode: InstallMode;
  /** Program and leading arguments that start the agent, e.g. [node, /opt/srvutil/srvutil-agent.mjs]; `run` is appended. */
  command: readonly string[];
  /** Absolute agent directory (spool, logs, state; agent.json is looked up there). */
  agentDir: string;
  /** Optional explicit agent.json. */
  configFile: string | null;
  /** Period of the one-shot task (timer mode; Windows always). */
  intervalMinutes: number;
}

export interface GeneratedFile {
  path: string;
  content: string;
  /** schtasks wants UTF-16 with a BOM. */
  encoding: "utf8" | "utf16le";
  /** File mode on Linux/macOS (default 0644); agent.json is 0600. */
  mode?: number;
  /** Holds the token: --dry-run prints its length, not its content. */
  secret?: boolean;
  /**
   * Readable by SYSTEM and Administrators only on Windows (agent.json, the
   * token file): created with that ACL before any content goes in
   * (windowsAclCommand), whether or not the plan is activated. Elsewhere
   * `mode` (0600) does this.
   */
  privateAcl?: boolean;
}

/** A file copied as it is: the single executable into the bin directory. */
export interface CopiedFile {
  from: string;
  to: string;
}

export interface InstallPlan {
  platform: NodeJS.Platform;
  /** Copied before the files are written (install) or removed with them (uninstall). */
  copies?: CopiedFile[];
  files: GeneratedFile[];
  /** Commands that activate the installed files, in order. */
  activate: string[][];
  /** Commands that stop and deregister before the files are removed, in order. */
  deactivate: string[][];
}

/** Environment the service runs with; the token itself is never written into unit files. */
export function serviceEnvironment(spec: InstallSpec): Record<string, string> {
  const env: Record<string, string> = { SRVUTIL_AGENT_DIR: spec.agentDir };
  if (spec.configFile !== null) env.SRVUTIL_AGENT_CONFIG = spec.configFile;
  return env;
}

export function runArguments(spec: InstallSpec): string[] {
  return spec.mode === "timer" ? ["run", "--once"] : ["run"];
}
