import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "./helpers/cli.js";
import { headingAnchors, headingAnchorsIn, markdownLinks, markdownLinksIn } from "./helpers/docs.js";

/** The documentation an operator reads: the README, docs/ and the benchmark results. */
const DOCS = [
  "README.md",
  "bench/RESULTS.md",
  ...readdirSync(path.join(REPO_ROOT, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/${f}`),
];

describe("links between the docs", () => {
  it("finds the docs", () => {
    expect(DOCS).toContain("docs/scaling.md");
    expect(DOCS.length).toBeGreaterThan(10);
  });

  it.each(DOCS)("every relative link and anchor of %s resolves", (doc) => {
    const broken: string[] = [];
    for (const { target, line } of markdownLinks(doc)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:, …: not checked here
      const [file, anchor] = target.split("#", 2) as [string, string | undefined];
      const resolved =
        file === "" ? doc : path.posix.normalize(path.posix.join(path.posix.dirname(doc), file));
      const absolute = path.join(REPO_ROOT, resolved);
      if (!existsSync(absolute)) {
        broken.push(`${doc}:${line}: ${target}: no such file`);
        continue;
      }
      if (anchor === undefined || anchor === "") continue;
      if (statSync(absolute).isDirectory() || !resolved.endsWith(".md")) {
        broken.push(`${doc}:${line}: ${target}: an anchor into something that is not Markdown`);
        continue;
      }
      if (!headingAnchors(resolved).has(decodeURIComponent(anchor))) {
        broken.push(`${doc}:${line}: ${target}: no heading with that anchor in ${resolved}`);
      }
    }
    expect(broken).toEqual([]);
  });
});

/** `{a,b}` alternatives expanded; then each `*` segment matched against its directory. */
function repoPathExists(pattern: string): boolean {
  const braces = /\{([^{}]*)\}/.exec(pattern);
  if (braces !== null) {
    return braces[1]!.split(",").some((alt) => repoPathExists(pattern.replace(braces[0], alt)));
  }
  const star = pattern.split("/").findIndex((segment) => segment.includes("*"));
  if (star < 0) return existsSync(path.join(REPO_ROOT, pattern));
  const segments = pattern.split("/");
  const dir = path.join(REPO_ROOT, ...segments.slice(0, star));
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return false;
  const re = new RegExp(`^${segments[star]!.replace(/[.+?^$()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`);
  return readdirSync(dir)
    .filter((name) => re.test(name))
    .some((name) =>
      repoPathExists([...segments.slice(0, star), name, ...segments.slice(star + 1)].join("/")),
    );
}

describe("files the docs name", () => {
  it.each(DOCS)("every `src/…`, `test/…`, `bench/…`, `scripts/…` path in %s exists", (doc) => {
    const text = readFileSync(path.join(REPO_ROOT, doc), "utf8");
    const missing = [...text.matchAll(/`((?:src|test|bench|scripts|web)\/[^`\s]+)`/g)]
      .map((m) => m[1]!.replace(/[:#].*$/, ""))
      .filter((p) => !repoPathExists(p));
    expect(missing).toEqual([]);
  });

  it("expands the patterns it meets", () => {
    expect(repoPathExists("src/central/storage/{sqlite,postgres}/coordination.ts")).toBe(true);
    expect(repoPathExists("src/central/storage/*/raw-uploads.ts")).toBe(true);
    expect(repoPathExists("src/central/storage/{sqlite,postgres}/no-such-file.ts")).toBe(false);
  });
});

describe("the link checker itself", () => {
  it("makes GitHub's anchors from headings, not from code", () => {
    const text = [
      "# Title",
      "### `central rebuild` on a shared database",
      "## Ingest: one statement for an agent's upload, COPY for a large file",
      "## 2026-11-25: bench:ingest on SQLite (the ingest path, soak)",
      "## Speed — `npm run bench:dashboard`",
      "## Title",
      "```sh",
      "# not a heading",
      "```",
    ].join("\n");
    expect([...headingAnchorsIn(text)]).toEqual([
      "title",
      "central-rebuild-on-a-shared-database",
      "ingest-one-statement-for-an-agents-upload-copy-for-a-large-file",
      "2026-11-25-benchingest-on-sqlite-the-ingest-path-soak",
      "speed--npm-run-benchdashboard",
      "title-1",
    ]);
  });

  it("reads the links of prose, not of code", () => {
    const text = [
      'See [scaling](scaling.md#rate-limits) and ![shot](shot.png "title").',
      "Not `[this](code.md)`.",
      "~~~",
      "[nor this](fenced.md)",
      "~~~",
      "[last](<../bench/RESULTS.md>)",
    ].join("\n");
    expect(markdownLinksIn(text)).toEqual([
      { target: "scaling.md#rate-limits", line: 1 },
      { target: "shot.png", line: 1 },
      { target: "../bench/RESULTS.md", line: 6 },
    ]);
  });
});
