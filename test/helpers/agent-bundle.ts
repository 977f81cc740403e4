import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, renameSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "../..");
/** Where `npm run build:agent` puts the plain-Node agent. */
export const AGENT_BUNDLE = join(ROOT, "dist", "srvutil-agent.mjs");

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * The plain-Node agent bundle, built now when it is missing or older than
 * the agent's sources. Several test files use it at once, so it is built
 * beside and renamed into place: a reader never sees half a file. The
 * command is package.json's `build:agent`, with only the output file moved.
 */
export function agentBundle(): string {
  const sources = Math.max(
    newestMtime(join(ROOT, "src", "agent")),
    newestMtime(join(ROOT, "src", "protocol")),
  );
  if (existsSync(AGENT_BUNDLE) && statSync(AGENT_BUNDLE).mtimeMs >= sources) return AGENT_BUNDLE;
  const scripts = (
    JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }
  ).scripts;
  const command = scripts["build:agent"]!;
  const out = "--outfile=dist/srvutil-agent.mjs";
  if (!command.includes(out)) throw new Error(`package.json's build:agent no longer writes ${out}`);
  const temporary = `dist/srvutil-agent.${process.pid}.${Date.now()}.mjs.tmp`;
  execFileSync("sh", ["-c", command.replace(out, `--outfile=${temporary}`)], {
    cwd: ROOT,
    stdio: "pipe",
    env: { ...process.env, PATH: `${join(ROOT, "node_modules", ".bin")}:${process.env.PATH}` },
  });
  renameSync(join(ROOT, temporary), AGENT_BUNDLE);
  return AGENT_BUNDLE;
}
