import type { Command } from "commander";

export function registerAgentCommands(program: Command): void {
  void program;
}
