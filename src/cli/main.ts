#!/usr/bin/env node
import { registerAgentCommands } from "./agent.js";
import { registerCentralCommands } from "./central.js";
import { Command, CommanderError } from "./commander.js";
import { registerDemoCommand } from "./demo.js";
import { reportCliError } from "./errors.js";
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
registerDemoCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  process.exit(reportCliError(err));
}
