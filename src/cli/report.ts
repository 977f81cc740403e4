import type { Command } from "commander";

export function registerReportCommands(program: Command): void {
  void program;
}
