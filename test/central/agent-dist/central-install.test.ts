import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AgentCatalog, defaultAgentDistDirs } from "../../../src/central/agent-dist/catalog.js";
import { REPO_ROOT, runCli } from "../../helpers/cli.js";

// `srvutil central install` and the agent files the central serves, through the CLI (--dry-run: nothing written).
let work: string;
beforeEach(() => {
  work = mkdtempSync(path.join(os.tmpdir(), "srvutil-central-install-agents-"));
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

const args = () => [
  "central",
  "install",
  "--dry-run",
  "--unit-dir",
  path.join(work, "units"),
  "--settings",
  path.join(work, "c.env"),
];
const env = () => ({ PATH: process.env.PATH, HOME: process.env.HOME });

describe("central install and the agent downloads", () => {
  it("--build-agents says it would build them in this checkout, before the service", async () => {
    const r = await runCli([...args(), "--build-agents"], env());
    expect(r.code).toBe(0);
    const line = `# would run in ${REPO_ROOT}: npm run build:agent-bin && npm run build:agent\n`;
    expect(r.stdout.startsWith(line)).toBe(true);
  });

  it("without it, names the agent files that are missing and the command, as this checkout has them", async () => {
    const missing = await new AgentCatalog(defaultAgentDistDirs()).missing();
    const r = await runCli(args(), env());
    expect(r.code).toBe(0);
    if (missing.length === 0) {
      expect(r.stderr).not.toContain("agent downloads");
    } else {
      expect(r.stderr).toContain(
        `srvutil: warning: the agent downloads for ${missing.join(", ")} are not built, so the one-command install (GET /install.sh) cannot serve them: ` +
          `run \`npm run build:agent-bin && npm run build:agent\` in ${REPO_ROOT}, or install with --build-agents`,
      );
    }
  });
});
