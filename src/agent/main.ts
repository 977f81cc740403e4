#!/usr/bin/env node
/**
 * Entry point of the single-file agent (dist/srvutil-agent.mjs, built by
 * `npm run build:agent`). Plain argv parsing, no dependencies, so the bundle
 * runs with `node srvutil-agent.mjs …` on a server without node_modules.
 */
import { fileURLToPath } from "node:url";
import { errorCategory, exitCodeOf } from "../errors.js";
import {
  agentCollectCommand,
  agentInstallCommand,
  agentRunCommand,
  agentStatusCommand,
  agentUninstallCommand,
} from "./commands.js";
import { AgentUsageError } from "./errors.js";

const VERSION = "0.1.0";

export const AGENT_HELP = `Usage: srvutil-agent <command> [options]

Collects CPU, memory and disk usage, spools it as CSV v1 and uploads it to the srvutil central.

Commands:
  run [--once]           run as a daemon (sample every 60 s, upload every 20 min);
                         --once: one sample, then upload the spool (for cron/Task Scheduler)
  collect                print one sample as CSV on stdout (nothing spooled or sent)
  status                 spool backlog, rejected files, last upload, last problem
  install [--dry-run] [--mode service|timer] [--target-dir DIR] [--no-activate]
                         install as a systemd service/timer, launchd daemon or scheduled task
  uninstall [--dry-run] [--target-dir DIR] [--no-activate]
                         remove what install created

Options for every command:
  --config FILE          agent.json to read (default <agent dir>/agent.json)
  --agent-dir DIR        agent directory (default $SRVUTIL_AGENT_DIR or ./agent-data)
  -h, --help             this help
  -V, --version          the version

Environment: SRVUTIL_CENTRAL_URL, SRVUTIL_AGENT_TOKEN or SRVUTIL_AGENT_TOKEN_FILE,
SRVUTIL_SERVER_NAME (default: hostname), SRVUTIL_AGENT_DIR, SRVUTIL_AGENT_CONFIG,
SRVUTIL_AGENT_CA_FILE, SRVUTIL_AGENT_SAMPLE_SECONDS, SRVUTIL_AGENT_UPLOAD_SECONDS.
See docs/agent.md.`;

interface ParsedArgs {
  command: string | null;
  flags: Set<string>;
  values: Map<string, string>;
  /** Flags passed through to loadAgentConfig. */
  configArgv: string[];
}

const BOOLEAN_FLAGS = new Set(["--once", "--dry-run", "--no-activate", "--help", "-h", "--version", "-V"]);
const VALUE_FLAGS = new Set(["--config", "--agent-dir", "--mode", "--target-dir"]);

export function parseAgentArgs(argv: readonly string[]): ParsedArgs {
  const parsed: ParsedArgs = { command: null, flags: new Set(), values: new Map(), configArgv: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.startsWith("--") ? arg.indexOf("=") : -1;
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if (BOOLEAN_FLAGS.has(name)) {
      parsed.flags.add(name === "-h" ? "--help" : name === "-V" ? "--version" : name);
    } else if (VALUE_FLAGS.has(name)) {
      const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined || value === "") throw new AgentUsageError(`${name} needs a value`);
      parsed.values.set(name, value);
      if (name === "--config" || name === "--agent-dir") parsed.configArgv.push(name, value);
    } else if (!arg.startsWith("-") && parsed.command === null) {
      parsed.command = arg;
    } else {
      throw new AgentUsageError(`unknown argument '${arg}' (see --help)`);
    }
  }
  return parsed;
}

export async function agentMain(argv: readonly string[]): Promise<number> {
  const args = parseAgentArgs(argv);
  if (args.flags.has("--version")) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  if (args.flags.has("--help") || args.command === null) {
    process.stdout.write(`${AGENT_HELP}\n`);
    return args.command === null && !args.flags.has("--help") ? 2 : 0;
  }
  const self = [process.execPath, fileURLToPath(import.meta.url)];
  switch (args.command) {
    case "run":
      return agentRunCommand({ once: args.flags.has("--once"), argv: args.configArgv });
    case "collect":
      return agentCollectCommand({ argv: args.configArgv });
    case "status":
      return agentStatusCommand({ argv: args.configArgv });
    case "install":
      return agentInstallCommand({
        command: self,
        mode: args.values.get("--mode"),
        dryRun: args.flags.has("--dry-run"),
        noActivate: args.flags.has("--no-activate"),
        targetDir: args.values.get("--target-dir"),
        argv: args.configArgv,
      });
    case "uninstall":
      return agentUninstallCommand({
        dryRun: args.flags.has("--dry-run"),
        noActivate: args.flags.has("--no-activate"),
        targetDir: args.values.get("--target-dir"),
        argv: args.configArgv,
      });
    default:
      throw new AgentUsageError(
        `unknown command '${args.command}' (run, collect, status, install, uninstall; see --help)`,
      );
  }
}

// Run only when executed directly (the bundle or `node --import tsx src/agent/main.ts`), not when imported.
const invokedPath = process.argv[1];
if (invokedPath !== undefined && fileURLToPath(import.meta.url) === (await realPath(invokedPath))) {
  try {
    process.exitCode = await agentMain(process.argv.slice(2));
  } catch (err) {
    // The same exit codes as `srvutil agent …` (src/errors.ts); the stack only for bugs.
    if (errorCategory(err) !== "internal" && err instanceof Error) {
      process.stderr.write(`srvutil-agent: ${err.message}\n`);
    } else {
      process.stderr.write(
        `srvutil-agent: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
    }
    process.exitCode = exitCodeOf(err);
  }
}

async function realPath(p: string): Promise<string> {
  const { realpathSync } = await import("node:fs");
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}
