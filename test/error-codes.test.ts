import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ERROR_REASONS, errorCode } from "../src/errors.js";
import { REPO_ROOT } from "./helpers/cli.js";

/**
 * docs/api.md's table of error codes is the one list of them: it must name
 * exactly the codes the central can answer, which are errorCode() of
 * ERROR_REASONS (the compiler refuses any other reason), and no code may be
 * spelled out in src or in the docs that is not one of them.
 */
const CODE = /SRVUTIL_E_[A-Z][A-Z_]*[A-Z]/g;
const read = (rel: string) => readFileSync(path.join(REPO_ROOT, rel), "utf8");

function filesUnder(dir: string, ext: string): string[] {
  return readdirSync(path.join(REPO_ROOT, dir), { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(ext))
    .map((f) => path.posix.join(dir, f.split(path.sep).join("/")));
}

/** The codes in the rows of the table under `### Error codes` in docs/api.md. */
function tableCodes(): string[] {
  const doc = read("docs/api.md");
  const section = doc.slice(doc.indexOf("\n### Error codes\n"));
  const table = /\n\| code \| status \| when \|\n\|[-|]+\|\n((?:\|.*\n)+)/.exec(section);
  expect(table, "docs/api.md has the table of codes under ### Error codes").not.toBeNull();
  return [...table![1]!.split("\n").flatMap((row) => row.split("|")[1]?.match(CODE) ?? [])];
}

const EMITTED = ERROR_REASONS.map(errorCode);

describe("error codes: src and the table in docs/api.md", () => {
  it("the table lists every code the central can answer, each once, and nothing else", () => {
    const listed = tableCodes();
    expect(new Set(listed).size, "a code listed twice").toBe(listed.length);
    expect([...listed].sort()).toEqual([...EMITTED].sort());
    expect(EMITTED.length).toBeGreaterThan(30);
  });

  it("every reason is given somewhere in src, so no code is listed that nothing answers", () => {
    const sources = filesUnder("src", ".ts")
      .filter((f) => f !== "src/errors.ts" && f !== "src/protocol/csv-error.ts")
      .map(read)
      .join("\n");
    const unused = ERROR_REASONS.filter((r) => !sources.includes(`"${r}"`));
    expect(unused).toEqual([]);
  });

  it("every code spelled out in src, the README or docs/ is one of them", () => {
    const files = ["README.md", ...filesUnder("docs", ".md"), ...filesUnder("src", ".ts")];
    const unknown: string[] = [];
    for (const f of files) {
      for (const code of read(f).match(CODE) ?? [])
        if (!EMITTED.includes(code)) unknown.push(`${f}: ${code}`);
    }
    expect(unknown).toEqual([]);
  });
});
