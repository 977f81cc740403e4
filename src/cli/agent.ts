import { realpathSync } from "node:fs";
import type { Command } from "commander";

/**
 * `srvutil agent …`: thin commander wiring over src/agent/commands.ts (the
 * standalone bundle, src/agent/main.ts, calls the same functions). The
 * commands (collectors, spool, uploader, installers) load only when one runs,
 * so `srvutil --help` and the other commands start fast.
 */
const agentCommands = () => import("../agent/commands.js");

interface CommonOptions {
  config?: string;
  agentDir?: string;
}

function configArgv(o: CommonOptions): string[] {
  const argv: string[] = [];
  if (o.config) argv.push("--config", o.config);
  if (o.agentDir) argv.push("--agent-dir", o.agentDir);
  return argv;
}

/** How a service manager starts this same CLI: node, the srvutil script, `agent`. */
function selfCommand(): string[] {
  const script = process.argv[1];
  return [process.execPath, script ? realpathSync(script) : "srvutil", "agent"];
}

function setExit(code: number): void {
  if (code !== 0) process.exitCode = code;
}

export function registerAgentCommands(program: Command): void {
  const agent = program
    .command("agent")
    .description("Collect CPU, memory and disk metrics, spool them as CSV and upload them to the central");
  const common = (cmd: Command) =>
    cmd
      .option("--config <file>", "agent.json to read (default <agent dir>/agent.json)")
      .option(
        "--agent-dir <dir>",
        "agent directory (default $SRVUTIL_AGENT_DIR, else /var/lib/srvutil-agent or the platform's place)",
      );

  common(
    agent
      .command("run")
      .description("run as a daemon (sample every 60 s, upload every 20 min), or once with --once")
      .option(
        "--once",
        "collect one sample, upload the spool, exit (for cron / Task Scheduler); exit 0 all sent, 78 a setting is wrong, 69 the central does not answer, 1 a file was rejected",
      ),
  ).action(async (o: CommonOptions & { once?: boolean }) => {
    setExit(await (await agentCommands()).agentRunCommand({ once: o.once === true, argv: configArgv(o) }));
  });

  common(agent.command("collect").description("print one sample as CSV v1 (nothing spooled or sent)")).action(
    async (o: CommonOptions) => {
      setExit(await (await agentCommands()).agentCollectCommand({ argv: configArgv(o) }));
    },
  );

  common(
    agent
      .command("status")
      .description("show the spool backlog, rejected files, last upload and last problem"),
  ).action(async (o: CommonOptions) => {
    setExit(await (await agentCommands()).agentStatusCommand({ argv: configArgv(o) }));
  });

  common(
    agent
      .command("requeue")
      .description("move the files of metrics/rejected/ back into the spool, to be sent again"),
  ).action(async (o: CommonOptions) => {
    setExit(await (await agentCommands()).agentRequeueCommand({ argv: configArgv(o) }));
  });

  common(
    agent
      .command("install")
      .description("install as a systemd service/timer, launchd daemon or Windows scheduled task")
      .option("--dry-run", "print what would be written and run, change nothing")
      .option("--mode <mode>", "service (daemon) or timer (run --once every 20 min)", "service")
      .option("--target-dir <dir>", "write the unit/plist/task XML here instead of the system location")
      .option("--no-activate", "write the files but do not call systemctl/launchctl/schtasks")
      .option("--no-verify", "do not check URL, token and server name against the central first")
      .option("--enrol <token>", "trade an enrolment token (srve_…) for this server's agent token first"),
  ).action(
    async (
      o: CommonOptions & {
        dryRun?: boolean;
        mode: string;
        targetDir?: string;
        activate: boolean;
        verify: boolean;
        enrol?: string;
      },
    ) => {
      setExit(
        await (await agentCommands()).agentInstallCommand({
          command: selfCommand(),
          mode: o.mode,
          dryRun: o.dryRun === true,
          noActivate: !o.activate,
          verify: o.verify,
          ...(o.enrol === undefined ? {} : { enrol: o.enrol }),
          ...(o.targetDir ? { targetDir: o.targetDir } : {}),
          argv: configArgv(o),
        }),
      );
    },
  );

  common(
    agent
      .command("uninstall")
      .description("stop and remove what `agent install` created")
      .option("--dry-run", "print what would be removed, change nothing")
      .option("--target-dir <dir>", "where install wrote its files, if not the system location")
      .option("--no-activate", "only delete the files, do not call systemctl/launchctl/schtasks"),
  ).action(async (o: CommonOptions & { dryRun?: boolean; targetDir?: string; activate: boolean }) => {
    setExit(
      await (await agentCommands()).agentUninstallCommand({
        dryRun: o.dryRun === true,
        noActivate: !o.activate,
        ...(o.targetDir ? { targetDir: o.targetDir } : {}),
        argv: configArgv(o),
      }),
    );
  });
}
