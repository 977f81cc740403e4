import type { Command } from "commander";

// OWNER: report helper — `srvutil report build`.
export function registerReportBuildCommand(report: Command): void {
  void report;
}
