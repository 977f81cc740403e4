import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/**
 * The command that runs the CLI from source (through tsx), so tests exercise
 * the current code without a build step.
 */
export function srvutilCommand(args: readonly string[]): [string, string[]] {
  return [process.execPath, ["--import", "tsx", path.join(REPO_ROOT, "src/cli/main.ts"), ...args]];
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `srvutil ARGS` to completion (bounded by `timeoutMs`). */
export function runCli(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  timeoutMs = 60_000,
): Promise<CliResult> {
  const [cmd, argv] = srvutilCommand(args);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { env, cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
