import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { AgentCatalog, BUILD_COMMAND, defaultAgentDistDirs } from "../central/agent-dist/catalog.js";
import { applyCentralInstall, applyCentralUninstall, centralStatus } from "../central/install/index.js";
import { UnavailableError } from "../errors.js";

// What `srvutil central install|uninstall|status` runs (wired in ./central.ts, loaded only then).

export interface CentralInstallFlags {
  dryRun: boolean;
  start: boolean;
  user?: string;
  unitDir?: string;
  envFile?: string;
  /** Build the agent executables and bundle first (`npm run build:agent-bin`, `npm run build:agent`). */
  buildAgents?: boolean;
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
  const { buildAgents, ...serviceFlags } = flags;
  await agentFiles(buildAgents === true, flags.dryRun);
  await applyCentralInstall({ platform: process.platform, env: process.env, command, ...serviceFlags });
  if (!flags.dryRun && flags.start) {
    process.stdout.write(
      "Check it with `srvutil central status`; its first start only records the weekly schedule.\n",
    );
  }
}

/**
 * The agent files GET /agent/{platform} serves (the one-command install needs
 * them): built here with --build-agents, in this checkout, before the service
 * is installed; otherwise the missing ones are named with the command.
 */
async function agentFiles(build: boolean, dryRun: boolean): Promise<void> {
  const root = resolve(fileURLToPath(new URL("../../", import.meta.url)));
  const catalog = new AgentCatalog(defaultAgentDistDirs());
  if (build) {
    if (dryRun) {
      process.stdout.write(`# would run in ${root}: ${BUILD_COMMAND}\n`);
      return;
    }
    for (const script of ["build:agent-bin", "build:agent"]) {
      process.stdout.write(`$ npm run ${script}\n`);
      const r = spawnSync("npm", ["run", "--silent", script], { cwd: root, stdio: "inherit" });
      if (r.status !== 0) {
        throw new UnavailableError(
          `npm run ${script} failed (${r.error?.message ?? `exit ${r.status}`}); the service is not installed. ` +
            "It fetches Node runtimes from the npm registry on first use (docs/agent.md)",
        );
      }
    }
    return;
  }
  const missing = await catalog.missing();
  if (missing.length > 0) {
    process.stderr.write(
      `srvutil: warning: the agent downloads for ${missing.join(", ")} are not built, so the one-command ` +
        `install (GET /install.sh) cannot serve them: run \`${BUILD_COMMAND}\` in ${root}, or install with --build-agents\n`,
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
