import type { Command } from "commander";

export function registerCentralCommands(program: Command): void {
  void program;
}
