import type { Command } from "commander";

// OWNER: delivery helper — `srvutil report send`, `srvutil report status`.
export function registerReportDeliveryCommands(report: Command): void {
  void report;
}
