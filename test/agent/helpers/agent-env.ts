import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AgentConfig, loadAgentConfig } from "../../../src/agent/config.js";

/** A temp agent directory with an agent.json tuned for fast tests (short CPU window, quick retries). */
export function makeAgentDir(extra: Record<string, unknown> = {}): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "srvutil-agent-test-"));
  const base = {
    one_shot_cpu_measure_ms: 20,
    upload: { timeout_seconds: 2, max_attempts: 3, backoff_initial_ms: 10, backoff_max_ms: 2000 },
  };
  writeFileSync(join(dir, "agent.json"), JSON.stringify({ ...base, ...extra }, null, 2));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function configFor(dir: string, centralUrl: string, token: string, server = "test-srv"): AgentConfig {
  return loadAgentConfig({
    SRVUTIL_AGENT_DIR: dir,
    SRVUTIL_CENTRAL_URL: centralUrl,
    SRVUTIL_AGENT_TOKEN: token,
    SRVUTIL_SERVER_NAME: server,
  });
}
