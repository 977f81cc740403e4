import { readFile } from "node:fs/promises";
import type { SignedAgentManifest } from "../../protocol/agent-manifest.js";
import type { AgentFileInfo } from "./catalog.js";
import { writeFileAtomicSync } from "./write-private.js";

type Entry = SignedAgentManifest["agents"][number];

/**
 * The agent files the central signs: their size and SHA-256 recorded in
 * agent-release.json beside the signing key, not read live from dist/. A file
 * replaced in dist/ afterwards keeps being announced with the recorded
 * digest, so agents refuse it (digest mismatch): writing the executables
 * directory alone cannot push code.
 *
 * Recorded when the central starts: for every platform when the file is
 * absent or names another version (the checkout was upgraded and rebuilt),
 * else only for platforms built since. A file that differs from its record
 * is reported (`changed`); to sign a deliberate rebuild of the same version,
 * delete agent-release.json and restart.
 */
export interface AgentRelease {
  version: string;
  agents: Entry[];
}

export class ReleaseRecord {
  private recorded: AgentRelease | null = null;

  constructor(
    readonly file: string,
    readonly version: string,
  ) {}

  /**
   * The entries to announce and sign for the files present now: the recorded
   * ones (a file that changed since keeps its record and is listed in
   * `changed`), with platforms not yet recorded added to the record.
   */
  async reconcile(present: readonly AgentFileInfo[]): Promise<{ agents: Entry[]; changed: string[] }> {
    if (this.recorded === null) this.recorded = await this.read();
    const entry = (a: AgentFileInfo): Entry => ({ platform: a.platform, size: a.size, sha256: a.sha256 });
    if (this.recorded === null || this.recorded.version !== this.version) {
      this.recorded = { version: this.version, agents: present.map(entry) };
      writeFileAtomicSync(this.file, `${JSON.stringify(this.recorded, null, 1)}\n`);
      return { agents: [...this.recorded.agents], changed: [] };
    }
    const agents: Entry[] = [];
    const changed: string[] = [];
    let added = false;
    for (const a of present) {
      const r = this.recorded.agents.find((x) => x.platform === a.platform);
      if (r === undefined) {
        this.recorded.agents.push(entry(a));
        agents.push(entry(a));
        added = true;
      } else {
        agents.push(r);
        if (r.sha256 !== a.sha256 || r.size !== a.size) changed.push(a.platform);
      }
    }
    if (added) writeFileAtomicSync(this.file, `${JSON.stringify(this.recorded, null, 1)}\n`);
    return { agents, changed };
  }

  private async read(): Promise<AgentRelease | null> {
    const text = await readFile(this.file, "utf8").catch(() => null);
    if (text === null) return null;
    try {
      const v = JSON.parse(text) as AgentRelease;
      if (typeof v.version === "string" && Array.isArray(v.agents)) return v;
    } catch {}
    return null;
  }
}
