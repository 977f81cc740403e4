import { spawn } from "node:child_process";
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Metafile } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildCliBundle } from "../../scripts/build-cli.js";
import { REPO_ROOT } from "../helpers/cli.js";

/**
 * The start-up bundle bin/srvutil.js runs (scripts/build-cli.ts), built here
 * into a temporary directory: it holds only the command wiring, `--help` loads
 * no other module at all, and the lazy side (built by tsc next to it, here
 * the sources through symlinks and tsx) is reached by the same paths.
 */
let dir: string;
let bundle: string;
let metafile: Metafile;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-cli-bundle-"));
  bundle = path.join(dir, "cli", "srvutil.cjs");
  metafile = await buildCliBundle(bundle);
  // What tsc puts next to the bundle in dist/: the lazy modules, here as the sources.
  for (const f of readdirSync(path.join(REPO_ROOT, "src/cli"))) {
    symlinkSync(path.join(REPO_ROOT, "src/cli", f), path.join(dir, "cli", f));
  }
  symlinkSync(path.join(REPO_ROOT, "src/agent"), path.join(dir, "agent"));
  mkdirSync(path.join(dir, "data"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(
  nodeArgs: string[],
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [...nodeArgs, bundle, ...args], {
      cwd: REPO_ROOT, // where --import tsx resolves
      env: { PATH: process.env.PATH ?? "", SRVUTIL_DATA_DIR: path.join(dir, "data"), ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.once("error", fail);
    child.once("close", (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

/** Every relative import (static or dynamic) a source file writes, resolved to a repository-relative .ts path. */
function relativeImports(file: string): string[] {
  const text = readFileSync(path.join(REPO_ROOT, file), "utf8");
  const specifiers = [...text.matchAll(/(?:from\s+|import\s*\(\s*)"(\.\.?\/[^"]+)"/g)].map((m) => m[1]!);
  return specifiers.map((s) =>
    path.relative(
      REPO_ROOT,
      path.resolve(path.dirname(path.join(REPO_ROOT, file)), s.replace(/\.js$/, ".ts")),
    ),
  );
}

function sourceFiles(under: string): string[] {
  return readdirSync(path.join(REPO_ROOT, under), { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".ts"))
    .map((f) => path.join(under, f));
}

describe("the CLI start-up bundle", () => {
  it("holds the command wiring and commander, nothing else; every command module stays a lazy import", () => {
    const inputs = Object.keys(metafile.inputs);
    const own = inputs.filter((i) => !i.includes("node_modules/")).sort();
    expect(own).toContain("src/cli/main.ts");
    expect(own).toContain("src/cli/report-delivery.ts");
    for (const f of own) expect(f.startsWith("src/cli/"), f).toBe(true);
    for (const f of own) expect(f.endsWith("-run.ts") || f === "src/cli/errors.ts", f).toBe(false);
    const packages = new Set(
      inputs.flatMap((i) => /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(i)?.[1] ?? []),
    );
    expect([...packages]).toEqual(["commander"]);

    const output = Object.values(metafile.outputs)[0]!;
    const lazy = output.imports.filter((i) => i.kind === "dynamic-import").map((i) => i.path);
    expect(output.imports.every((i) => i.external)).toBe(true);
    expect(lazy).toEqual(
      expect.arrayContaining(["./central-run.js", "./report-build-run.js", "./errors.js"]),
    );
    expect(lazy).toContain("../agent/commands.js");
  });

  it("keeps every module on one side: nothing outside the bundle imports a module inside it", () => {
    const inBundle = new Set(Object.keys(metafile.inputs));
    const lazySide = sourceFiles("src").filter((f) => !inBundle.has(f));
    expect(lazySide.length).toBeGreaterThan(50);
    const crossing = lazySide.flatMap((f) =>
      relativeImports(f)
        .filter((target) => inBundle.has(target))
        .map((target) => `${f} → ${target}`),
    );
    // Two copies at run time would break `instanceof` (e.g. the error classes) and module state.
    expect(crossing).toEqual([]);
  });

  it("refuses to bundle a command's implementation (the lazy-loading rule, enforced at build time)", async () => {
    await expect(
      buildCliBundle(path.join(dir, "wrong", "x.cjs"), path.join(REPO_ROOT, "src/cli/report-build-run.ts")),
    ).rejects.toThrow(
      /src\/cli\/report-build-run\.ts: imports \.\.\/central\/.* statically, so it would load at every start/,
    );
  });

  it("`--help` loads no module besides the bundle itself (neither through require nor import)", async () => {
    const recorder = path.join(dir, "record-requires.cjs");
    const log = path.join(dir, "requires.txt");
    // Written here: a preload that lists, at exit, every CommonJS module the program loaded.
    writeFileSync(
      recorder,
      `process.on("exit", () => require("node:fs").writeFileSync(${JSON.stringify(log)}, Object.keys(require.cache).join("\\n")));\n`,
    );
    const esmLog = path.join(dir, "imports.txt");
    const r = await run(
      ["-r", recorder, "--import", path.join(REPO_ROOT, "test/helpers/record-imports.mjs")],
      ["--help"],
      { SRVUTIL_TEST_IMPORT_LOG: esmLog },
    );
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Usage: srvutil [options] [command]");
    for (const command of ["central", "agent", "report", "demo"]) expect(r.stdout).toContain(`  ${command}`);
    const required = readFileSync(log, "utf8").split("\n");
    expect(required.filter((f) => f !== recorder)).toEqual([bundle]);
    const imported = readFileSync(esmLog, "utf8").trim().split("\n");
    expect(imported.filter((u) => !u.startsWith("node:"))).toEqual([`file://${bundle}`]);
  });

  it("reaches the lazy side by its paths next to the bundle, with one error taxonomy (exit code by category)", async () => {
    const bad = await run(["--import", "tsx"], ["report", "build", "--week", "bogus"]);
    expect(bad.stderr.trim()).toBe(
      `srvutil: week 'bogus': expected an ISO week like "2026-W47" or "last" (SRVUTIL_E_BAD_REQUEST)`,
    );
    expect(bad.code).toBe(64);
    const badConfig = await run(["--import", "tsx"], ["central", "token", "list"], {
      SRVUTIL_DB_URL: "mysql://nope",
    });
    expect(badConfig.stderr).toMatch(/^srvutil: SRVUTIL_DB_URL: /);
    expect(badConfig.code).toBe(78);
    const ok = await run(["--import", "tsx"], ["report", "build", "--week", "2026-W47", "--format", "json"], {
      SRVUTIL_DB_URL: `sqlite:${path.join(dir, "data", "srvutil.db")}`,
    });
    expect(ok.stderr).toContain("report 2026-W47 (UTC, 0 servers)");
    expect(ok.code).toBe(0);
    expect(JSON.parse(readFileSync(path.join(dir, "data", "reports", "2026-W47.json"), "utf8")).week).toBe(
      "2026-W47",
    );
  });
});
