import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "./helpers/cli.js";

/** Every TypeScript file under `dir`, repo-relative. */
function tsFiles(dir: string): string[] {
  return readdirSync(path.join(REPO_ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) return tsFiles(rel);
    return e.name.endsWith(".ts") ? [rel] : [];
  });
}

/** The repo-relative targets of a file's relative imports. */
function importsOf(file: string): string[] {
  const text = readFileSync(path.join(REPO_ROOT, file), "utf8");
  return [...text.matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)].map((m) =>
    path.normalize(path.join(path.dirname(file), m[1]!)),
  );
}

describe("what the benchmarks may import", () => {
  const files = tsFiles("bench");

  it("finds the benchmarks", () => {
    expect(files).toContain(path.join("bench", "ingest", "run.ts"));
  });

  it("takes test code only from the shared test/helpers/, and nothing of src/ from bench/support/ back", () => {
    const outside = files.flatMap((f) =>
      importsOf(f)
        .filter(
          (target) =>
            target.startsWith(`test${path.sep}`) && !target.startsWith(path.join("test", "helpers")),
        )
        .map((target) => `${f} -> ${target}`),
    );
    expect(outside).toEqual([]);
    const intoBench = tsFiles("src").flatMap((f) =>
      importsOf(f)
        .filter((target) => target.startsWith(`bench${path.sep}`))
        .map((target) => `${f} -> ${target}`),
    );
    expect(intoBench).toEqual([]);
  });
});
