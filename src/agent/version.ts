import { release, type } from "node:os";
import { agentUserAgent } from "../protocol/agent-identity.js";

/** The agent's release: the same as package.json's (test/version.test.ts); the agent imports nothing from src/cli. */
export const AGENT_VERSION = "0.1.0";

let userAgent: string | null = null;

/**
 * The User-Agent of every request to the central: release, platform, arch
 * and OS (src/protocol/agent-identity.ts), so the fleet page shows which
 * agents are behind and on what. Computed once: none of it changes while the agent runs.
 */
export function agentUserAgentHeader(): string {
  userAgent ??= agentUserAgent(AGENT_VERSION, process.platform, process.arch, `${type()} ${release()}`);
  return userAgent;
}
