import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { applyCentralInstall, applyCentralUninstall, centralStatus } from "../central/install/index.js";

// What `srvutil central install|uninstall|status` runs (wired in ./central.ts, loaded only then).

export interface CentralInstallFlags {
  dryRun: boolean;
  start: boolean;
  user?: string;
  unitDir?: string;
  envFile?: string;
}

/** node + this package's bin/srvutil.js: how the service starts the CLI that installed it. */
function serviceCommand(): string[] {
  const bin = fileURLToPath(new URL("../../bin/srvutil.js", import.meta.url));
  return [process.execPath, bin];
}

export async function centralInstallCommand(flags: CentralInstallFlags): Promise<void> {
  const command = serviceCommand();
  const built = fileURLToPath(new URL("../../dist/cli/srvutil.cjs", import.meta.url));
  if (!existsSync(built)) {
    process.stderr.write(
      `srvutil: warning: ${built} is missing; run \`npm run build\` before the service starts\n`,
    );
  }
  await applyCentralInstall({ platform: process.platform, env: process.env, command, ...flags });
  if (!flags.dryRun && flags.start) {
    process.stdout.write(
      "Check it with `srvutil central status`; its first start only records the weekly schedule.\n",
    );
  }
}

export async function centralUninstallCommand(flags: CentralInstallFlags): Promise<void> {
  await applyCentralUninstall({ platform: process.platform, env: process.env, ...flags });
}

export async function centralStatusCommand(
  flags: Pick<CentralInstallFlags, "unitDir" | "envFile" | "user">,
): Promise<number> {
  const status = centralStatus({ platform: process.platform, env: process.env, ...flags });
  for (const line of status.lines) process.stdout.write(`${line}\n`);
  return status.installed && status.running ? 0 : 3; // 3: "not running", as LSB status commands answer
}
