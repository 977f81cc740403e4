import type { Command } from "commander";
import type { DeliveryState } from "../central/delivery/store.js";
import { Option } from "./commander.js";
import { VERSION } from "./version.js";

/** The delivery code (mail, croner, storage drivers) loads only when a command runs. */
const run = () => import("./report-delivery-run.js");

/** `srvutil report send`, `srvutil report status`, `srvutil report test-mail`. */
export function registerReportDeliveryCommands(report: Command): void {
  report
    .command("test-mail")
    .description(
      "Send a small test message through SRVUTIL_SMTP_URL and print exactly what the SMTP server answered",
    )
    .requiredOption("--to <address>", "recipient (repeatable)", collect, [])
    .action(async (opts: { to: string[] }) => {
      process.exitCode = await (await import("./report-test-mail-run.js")).testMailCommand({
        ...opts,
        version: VERSION,
      });
    });

  report
    .command("send")
    .description(
      "Send a week's report to each group now (SMTP from SRVUTIL_SMTP_URL, else an .eml in <data>/outbox). " +
        "Recorded in the database like scheduled deliveries; a failed attempt is retried by `central serve`.",
    )
    .requiredOption("--week <week>", "ISO week (2026-W47) or 'last' (the last complete week)")
    .option("--group <name>", "only this group (repeatable); default all groups", collect, [])
    .option(
      "--resend",
      "send again even if already sent (same Message-ID); failed ones are retried without it",
      false,
    )
    .action(async (opts: { week: string; group: string[]; resend: boolean }) => {
      process.exitCode = await (await run()).sendCommand(opts);
    });

  report
    .command("status")
    .description("List recorded report deliveries (newest week first)")
    .option("--week <week>", "only this ISO week")
    .option("--group <name>", "only this group")
    .addOption(
      new Option("--state <state>", "only this state").choices(["pending", "sending", "sent", "failed"]),
    )
    .option("--limit <n>", "at most this many rows", "50")
    .option("--json", "print JSON instead of a table", false)
    .action(
      async (opts: {
        week?: string;
        group?: string;
        state?: DeliveryState;
        limit: string;
        json: boolean;
      }) => {
        await (await run()).statusCommand(opts);
      },
    );
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
