#!/usr/bin/env node
import { registerAgentCommands } from "./agent.js";
import { registerAlertsCommands } from "./alerts.js";
import { registerCentralCommands } from "./central.js";
import { Command, CommanderError } from "./commander.js";
import { registerDemoCommand } from "./demo.js";
import { registerReportCommands } from "./report.js";
import { versionLine } from "./version.js";

const program = new Command()
  .name("srvutil")
  .description("Server utilization monitoring: agent, central server, weekly report")
  .version(versionLine(), "-V, --version", "print the version (include it in bug reports)")
  .showHelpAfterError()
  .exitOverride();

registerCentralCommands(program);
registerAgentCommands(program);
registerReportCommands(program);
registerAlertsCommands(program);
registerDemoCommand(program);

// No top-level await: this file is the entry of a CommonJS bundle (scripts/build-cli.ts).
program.parseAsync(process.argv).catch(async (err: unknown) => {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  // Loaded lazily, like the commands: the error classes must be the very ones
  // the commands throw (src/errors.ts on the lazy side), or `instanceof` would
  // see every error as internal.
  process.exit((await import("./errors.js")).reportCliError(err));
});
