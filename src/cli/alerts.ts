import type { Command } from "commander";
import { useEnvFile } from "./central.js";

/** The alerts code (channels, storage drivers) loads only when a command runs. */
const run = () => import("./alerts-run.js");

/** `srvutil alerts test|list|ack|silence …` (docs/alerts.md). */
export function registerAlertsCommands(program: Command): void {
  const alerts = program
    .command("alerts")
    .description("Alerts between Mondays: test a channel, list alerts, acknowledge, silence")
    .option("--settings <file>", "settings of an installed central (see `srvutil central --help`)");
  useEnvFile(alerts);

  alerts
    .command("test")
    .description("Send a test notification to a channel of SRVUTIL_ALERTS_CONFIG and print what it answered")
    .argument("<channel>", "the channel's name")
    .action(async (channel: string) => {
      process.exitCode = await (await run()).testCommand(channel);
    });

  alerts
    .command("list")
    .description("Alerts firing and pending now; with --all, the history too (newest first)")
    .option("--all", "every state, resolved included", false)
    .option("--since <span>", "with --all: only alerts open at some point in the last span (7d, 12h)", "7d")
    .option("--server <name>", "only this server")
    .option("--limit <n>", "at most this many", "100")
    .option("--json", "print JSON instead of a table", false)
    .action(async (opts: { all: boolean; since: string; server?: string; limit: string; json: boolean }) => {
      await (await run()).listCommand(opts);
    });

  alerts
    .command("ack")
    .description("Acknowledge a firing alert: it keeps firing and resolves as usual, without reminders")
    .argument("<id>", "the alert's id (alerts list)")
    .option("--note <text>", "what is being done")
    .option("--by <name>", "who acknowledges (default: the login name)")
    .action(async (id: string, opts: { note?: string; by?: string }) => {
      process.exitCode = await (await run()).ackCommand(id, opts);
    });

  const silence = alerts
    .command("silence")
    .description("Silences: alerts they match send nothing while they last");
  silence
    .command("add")
    .description("Silence alerts of a server glob, a rule, a group, or any mix")
    .option("--server <glob>", "server name glob, e.g. 'db-*'")
    .option(
      "--rule <rule>",
      "only this rule (server_silent, disk_full_soon, disk_nearly_full, cpu_pressure, memory_pressure, memory_trend)",
    )
    .option("--group <name>", "a group of SRVUTIL_GROUPS_FILE")
    .requiredOption("--for <span>", "how long, e.g. 2h, 30m, 3d")
    .requiredOption("--reason <text>", "why (shown wherever the alert is)")
    .option("--by <name>", "who silences (default: the login name)")
    .action(
      async (opts: {
        server?: string;
        rule?: string;
        group?: string;
        for: string;
        reason: string;
        by?: string;
      }) => {
        await (await run()).silenceAddCommand(opts);
      },
    );
  silence
    .command("list")
    .description("Silences in force (with --all, ended ones too)")
    .option("--all", "ended ones too", false)
    .option("--json", "print JSON instead of a table", false)
    .action(async (opts: { all: boolean; json: boolean }) => {
      await (await run()).silenceListCommand(opts);
    });
  silence
    .command("end")
    .description("End a silence now")
    .argument("<id>", "the silence's id (silence list)")
    .action(async (id: string) => {
      process.exitCode = await (await run()).silenceEndCommand(id);
    });
}
