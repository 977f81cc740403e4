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
}

export interface InstallPlan {
  platform: NodeJS.Platform;
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
