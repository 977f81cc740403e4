import { createHash } from "node:crypto";
import { constants } from "node:fs";
import { type FileHandle, open, stat } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The agent files the central serves (GET /agent/{platform}): the single
 * executables `npm run build:agent-bin` writes to dist/bin/ and the plain-Node
 * bundle `npm run build:agent` writes to dist/. Only the names below map to
 * files; nothing from a request becomes part of a path.
 */
export const AGENT_PLATFORMS = [
  "linux-x64",
  "linux-arm64",
  "darwin-x64",
  "darwin-arm64",
  "windows-x64",
  "node",
] as const;

export type AgentPlatform = (typeof AGENT_PLATFORMS)[number];

/** The file names scripts/build-agent-bin.ts (TARGETS) and `build:agent` write. */
const FILE_NAMES: Readonly<Record<AgentPlatform, string>> = {
  "linux-x64": "srvutil-agent-linux-x64",
  "linux-arm64": "srvutil-agent-linux-arm64",
  "darwin-x64": "srvutil-agent-darwin-x64",
  "darwin-arm64": "srvutil-agent-darwin-arm64",
  "windows-x64": "srvutil-agent-windows-x64.exe",
  node: "srvutil-agent.mjs",
};

/** The commands that build the files, named in the central's start-up warning and the 404 answer. */
export const BUILD_COMMAND = "npm run build:agent-bin && npm run build:agent";

export function isAgentPlatform(name: string): name is AgentPlatform {
  return (AGENT_PLATFORMS as readonly string[]).includes(name);
}

export interface AgentDistDirs {
  /** Where the single executables are (dist/bin). */
  binDir: string;
  /** Where the plain-Node bundle is (dist). */
  bundleDir: string;
}

/** dist/bin and dist of this checkout; the same from src/ (tsx) and dist/ (built). */
export function defaultAgentDistDirs(): AgentDistDirs {
  const dist = fileURLToPath(new URL("../../../dist/", import.meta.url));
  return { binDir: join(dist, "bin"), bundleDir: dist };
}

export interface AgentFileInfo {
  platform: AgentPlatform;
  file: string;
  size: number;
  sha256: string;
}

export interface OpenAgentFile extends AgentFileInfo {
  /** The open file the digest was computed for: serve this, not the path, so a rebuild in between cannot mix the two. */
  handle: FileHandle;
}

interface CacheEntry {
  key: string;
  sha256: Promise<string>;
}

/**
 * The files and their SHA-256. A digest is computed once per file version
 * (device, inode, size, mtime and ctime, which no one can set back) and kept: a request costs a stat, not a
 * hash of ~100 MB. A rebuild writes new files by rename, so a new version has
 * a new inode and is hashed on its first request.
 */
export class AgentCatalog {
  private readonly cache = new Map<AgentPlatform, CacheEntry>();
  /** How many times a file was hashed (a file version is hashed once). */
  hashed = 0;

  constructor(readonly dirs: AgentDistDirs) {}

  path(platform: AgentPlatform): string {
    return join(platform === "node" ? this.dirs.bundleDir : this.dirs.binDir, FILE_NAMES[platform]);
  }

  fileName(platform: AgentPlatform): string {
    return FILE_NAMES[platform];
  }

  /** The platforms whose file is missing (the start-up warning lists them). */
  async missing(): Promise<AgentPlatform[]> {
    const out: AgentPlatform[] = [];
    for (const p of AGENT_PLATFORMS) {
      const s = await stat(this.path(p)).catch(() => null);
      if (s === null || !s.isFile()) out.push(p);
    }
    return out;
  }

  /** Hashes every present file now (central serve calls it after listening, without waiting). */
  async warmUp(): Promise<void> {
    for (const p of AGENT_PLATFORMS) {
      const f = await this.open(p);
      await f?.handle.close();
    }
  }

  /** The file opened for reading with its size and digest; null when it is not built. */
  async open(platform: AgentPlatform): Promise<OpenAgentFile | null> {
    let handle: FileHandle;
    try {
      // O_NOFOLLOW: the file itself, not whatever a link put in dist/bin points at.
      handle = await open(this.path(platform), constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch {
      return null;
    }
    try {
      const s = await handle.stat();
      if (!s.isFile()) {
        await handle.close();
        return null;
      }
      const key = `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;
      let entry = this.cache.get(platform);
      if (entry === undefined || entry.key !== key) {
        entry = { key, sha256: hashOf(handle) };
        this.hashed++;
        this.cache.set(platform, entry);
        // A failed hash is not kept: the next request tries again.
        entry.sha256.catch(() => this.cache.delete(platform));
      }
      const sha256 = await entry.sha256;
      return { platform, file: FILE_NAMES[platform], size: s.size, sha256, handle };
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  /** Every built file, in AGENT_PLATFORMS order, without keeping any open. */
  async list(): Promise<AgentFileInfo[]> {
    const out: AgentFileInfo[] = [];
    for (const p of AGENT_PLATFORMS) {
      const f = await this.open(p);
      if (f === null) continue;
      await f.handle.close();
      out.push({ platform: f.platform, file: f.file, size: f.size, sha256: f.sha256 });
    }
    return out;
  }
}

/** SHA-256 of the whole file through its handle, read in chunks (never all in memory). */
async function hashOf(handle: FileHandle): Promise<string> {
  const hash = createHash("sha256");
  const buffer = Buffer.alloc(1 << 20);
  let position = 0;
  for (;;) {
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
    if (bytesRead === 0) break;
    hash.update(buffer.subarray(0, bytesRead));
    position += bytesRead;
  }
  return hash.digest("hex");
}
