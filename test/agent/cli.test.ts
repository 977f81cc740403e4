import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { EXIT_CODE } from "../../src/errors.js";

/**
 * `srvutil agent …` through the real commander CLI (from source, via tsx). The
 * upload path itself is covered by the bundle tests and the lead's e2e test.
 */
const ROOT = resolve(import.meta.dirname, "../..");

function srvutil(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "src/cli/main.ts"), ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout!.on("data", (c: Buffer) => {
      out += c.toString();
    });
    child.stderr!.on("data", (c: Buffer) => {
      err += c.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.once("error", fail);
    child.once("close", (code) => {
      clearTimeout(timer);
      done({ code, out, err });
    });
  });
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "srvutil-agent-cli-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("srvutil agent", () => {
  it("has --help on every subcommand", async () => {
    const r = await srvutil(["agent", "install", "--help"], {});
    expect(r.code).toBe(0);
    expect(r.out).toContain("--mode <mode>");
    expect(r.out).toContain("--dry-run");
  });

  it("prints a missing setting as one line and exits 78 (bad configuration)", async () => {
    const r = await srvutil(["agent", "run", "--once"], {
      SRVUTIL_AGENT_DIR: dir,
      SRVUTIL_AGENT_TOKEN: "tok-cli-secret",
    });
    expect(r.code).toBe(EXIT_CODE.bad_config);
    expect(r.err.trim()).toMatch(/^srvutil: SRVUTIL_CENTRAL_URL is not set/);
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(r.err + r.out).not.toContain("tok-cli-secret");
  });
});
