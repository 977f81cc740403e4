/**
 * The standalone agent's command line: plain argv parsing, no dependencies.
 * Shared by the single-file bundle (main.ts → dist/srvutil-agent.mjs, run
 * with `node`) and the single executable (sea.ts → dist/bin/srvutil-agent-*),
 * which differ only in how a service manager starts them again (`context`).
 */

import { errorCategory, errorCodeOf, exitCodeOf } from "../errors.js";
import {
  agentCollectCommand,
  agentInstallCommand,
  agentRequeueCommand,
  agentRunCommand,
  agentStatusCommand,
  agentUninstallCommand,
} from "./commands.js";
import { AgentUsageError } from "./errors.js";
import type { SelfUpdateContext } from "./update/apply.js";
import { AGENT_VERSION } from "./version.js";

export const AGENT_HELP = `Usage: srvutil-agent <command> [options]

Collects CPU, memory and disk usage, spools it as CSV v1 and uploads it to the srvutil central.

Commands:
  run [--once]           run as a daemon (sample every 60 s, upload every 20 min);
                         --once: one sample, then upload the spool (for cron/Task Scheduler);
                         exits 0 all sent, 78 a setting is wrong (token, URL, TLS),
                         69 the central does not answer now, 1 a file was rejected
  collect                print one sample as CSV on stdout (nothing spooled or sent)
  status                 spool backlog, rejected files, last upload, last problem
  requeue                move the files of metrics/rejected/ back into the spool
  install [--dry-run] [--mode service|timer] [--target-dir DIR] [--bin-dir DIR]
          [--no-activate] [--no-verify] [--enrol TOKEN]
                         check the settings against the central, save them to
                         <agent dir>/agent.json and install a systemd service/timer,
                         launchd daemon or scheduled task (the executable is copied
                         to /usr/local/bin or Program Files first); --enrol: trade
                         an enrolment token for this server's agent token first
  uninstall [--dry-run] [--target-dir DIR] [--bin-dir DIR] [--no-activate]
                         remove what install created (the agent dir stays)

Options for every command:
  --config FILE          agent.json to read (default <agent dir>/agent.json)
  --agent-dir DIR        agent directory (default $SRVUTIL_AGENT_DIR, else /var/lib/srvutil-agent,
                         /Library/Application Support/srvutil or %ProgramData%\\srvutil)
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

const BOOLEAN_FLAGS = new Set([
  "--once",
  "--dry-run",
  "--no-activate",
  "--no-verify",
  "--help",
  "-h",
  "--version",
  "-V",
]);
const VALUE_FLAGS = new Set(["--config", "--agent-dir", "--mode", "--target-dir", "--bin-dir", "--enrol"]);

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

/** How this agent was started, so `install` can make a service manager start it the same way. */
export interface ProgramContext {
  /** Program and leading arguments: [node, /path/srvutil-agent.mjs], or [the executable]. */
  self: readonly string[];
  /** The single executable's own file when running as one (install copies it), else null. */
  executable: string | null;
}

export async function agentMain(argv: readonly string[], context: ProgramContext): Promise<number> {
  const args = parseAgentArgs(argv);
  if (args.flags.has("--version")) {
    process.stdout.write(`${AGENT_VERSION}\n`);
    return 0;
  }
  if (args.flags.has("--help") || args.command === null) {
    process.stdout.write(`${AGENT_HELP}\n`);
    return args.command === null && !args.flags.has("--help") ? 2 : 0;
  }
  switch (args.command) {
    case "run":
      return agentRunCommand({
        once: args.flags.has("--once"),
        argv: args.configArgv,
        selfUpdate: selfUpdateContext(context),
      });
    case "collect":
      return agentCollectCommand({ argv: args.configArgv });
    case "status":
      return agentStatusCommand({ argv: args.configArgv });
    case "requeue":
      return agentRequeueCommand({ argv: args.configArgv });
    case "install":
      return agentInstallCommand({
        command: context.self,
        executable: context.executable,
        mode: args.values.get("--mode"),
        dryRun: args.flags.has("--dry-run"),
        noActivate: args.flags.has("--no-activate"),
        verify: !args.flags.has("--no-verify"),
        targetDir: args.values.get("--target-dir"),
        binDir: args.values.get("--bin-dir"),
        enrol: args.values.get("--enrol"),
        argv: args.configArgv,
      });
    case "uninstall":
      return agentUninstallCommand({
        dryRun: args.flags.has("--dry-run"),
        noActivate: args.flags.has("--no-activate"),
        targetDir: args.values.get("--target-dir"),
        binDir: context.executable !== null ? args.values.get("--bin-dir") : undefined,
        removeExecutable: context.executable !== null,
        argv: args.configArgv,
      });
    default:
      throw new AgentUsageError(
        `unknown command '${args.command}' (run, collect, status, requeue, install, uninstall; see --help)`,
      );
  }
}

/** The file self-update replaces: the single executable, or the bundle run by node; null otherwise. */
export function selfUpdateContext(context: ProgramContext): SelfUpdateContext | null {
  if (context.executable !== null) {
    const os = { linux: "linux", darwin: "darwin", win32: "windows" }[process.platform as string];
    if (os === undefined) return null;
    return { target: context.executable, platform: `${os}-${process.arch}`, runner: [] };
  }
  const [node, bundle] = context.self;
  if (context.self.length === 2 && node !== undefined && bundle?.endsWith(".mjs")) {
    return { target: bundle, platform: "node", runner: [node] };
  }
  return null;
}

/** Runs one command line and sets process.exitCode by the error's category (src/errors.ts), as `srvutil agent …` does. */
export async function runAgentProgram(argv: readonly string[], context: ProgramContext): Promise<void> {
  try {
    process.exitCode = await agentMain(argv, context);
  } catch (err) {
    // One line for what the operator can fix; the stack only for bugs.
    if (errorCategory(err) !== "internal" && err instanceof Error) {
      process.stderr.write(`srvutil-agent: ${err.message} (${errorCodeOf(err)})\n`);
    } else {
      process.stderr.write(
        `srvutil-agent: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
    }
    process.exitCode = exitCodeOf(err);
  }
}
