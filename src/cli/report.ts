import type { Command } from "commander";
import { registerReportBuildCommand } from "./report-build.js";
import { registerReportDeliveryCommands } from "./report-delivery.js";

export function registerReportCommands(program: Command): void {
  const report = program.command("report").description("Build and deliver weekly reports");
  registerReportBuildCommand(report);
  registerReportDeliveryCommands(report);
}
