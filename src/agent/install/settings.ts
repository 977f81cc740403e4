import { readFileSync } from "node:fs";
import type { AgentConfig } from "../config.js";
import { DEFAULTS } from "../config.js";
import { pathRulesFor } from "../paths.js";
import type { GeneratedFile } from "./types.js";

/**
 * What `install` saves so that the service it starts finds the same settings
 * the installing shell had: the unit's environment holds only the agent
 * directory, so URL, token file, server name, CA file and intervals go into
 * agent.json there. The token itself never goes into agent.json; a token
 * given only as SRVUTIL_AGENT_TOKEN is written to its own file next to it.
 * Both are readable by root (0600) or, on Windows, by SYSTEM and
 * Administrators only (privateAcl: see windowsAclCommand), from the moment
 * they exist.
 */
export interface SavedSettings {
  files: GeneratedFile[];
  /** Where agent.json goes (the explicit --config file, else <agent dir>/agent.json). */
  configPath: string;
  tokenPath: string | null;
}

export function settingsFiles(config: AgentConfig): SavedSettings {
  const path = pathRulesFor(config.agentDir);
  const configPath = config.configFile ?? path.join(config.agentDir, "agent.json");
  let existing: Record<string, unknown> = {};
  if (config.configFile !== null) {
    // Already validated by loadAgentConfig; keep every setting the operator wrote (disks, spool, …).
    existing = JSON.parse(readFileSync(config.configFile, "utf8")) as Record<string, unknown>;
  }
  const files: GeneratedFile[] = [];
  let tokenPath = config.tokenFile;
  if (tokenPath === null && config.token !== "" && existing.token === undefined) {
    tokenPath = path.join(config.agentDir, "agent.token");
    files.push({
      path: tokenPath,
      content: `${config.token}\n`,
      encoding: "utf8",
      mode: 0o600,
      secret: true,
      privateAcl: true,
    });
  }
  const saved: Record<string, unknown> = { ...existing };
  if (config.centralUrl !== "") saved.central_url = config.centralUrl;
  if (tokenPath !== null) saved.token_file = tokenPath;
  saved.server_name = config.serverName;
  if (config.caFile !== null) saved.ca_file = config.caFile;
  if (
    config.sampleIntervalSeconds !== DEFAULTS.sampleIntervalSeconds ||
    "sample_interval_seconds" in existing
  )
    saved.sample_interval_seconds = config.sampleIntervalSeconds;
  if (
    config.uploadIntervalSeconds !== DEFAULTS.uploadIntervalSeconds ||
    "upload_interval_seconds" in existing
  )
    saved.upload_interval_seconds = config.uploadIntervalSeconds;
  files.unshift({
    path: configPath,
    content: `${JSON.stringify(saved, null, 2)}\n`,
    encoding: "utf8",
    mode: 0o600,
    privateAcl: true,
  });
  return { files, configPath, tokenPath };
}

/**
 * icacls: drop inherited permissions (ProgramData grants Users read), then
 * full control for SYSTEM (S-1-5-18, which runs the task) and the
 * Administrators group (S-1-5-32-544) only. SIDs, not names, so it works on
 * every display language.
 */
export function windowsAclCommand(file: string): string[] {
  return ["icacls", file, "/inheritance:r", "/grant:r", "*S-1-5-18:F", "*S-1-5-32-544:F"];
}
