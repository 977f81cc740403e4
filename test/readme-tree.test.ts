import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "./helpers/cli.js";

/**
 * The README's architecture tree is how a new engineer finds their room, so
 * it must be true: every folder and file it names exists, and every folder of
 * src/ down to src/central/x/y/ is in it. Each line of the tree starts with
 * its name, indented two spaces per level; what follows is the description.
 */
function treeEntries(): { rel: string; dir: boolean; line: string }[] {
  const readme = readFileSync(path.join(REPO_ROOT, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("\n## Architecture\n"));
  const block = /\n```\n([\s\S]*?)\n```/.exec(section);
  expect(block, "README.md has a code block under ## Architecture").not.toBeNull();
  const stack: string[] = [];
  const entries: { rel: string; dir: boolean; line: string }[] = [];
  for (const line of block![1]!.split("\n")) {
    const m = /^( *)(\S+)/.exec(line);
    if (m === null) continue;
    const depth = m[1]!.length / 2;
    expect(Number.isInteger(depth), `indented by two spaces per level: ${line}`).toBe(true);
    expect(depth, `nested under a folder: ${line}`).toBeLessThanOrEqual(stack.length);
    stack.length = depth;
    const name = m[2]!;
    const dir = name.endsWith("/");
    entries.push({ rel: [...stack, name.replace(/\/$/, "")].join("/"), dir, line });
    if (dir) stack.push(name.replace(/\/$/, ""));
  }
  return entries;
}

/** Folders under `dir` (relative to the repository), `levels` deep. */
function foldersUnder(dir: string, levels: number): string[] {
  if (levels === 0) return [];
  return readdirSync(path.join(REPO_ROOT, dir), { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .flatMap((e) => {
      const rel = `${dir}/${e.name}`;
      return [rel, ...foldersUnder(rel, levels - 1)];
    });
}

describe("README architecture tree", () => {
  it("names only folders and files that exist, as what they are", () => {
    const entries = treeEntries();
    expect(entries.length).toBeGreaterThan(20);
    const wrong = entries.filter((e) => {
      const full = path.join(REPO_ROOT, e.rel);
      return !existsSync(full) || statSync(full).isDirectory() !== e.dir;
    });
    expect(wrong.map((e) => e.line)).toEqual([]);
  });

  it("names every folder of src/ down to src/central/*/*/", () => {
    const named = new Set(treeEntries().map((e) => e.rel));
    const missing = foldersUnder("src", 3).filter((d) => !named.has(d));
    expect(missing).toEqual([]);
  });
});
