import type { AgentConfig } from "../config.js";
import { parseManifest } from "./apply.js";
import { httpGet } from "./http.js";
import { pinKey, readPinnedKey } from "./state.js";

/**
 * `install` pins the central's manifest key next to the token (same
 * directory, mode 0600), over the connection it has just verified. A key
 * already pinned is kept: a later install must not let a changed central
 * key in silently (remove agent-signing.pub on purpose to re-pin).
 * Resolves to what was done, for install's output.
 */
export async function pinCentralKey(config: AgentConfig): Promise<"pinned" | "kept" | "unsigned"> {
  if ((await readPinnedKey(config.agentDir)) !== null) return "kept";
  const base = new URL(config.centralUrl.endsWith("/") ? config.centralUrl : `${config.centralUrl}/`);
  const res = await httpGet(new URL("agent/manifest.json", base), config.caFile, 64 * 1024);
  const m = res.status === 200 ? parseManifest(res.body.toString("utf8")) : null;
  if (m === null || m.publicKey === null) return "unsigned";
  await pinKey(config.agentDir, m.publicKey);
  return "pinned";
}
