import type { Command } from "commander";
import { useEnvFile } from "./central.js";
import { registerReportBuildCommand } from "./report-build.js";
import { registerReportDeliveryCommands } from "./report-delivery.js";

export function registerReportCommands(program: Command): void {
  const report = program
    .command("report")
    .description("Build and deliver weekly reports")
    .option("--settings <file>", "settings of an installed central (see `srvutil central --help`)");
  useEnvFile(report);
  registerReportBuildCommand(report);
  registerReportDeliveryCommands(report);
}
