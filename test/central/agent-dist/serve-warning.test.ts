import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AgentCatalog } from "../../../src/central/agent-dist/catalog.js";
import { startCentral } from "../../../src/central/central-process.js";
import { loadCentralConfig } from "../../../src/central/config.js";

const FILES = [
  "bin/srvutil-agent-linux-x64",
  "bin/srvutil-agent-linux-arm64",
  "bin/srvutil-agent-darwin-x64",
  "bin/srvutil-agent-darwin-arm64",
  "bin/srvutil-agent-windows-x64.exe",
  "srvutil-agent.mjs",
];

describe("central serve and the agent files", () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  async function serve(present: readonly string[]): Promise<string[]> {
    dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-serve-dist-"));
    const dist = path.join(dir, "dist");
    mkdirSync(path.join(dist, "bin"), { recursive: true });
    for (const f of present) writeFileSync(path.join(dist, f), `agent ${f}`);
    const config = loadCentralConfig({
      SRVUTIL_DATA_DIR: path.join(dir, "data"),
      SRVUTIL_LISTEN: "127.0.0.1:0",
      SRVUTIL_REPORT_CRON: "off",
    });
    const central = await startCentral(config, {
      agentCatalog: new AgentCatalog({ binDir: path.join(dist, "bin"), bundleDir: dist }),
    });
    try {
      // What it serves agrees with what it said.
      const manifest = (await (await fetch(`${central.url}/agent/manifest.json`)).json()) as {
        missing: string[];
      };
      expect(manifest.missing).toHaveLength(FILES.length - present.length);
      return central.warnings;
    } finally {
      await central.close();
    }
  }

  it("says at start which executables are missing, where it looked, and the command that builds them", async () => {
    const warnings = await serve(["bin/srvutil-agent-linux-x64", "srvutil-agent.mjs"]);
    const line = warnings.find((w) => w.startsWith("agent downloads:"));
    expect(line).toBe(
      `agent downloads: not built for linux-arm64, darwin-x64, darwin-arm64, windows-x64 (looked in ${path.join(dir, "dist", "bin")}); ` +
        `build them with \`npm run build:agent-bin && npm run build:agent\` in ${dir}`,
    );
  });

  it("says nothing about them when all are built", async () => {
    const warnings = await serve(FILES);
    expect(warnings.filter((w) => w.includes("agent downloads"))).toEqual([]);
  });
});
