#!/usr/bin/env node
/**
 * Entry point of the single-file agent (dist/srvutil-agent.mjs, built by
 * `npm run build:agent`), which runs with `node srvutil-agent.mjs …` on a
 * server without node_modules. The single executables use sea.ts instead.
 */
import { fileURLToPath } from "node:url";
import { runAgentProgram } from "./program.js";

export { AGENT_HELP, agentMain, parseAgentArgs } from "./program.js";

// Run only when executed directly (the bundle or `node --import tsx src/agent/main.ts`), not when imported.
const invokedPath = process.argv[1];
const thisFile = fileURLToPath(import.meta.url);
if (invokedPath !== undefined && thisFile === (await realPath(invokedPath))) {
  await runAgentProgram(process.argv.slice(2), { self: [process.execPath, thisFile], executable: null });
}

async function realPath(p: string): Promise<string> {
  const { realpathSync } = await import("node:fs");
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}
