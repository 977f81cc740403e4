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

/** The lines of a Markdown text outside fenced code blocks (numbered from 1), as written and with inline code blanked out. */
function proseLines(text: string): { line: number; raw: string; prose: string }[] {
  const out: { line: number; raw: string; prose: string }[] = [];
  let fence: string | null = null;
  text.split("\n").forEach((raw, i) => {
    const opening = /^\s{0,3}(`{3,}|~{3,})/.exec(raw);
    if (fence !== null) {
      if (opening !== null && opening[1]!.startsWith(fence)) fence = null;
      return;
    }
    if (opening !== null) {
      fence = opening[1]!;
      return;
    }
    out.push({ line: i + 1, raw, prose: raw.replace(/(`+)[^`]*?\1/g, (m) => " ".repeat(m.length)) });
  });
  return out;
}

/** The targets of the inline links and images of a Markdown text (`[text](target)`), outside code. */
export function markdownLinksIn(text: string): { target: string; line: number }[] {
  const out: { target: string; line: number }[] = [];
  for (const { line, prose } of proseLines(text)) {
    for (const m of prose.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      out.push({ target: m[1]!, line });
    }
  }
  return out;
}

/**
 * The anchors GitHub gives the headings of a Markdown text: lower case,
 * everything but letters, digits, spaces, hyphens and underscores dropped,
 * spaces made hyphens, and -1, -2, … after a repeated one.
 */
export function headingAnchorsIn(text: string): Set<string> {
  const anchors = new Set<string>();
  for (const { raw } of proseLines(text)) {
    const heading = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(raw);
    if (heading === null) continue;
    const base = heading[1]!
      .replace(/`/g, "")
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "")
      .replace(/ /g, "-");
    let anchor = base;
    for (let n = 1; anchors.has(anchor); n++) anchor = `${base}-${n}`;
    anchors.add(anchor);
  }
  return anchors;
}

export function markdownLinks(doc: string): { target: string; line: number }[] {
  return markdownLinksIn(readFileSync(path.join(REPO_ROOT, doc), "utf8"));
}

export function headingAnchors(doc: string): Set<string> {
  return headingAnchorsIn(readFileSync(path.join(REPO_ROOT, doc), "utf8"));
}
