import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { AGENT_VERSION } from "../src/agent/version.js";
import { VERSION } from "../src/cli/version.js";
import { REPO_ROOT, runCli } from "./helpers/cli.js";

const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")) as {
  version: string;
  license: string;
};

describe("one version everywhere", () => {
  it("package.json, the CLI, the agent, the CHANGELOG's newest release", () => {
    expect(VERSION).toBe(pkg.version);
    expect(AGENT_VERSION).toBe(pkg.version);
    const changelog = readFileSync(path.join(REPO_ROOT, "CHANGELOG.md"), "utf8");
    expect(/^## \[?(\d+\.\d+\.\d+)\]?/m.exec(changelog)?.[1]).toBe(pkg.version);
  });

  it("`srvutil --version` prints it with Node.js and the platform", async () => {
    const r = await runCli(["--version"], { PATH: process.env.PATH ?? "" });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      `srvutil ${pkg.version} (Node.js ${process.version}, ${process.platform}-${process.arch})\n`,
    );
  });

  it("the bug report template asks for it; LICENSE is the license package.json names", () => {
    const template = readFileSync(path.join(REPO_ROOT, ".github/ISSUE_TEMPLATE/bug_report.yml"), "utf8");
    expect(template).toContain("srvutil --version");
    expect(pkg.license).toBe("MIT");
    expect(readFileSync(path.join(REPO_ROOT, "LICENSE"), "utf8")).toMatch(/^MIT License\n/);
  });
});
