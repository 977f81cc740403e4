import { AGENT_VERSION } from "../agent/version.js";
import { compareAgentVersions } from "../protocol/agent-identity.js";
import type { ServerInput } from "./storage/server-input-store.js";

/**
 * The agent release this central ships: its agents are built from the same
 * tree (`npm run build:agent-bin`), so it is the agent's own constant. The
 * whoami answer (`agent_version_current`) and every authenticated upload
 * answer (X-Srvutil-Agent-Latest) advertise it; the fleet page counts the
 * agents below it as outdated. A constant, read by the central only: the
 * agent never imports central code.
 */
export const AGENT_VERSION_CURRENT: string = AGENT_VERSION;

/** The upload answer's header that carries it. */
export const AGENT_LATEST_HEADER = "x-srvutil-agent-latest";

/** An agent whose release is known and below `current`; foreign inputs and unknown releases never are. */
export function isOutdated(input: ServerInput | null, current: string = AGENT_VERSION_CURRENT): boolean {
  return (
    input !== null &&
    input.input === "agent" &&
    input.agentVersion !== null &&
    compareAgentVersions(input.agentVersion, current) < 0
  );
}
