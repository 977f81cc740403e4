import { readFileSync } from "node:fs";
import path from "node:path";
import { REPO_ROOT } from "./cli.js";

/**
 * The `srvutil …` command lines of a doc's sh/powershell code blocks (comments
 * after `#` and a leading `sudo` or variable assignments removed), so a test
 * can check that what it runs is what the doc tells operators to run.
 */
export function docCommands(doc: string, section?: string): string[] {
  let text = readFileSync(path.join(REPO_ROOT, doc), "utf8");
  if (section !== undefined) {
    const start = text.indexOf(`\n${section}\n`);
    if (start < 0) throw new Error(`${doc}: no section '${section}'`);
    const level = /^#+/.exec(section)![0];
    const rest = text.slice(start + section.length + 2);
    const end = rest.search(new RegExp(`^#{1,${level.length}} `, "m"));
    text = end < 0 ? rest : rest.slice(0, end);
  }
  const out: string[] = [];
  for (const block of text.matchAll(/```(?:sh|powershell)\n([\s\S]*?)```/g)) {
    for (const raw of block[1]!.split("\n")) {
      const line = raw
        .replace(/\s+#\s.*$/, "")
        .trim()
        .replace(/^sudo\s+/, "")
        .replace(/^(?:[A-Z_]+=\S+\s+)+/, "");
      if (/^(?:\.\\|\.\/)?srvutil(?:-agent)?(?:\.exe)?\s/.test(line) || line.startsWith("npx srvutil "))
        out.push(line);
    }
  }
  return out;
}
