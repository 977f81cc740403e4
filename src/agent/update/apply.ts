import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { chmod, open, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { compareVersions, verifyManifestSignature } from "../../protocol/agent-manifest.js";
import { fsyncDirectory } from "../atomic.js";
import type { AgentConfig } from "../config.js";
import type { AgentLog } from "../log.js";
import { AGENT_VERSION } from "../version.js";
import { httpGet } from "./http.js";
import { addFailed, readFailed, readPinnedKey, writePending } from "./state.js";

/** Which file this agent is and how it is started, so it can replace itself. */
export interface SelfUpdateContext {
  /** The bundle (.mjs) or single executable the service manager starts. */
  target: string;
  /** Its name in GET /agent/{platform}: node, linux-x64, windows-x64, … */
  platform: string;
  /** Runs a file of this kind: [node] for the bundle, [] for an executable. */
  runner: readonly string[];
}

export interface ManifestAnswer {
  version: string;
  autoUpdate: boolean;
  /** The server the central decided for (bound into the signature); null: a manifest for anyone. */
  server: string | null;
  agents: { platform: string; size: number; sha256: string; url: string }[];
  publicKey: string | null;
  signature: string | null;
}

/** Parses GET /agent/manifest.json; null when it is not one. */
export function parseManifest(body: string): ManifestAnswer | null {
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(body) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (typeof v.version !== "string" || !Array.isArray(v.agents)) return null;
  const agents: ManifestAnswer["agents"] = [];
  for (const a of v.agents as Record<string, unknown>[]) {
    if (
      typeof a?.platform !== "string" ||
      typeof a.size !== "number" ||
      typeof a.sha256 !== "string" ||
      typeof a.url !== "string" ||
      !/^agent\/[a-z0-9-]+$/.test(a.url)
    ) {
      return null;
    }
    agents.push({ platform: a.platform, size: a.size, sha256: a.sha256, url: a.url });
  }
  return {
    version: v.version,
    autoUpdate: v.auto_update === true,
    server: typeof v.server === "string" ? v.server : null,
    agents,
    publicKey: typeof v.public_key === "string" ? v.public_key : null,
    signature: typeof v.signature === "string" ? v.signature : null,
  };
}

export type UpdateOutcome =
  | { kind: "current" | "off" | "not_pinned" | "no_file" | "skipped_failed"; version: string | null }
  | { kind: "refused"; version: string | null; why: string }
  | { kind: "swapped"; version: string };

function baseUrl(config: AgentConfig): URL {
  return new URL(config.centralUrl.endsWith("/") ? config.centralUrl : `${config.centralUrl}/`);
}

/**
 * One self-update check: read the manifest (sending the agent token, so the
 * central answers this server's decision, signed with its name), verify its
 * signature with the pinned key and that it names this server when it names
 * one, and when the central allows it and has a newer version,
 * download this platform's file beside the target, check its size and
 * SHA-256 against the signed manifest, run it once (`--version` must print
 * the signed version), then swap by renames: target → .previous, new →
 * target. The marker is written before the swap; the caller exits so the
 * service manager starts the new file.
 */
export async function checkForUpdate(
  config: AgentConfig,
  ctx: SelfUpdateContext,
  log: AgentLog,
): Promise<UpdateOutcome> {
  const pinned = await readPinnedKey(config.agentDir);
  if (pinned === null) return { kind: "not_pinned", version: null };
  const ca = config.caFile;
  // With the token, the central answers this server's own decision (its groups' policy), bound to its name.
  const res = await httpGet(new URL("agent/manifest.json", baseUrl(config)), ca, 64 * 1024, {
    authorization: `Bearer ${config.token}`,
  });
  if (res.status !== 200) throw new Error(`GET agent/manifest.json answered ${res.status}`);
  const m = parseManifest(res.body.toString("utf8"));
  if (m === null) throw new Error("agent/manifest.json is not a manifest");
  const refuse = async (why: string): Promise<UpdateOutcome> => {
    log.error("update_refused", `update to ${m.version} refused: ${why}`, { version: m.version });
    return { kind: "refused", version: m.version, why };
  };
  if (m.signature === null || !verifyManifestSignature(m, m.signature, pinned)) {
    return refuse("the manifest's signature does not verify with the key pinned at install");
  }
  // A manifest bound to another server (replayed from elsewhere) is not this server's decision.
  if (m.server !== null && m.server !== config.serverName) {
    return refuse(`the manifest was signed for server '${m.server.slice(0, 64)}', not this one`);
  }
  if (!m.autoUpdate) return { kind: "off", version: m.version };
  const order = compareVersions(m.version, AGENT_VERSION);
  if (order === null || order <= 0) return { kind: "current", version: m.version };
  if ((await readFailed(config.agentDir)).includes(m.version))
    return { kind: "skipped_failed", version: m.version };
  const entry = m.agents.find((a) => a.platform === ctx.platform);
  if (entry === undefined) return { kind: "no_file", version: m.version };

  const dir = dirname(ctx.target);
  // The staged file keeps the target's name at the end, so `node` still sees .mjs.
  const staged = join(dir, `.new.${basename(ctx.target)}`);
  await rm(staged, { force: true });
  const file = await httpGet(new URL(entry.url, baseUrl(config)), ca, entry.size, { to: staged }).catch(
    async (err: Error) => {
      await rm(staged, { force: true });
      if (/more than \d+ bytes/.test(err.message)) return null;
      throw err;
    },
  );
  if (file === null) return refuse("the file is larger than the signed size");
  if (file.status !== 200) {
    await rm(staged, { force: true });
    throw new Error(`GET ${entry.url} answered ${file.status}`);
  }
  if (file.size !== entry.size || file.sha256 !== entry.sha256) {
    // Not recorded as failed: a store that is repaired serves the right file at the next check.
    await rm(staged, { force: true });
    return refuse(`the downloaded file's size or SHA-256 is not the signed one (${file.sha256})`);
  }
  const mode = (await stat(ctx.target)).mode & 0o777;
  await chmod(staged, mode | 0o500);
  const printed = await runVersion([...ctx.runner, staged]);
  if (printed !== m.version) {
    await rm(staged, { force: true });
    await addFailed(config.agentDir, m.version);
    return refuse(`the new file does not start (--version printed '${printed.slice(0, 200)}')`);
  }

  const previous = `${ctx.target}.previous`;
  await writePending(config.agentDir, {
    from: AGENT_VERSION,
    to: m.version,
    target: ctx.target,
    previous,
    startedAt: Date.now(),
    starts: 0,
  });
  // Renames only: Windows lets a running .exe be renamed, not overwritten.
  await rm(previous, { force: true }).catch(() => {});
  await rename(ctx.target, previous);
  await rename(staged, ctx.target);
  await fsyncDirectory(dir);
  log.info("update_swapped", `updated ${AGENT_VERSION} → ${m.version}; restarting`, {
    from: AGENT_VERSION,
    to: m.version,
  });
  return { kind: "swapped", version: m.version };
}

/** What `file --version` prints (trimmed), or the error; 30 s at most. */
function runVersion(command: readonly string[]): Promise<string> {
  const [program, ...args] = command;
  return new Promise((resolve) => {
    execFile(
      program!,
      [...args, "--version"],
      { timeout: 30_000, windowsHide: true },
      (err, stdout, stderr) => {
        resolve(err ? `${err.message} ${stderr}`.trim() : stdout.trim());
      },
    );
  });
}

/** Hex SHA-256 of a file (tests and `status`). */
export async function sha256Of(path: string): Promise<string> {
  const h = createHash("sha256");
  const f = await open(path, "r");
  try {
    for await (const chunk of f.createReadStream()) h.update(chunk as Buffer);
  } finally {
    await f.close().catch(() => {});
  }
  return h.digest("hex");
}
