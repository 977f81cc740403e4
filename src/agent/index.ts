/**
 * The srvutil agent as a library: what the CLI, the demo and tests call.
 * Imports only node built-ins and src/protocol (checked by a test on the bundle).
 */

export { parseProcStat } from "./collector/cpu_linux.js";
export { parseMountinfo, selectRealMounts } from "./collector/disk_linux.js";
export * from "./collector/index.js";
export { parseMeminfo } from "./collector/memory_linux.js";
export {
  agentCollectCommand,
  agentInstallCommand,
  agentRunCommand,
  agentStatusCommand,
  agentUninstallCommand,
} from "./commands.js";
export {
  type AgentConfig,
  DEFAULTS as AGENT_DEFAULTS,
  describeConfig,
  type LoadAgentConfigOptions,
  loadAgentConfig,
  metricsEndpoint,
  type SpoolLimits,
  serverNameFromHostname,
  type UploadPolicy,
} from "./config.js";
export { type DaemonOptions, type DaemonSummary, runAgentDaemon } from "./daemon.js";
export { AgentConfigError, AgentUsageError } from "./errors.js";
export { AgentLog } from "./log.js";
export { type AgentRunOptions, type AgentRunResult, agentPaths, runAgentOnce } from "./once.js";
export { rowsFromSample, type Sample } from "./sample.js";
export { type DropReport, SpoolDirectory, type SpoolFile } from "./spool.js";
export { type AgentStatus, agentStatus, formatAgentStatus } from "./status.js";
export { type PostOutcome, postMetrics, type UploadSummary, uploadSpool, uploadTarget } from "./uploader.js";
