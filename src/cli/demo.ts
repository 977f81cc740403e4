import type { Command } from "commander";
import type { DemoOptions } from "./demo-run.js";

export function registerDemoCommand(program: Command): void {
  program
    .command("demo")
    .description(
      "Run the whole system on this machine: a central with SQLite in $SRVUTIL_DATA_DIR (./data), " +
        "a simulated fleet of demo-* servers uploading history through the real API, a real agent for " +
        "this machine, last week's report (HTML + JSON) and its email (outbox unless SMTP is set)",
    )
    .option("--no-serve", "exit after the report instead of serving until Ctrl-C")
    .option("--weeks <n>", "weeks of simulated history before this week", "4")
    .action(async (opts: DemoOptions) => {
      await (await import("./demo-run.js")).runDemo(opts);
    });
}
