import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../helpers/cli.js";

/**
 * What `srvutil` loads before it does anything: help must not pull in the
 * server, the database drivers, mail or chart rendering (each command loads
 * its own implementation with `await import()` when it runs). A test of what
 * is loaded, not of how long it takes; `npm run bench:cli` measures the time.
 * This runs the sources; test/cli/cli-bundle.test.ts checks the start-up
 * bundle that bin/srvutil.js really runs.
 */
const RECORDER = path.join(REPO_ROOT, "test/helpers/record-imports.mjs");
const HEAVY = ["fastify", "better-sqlite3", "pg", "nodemailer", "@resvg/resvg-js", "croner", "luxon", "zod"];

let dir: string;
let runs = 0;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-lazy-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the CLI from source with the import recorder; returns the exit code and every module URL resolved. */
function loadedBy(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; urls: string[] }> {
  const log = path.join(dir, `imports-${++runs}.txt`);
  return new Promise((done, fail) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "--import", RECORDER, path.join(REPO_ROOT, "src/cli/main.ts"), ...args],
      {
        cwd: REPO_ROOT,
        env: { PATH: process.env.PATH ?? "", SRVUTIL_TEST_IMPORT_LOG: log, ...env },
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.once("error", fail);
    child.once("close", (code) => {
      clearTimeout(timer);
      if (!existsSync(log)) {
        fail(new Error(`the import recorder wrote nothing (exit ${code}): ${stderr}`));
        return;
      }
      done({ code, urls: readFileSync(log, "utf8").trim().split("\n") });
    });
  });
}

/** The npm packages among the URLs, by name (`@scope/name` or `name`). */
function packages(urls: readonly string[]): Set<string> {
  const names = new Set<string>();
  for (const url of urls) {
    const m = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
    if (m) names.add(m[1]!);
  }
  return names;
}

/** srvutil's own modules among the URLs, relative to src/. */
function ownModules(urls: readonly string[]): string[] {
  const src = `${path.join(REPO_ROOT, "src")}/`;
  return urls
    .filter((u) => u.startsWith("file://"))
    .map((u) => new URL(u).pathname)
    .filter((p) => p.startsWith(src))
    .map((p) => p.slice(src.length));
}

describe("srvutil loads command modules only when the command runs", () => {
  it.each(["--help", "agent --help", "report build --help", "central --help"])(
    "`srvutil %s` loads commander and the command wiring, none of the heavy modules",
    async (command) => {
      const r = await loadedBy(command.split(" "));
      expect(r.code).toBe(0);
      // The only package: commander (the recorder sees packages, the run below shows it would see a heavy one).
      expect([...packages(r.urls)].filter((p) => p !== "tsx")).toEqual(["commander"]);
      for (const heavy of HEAVY) expect(packages(r.urls), heavy).not.toContain(heavy);
      expect(ownModules(r.urls)).toContain("cli/main.ts");
      // Only the CLI's wiring: no central, agent, protocol or demo module, no
      // *-run.ts, and not even the error taxonomy (loaded when an error is reported).
      expect(ownModules(r.urls).filter((m) => !m.startsWith("cli/"))).toEqual([]);
      expect(ownModules(r.urls).filter((m) => m.endsWith("-run.ts") || m === "cli/errors.ts")).toEqual([]);
    },
  );

  it("a command that runs does load its implementation (the recorder would see a heavy module)", async () => {
    const r = await loadedBy(["report", "build", "--week", "2026-W47", "--format", "json", "--out", "-"], {
      SRVUTIL_DATA_DIR: path.join(dir, "data"),
    });
    expect(r.code).toBe(0);
    expect(packages(r.urls)).toContain("better-sqlite3");
    expect(ownModules(r.urls)).toContain("cli/report-build-run.ts");
  });
});
