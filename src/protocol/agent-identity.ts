/**
 * How an agent names itself to the central: the User-Agent of every request
 * it sends (uploads, `install`'s whoami), `srvutil-agent/0.2.0 (linux; x64;
 * Linux 6.8.0-45-generic)`. The agent builds it, the central parses it
 * (docs/api.md "Agent identity"); both sides live here so they cannot drift.
 *
 * The central reads agent-supplied text, so the parse is strict: a length
 * cap, a fixed shape, a whitelist of characters per field. Anything else is
 * "unknown", never an error: an upload is never refused for its User-Agent.
 */

export interface AgentIdentity {
  /** The agent's release, `0.2.0` (an agent before 0.2 sent `0.1`). */
  version: string;
  /** process.platform (`linux`, `darwin`, `win32`); null when not sent. */
  platform: string | null;
  /** process.arch (`x64`, `arm64`); null when not sent. */
  arch: string | null;
  /** The OS and its release, `Linux 6.8.0-45-generic`; null when not sent. */
  os: string | null;
}

/** Longest User-Agent the central reads; a longer one is unknown whatever it holds. */
export const AGENT_USER_AGENT_MAX_CHARS = 200;
/** Longest OS text kept (a Linux kernel release is about 30). */
export const AGENT_OS_MAX_CHARS = 64;

const PRODUCT = "srvutil-agent";
const VERSION = String.raw`\d{1,4}(?:\.\d{1,6}){0,2}(?:-[0-9A-Za-z.]{1,20})?`;
const WORD = "[a-z0-9_]{1,16}";
// Letters, digits and the few marks kernel releases use; never `;`, `(`, `)`, `<`, `&`, quotes or controls.
const OS_TEXT = `[A-Za-z0-9][A-Za-z0-9 ._+~-]{0,${AGENT_OS_MAX_CHARS - 1}}`;
const SHAPE = new RegExp(`^${PRODUCT}/(${VERSION})(?: \\((${WORD}); (${WORD}); (${OS_TEXT})\\))?$`);

/** The User-Agent an agent sends; `os` is cleaned to what the central accepts (or left out). */
export function agentUserAgent(version: string, platform: string, arch: string, os: string): string {
  const cleanOs = os
    .replace(/[^A-Za-z0-9 ._+~-]/g, " ")
    .replace(/\s+/g, " ")
    .trim()
    .slice(0, AGENT_OS_MAX_CHARS)
    .trim();
  const comment = new RegExp(`^${WORD}$`).test(platform) && new RegExp(`^${WORD}$`).test(arch);
  if (!comment || cleanOs === "") return `${PRODUCT}/${version}`;
  return `${PRODUCT}/${version} (${platform}; ${arch}; ${cleanOs})`;
}

/** The identity in a User-Agent header, or null when it is not an agent's (or not exactly one). */
export function parseAgentUserAgent(header: string | string[] | undefined): AgentIdentity | null {
  if (typeof header !== "string" || header.length > AGENT_USER_AGENT_MAX_CHARS) return null;
  const m = SHAPE.exec(header);
  if (m === null) return null;
  return { version: m[1]!, platform: m[2] ?? null, arch: m[3] ?? null, os: m[4] ?? null };
}

/**
 * Compares two releases as numbers part by part (`0.1` = `0.1.0` < `0.10.0`);
 * a pre-release (`1.0.0-rc.1`) is below its release. Negative when a < b.
 */
export function compareAgentVersions(a: string, b: string): number {
  const split = (v: string) => {
    const dash = v.indexOf("-");
    const core = (dash < 0 ? v : v.slice(0, dash)).split(".").map((p) => Number.parseInt(p, 10) || 0);
    while (core.length < 3) core.push(0);
    return { core, pre: dash < 0 ? null : v.slice(dash + 1) };
  };
  const x = split(a);
  const y = split(b);
  for (let i = 0; i < 3; i++) if (x.core[i] !== y.core[i]) return x.core[i]! - y.core[i]!;
  if (x.pre === y.pre) return 0;
  if (x.pre === null) return 1;
  if (y.pre === null) return -1;
  return x.pre < y.pre ? -1 : 1;
}
