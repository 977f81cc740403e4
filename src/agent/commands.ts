import { hostname } from "node:os";
import { resolve } from "node:path";
import { EXIT_CODE } from "../errors.js";
import { serializeMetricsCsv } from "../protocol/index.js";
import { platformCollector } from "./collector/index.js";
import { type AgentConfig, loadAgentConfig, serverNameFromHostname } from "./config.js";
import { runAgentDaemon } from "./daemon.js";
import { AgentConfigError, AgentUsageError } from "./errors.js";
import {
  applyInstall,
  applyUninstall,
  type CommandRunner,
  checkEnrolmentToken,
  enrolWithCentral,
  installPlan,
  parseInstallMode,
  settingsFiles,
  uninstallPlan,
  verifyAgainstCentral,
} from "./install/index.js";
import { oneLine } from "./log.js";
import { agentPaths, collectOneShotSample, runAgentOnce } from "./once.js";
import { defaultBinDir, executableName, pathModule } from "./paths.js";
import { rowsFromSample } from "./sample.js";
import { SpoolDirectory } from "./spool.js";
import { agentStatus, formatAgentStatus } from "./status.js";
import type { SelfUpdateContext } from "./update/apply.js";
import type { UploadSummary } from "./uploader.js";

/**
 * The agent's commands, shared by the standalone bundle (main.ts) and the
 * `srvutil agent …` commander wiring, so both behave identically.
 */

type Env = Readonly<Record<string, string | undefined>>;
type Print = (line: string) => void;

export interface RunCommandOptions {
  once: boolean;
  env?: Env;
  /** Raw flags (`--config`, `--agent-dir`) for loadAgentConfig. */
  argv?: readonly string[];
  print?: Print;
  /** For the daemon: stop on these signals (default SIGTERM and SIGINT). */
  signals?: readonly NodeJS.Signals[];
  /** This agent's own file, for self-update (the bundle and single executables); absent: none. */
  selfUpdate?: SelfUpdateContext | null;
}

/**
 * The daemon's exit code after a self-update swap or rollback: not 0, so
 * systemd (Restart=on-failure), launchd (KeepAlive SuccessfulExit=false) and
 * the scheduled task (restart on failure) start the agent's file again.
 */
export const RESTART_EXIT_CODE = 75;

/** `run [--once]`; resolves with the process exit code. */
export async function agentRunCommand(options: RunCommandOptions): Promise<number> {
  // One whole line each: cron and terminals interleave it with stderr's warnings.
  const print = options.print ?? ((l: string) => process.stdout.write(`${oneLine(l)}\n`));
  const config = loadAgentConfig(options.env ?? process.env, options.argv ?? []);
  if (options.once) {
    const result = await runAgentOnce(config);
    const u = result.upload;
    print(
      `sample ${result.spoolFile ?? "(none)"}: cpu ${result.sample.cpuPercent.toFixed(1)}% (${result.cpuSource.replaceAll("_", " ")}), ${result.rowsSpooled} disk row(s); ` +
        (u === null
          ? "upload skipped"
          : `uploaded ${u.uploadedFiles} file(s), ${u.pendingFiles} pending, ${u.rejectedFiles} rejected${u.stoppedBecause ? ` (${u.stoppedBecause})` : ""}`),
    );
    return onceExitCode(u);
  }
  const controller = new AbortController();
  const signals = options.signals ?? ["SIGTERM", "SIGINT"];
  const stop = () => controller.abort();
  for (const s of signals) process.once(s, stop);
  try {
    print(
      `srvutil agent running as ${config.serverName}; log: ${resolve(config.agentDir, "Logs", "agent.log")}`,
    );
    const summary = await runAgentDaemon(config, {
      signal: controller.signal,
      selfUpdate: options.selfUpdate ?? null,
    });
    print(`srvutil agent stopped after ${summary.samples} sample(s)`);
    if (summary.restart !== null) {
      print(
        `srvutil agent exits ${RESTART_EXIT_CODE} to be restarted (${summary.restart.replace("_", " ")})`,
      );
      return RESTART_EXIT_CODE;
    }
  } finally {
    for (const s of signals) process.removeListener(s, stop);
  }
  return 0;
}

/**
 * `run --once`'s exit code, so cron, a systemd timer and monitoring can tell
 * (docs/agent.md, Exit codes): 78 (EX_CONFIG) a setting is wrong and
 * waiting will not help; 69 (EX_UNAVAILABLE) the central does not answer
 * now, the data stays spooled; 1 the central refused a file's content (it is
 * in rejected/); 0 otherwise, also when another agent process was uploading.
 */
export function onceExitCode(upload: UploadSummary | null): number {
  if (upload === null) return 0;
  if (upload.failure === "configuration") return EXIT_CODE.bad_config;
  if (upload.failure === "unavailable") return EXIT_CODE.unavailable;
  return upload.rejectedFiles > 0 ? 1 : 0;
}

/**
 * `requeue`: moves every file of metrics/rejected/ back into the spool (and
 * drops its .error.txt), so the next upload sends it again, e.g. after a
 * central that refused it was fixed. Needs no central.
 */
export async function agentRequeueCommand(options: {
  env?: Env;
  argv?: readonly string[];
  print?: Print;
}): Promise<number> {
  const config = loadAgentConfig(options.env ?? process.env, options.argv ?? [], { requireCentral: false });
  const spool = new SpoolDirectory(agentPaths(config.agentDir).metrics, config.spool);
  const moved = await spool.requeueRejected();
  (options.print ?? ((l: string) => process.stdout.write(`${l}\n`)))(
    moved === 0
      ? `nothing to requeue: ${spool.rejectedDir} holds no spool file`
      : `requeued ${moved} file(s) from ${spool.rejectedDir}; the next upload sends them`,
  );
  return 0;
}

/** `collect`: one sample printed as CSV v1, nothing spooled or sent (for checking and benchmarks). */
export async function agentCollectCommand(options: {
  env?: Env;
  argv?: readonly string[];
  print?: Print;
}): Promise<number> {
  const config: AgentConfig = loadAgentConfig(options.env ?? process.env, options.argv ?? [], {
    requireCentral: false,
  });
  const { sample } = await collectOneShotSample(config, platformCollector(), undefined, false);
  const out = serializeMetricsCsv(rowsFromSample(sample, config.serverName));
  (options.print ?? ((l: string) => process.stdout.write(`${l}\n`)))(out.trimEnd());
  return 0;
}

/** `status`: spool backlog, rejected files, last upload and last problem (no central needed). */
export async function agentStatusCommand(options: {
  env?: Env;
  argv?: readonly string[];
  print?: Print;
}): Promise<number> {
  const config = loadAgentConfig(options.env ?? process.env, options.argv ?? [], { requireCentral: false });
  const status = await agentStatus(config);
  (options.print ?? ((l: string) => process.stdout.write(`${l}\n`)))(formatAgentStatus(status));
  return 0;
}

export interface InstallCommandOptions {
  /** Program and leading arguments that start this agent (e.g. [node, bundle.mjs] or [node, srvutil.js, agent]). */
  command: readonly string[];
  /** Running as the single executable: this file is copied to binDir and the units run the copy. */
  executable?: string | null;
  /** Where the executable goes (default /usr/local/bin, %ProgramFiles%\\srvutil). */
  binDir?: string;
  mode?: string;
  dryRun?: boolean;
  /** Write files but do not call systemctl/launchctl/schtasks. */
  noActivate?: boolean;
  /** Check URL, token and server name against the central first (default true). */
  verify?: boolean;
  /** An enrolment token (srve_…): trade it for this server's agent token first, unless one is stored already. */
  enrol?: string;
  targetDir?: string;
  env?: Env;
  argv?: readonly string[];
  platform?: NodeJS.Platform;
  print?: Print;
  /** Runs icacls, systemctl, schtasks, … (default: spawnSync, output shown; tests record the calls). */
  runCommand?: CommandRunner;
}

export async function agentInstallCommand(options: InstallCommandOptions): Promise<number> {
  if (!options.dryRun && options.command.some((part) => /\.[cm]?ts$/.test(part))) {
    // A service manager runs plain node: a TypeScript entry point would fail at every start.
    throw new AgentUsageError(
      "install from the built CLI (bin/srvutil.js after npm run build) or from dist/srvutil-agent.mjs, not from TypeScript sources",
    );
  }
  const print = options.print ?? ((l: string) => process.stdout.write(`${l}\n`));
  const platform = options.platform ?? process.platform;
  const env = options.env ?? process.env;
  let config = loadAgentConfig(env, options.argv ?? [], { requireCentral: false, platform });
  const mode = parseInstallMode(options.mode);
  if (options.enrol !== undefined)
    config = await enrolFirst(config, options.enrol, options.dryRun ?? false, print);
  const central = config.centralUrl !== "" && config.token !== "";
  if (options.verify ?? true) {
    if (central) {
      const nameWasGiven = config.serverName !== serverNameFromHostname(hostname());
      await verifyAgainstCentral(config, nameWasGiven);
      print(`central ${config.centralUrl} accepts the token for server ${config.serverName}`);
      if (!options.dryRun) {
        const { pinCentralKey } = await import("./update/pin.js");
        const pinned = await pinCentralKey(config).catch((err: Error) => `not pinned (${err.message})`);
        print(`self-update key: ${pinned}`);
      }
    } else if (!options.dryRun) {
      throw new AgentConfigError(
        "install needs the central's URL and this server's token to leave an agent that reports: " +
          "set SRVUTIL_CENTRAL_URL and SRVUTIL_AGENT_TOKEN_FILE (or put them in agent.json), " +
          "or pass --no-verify to install without them",
      );
    } else {
      print("# not checked against the central: SRVUTIL_CENTRAL_URL or the token is not set");
    }
  }
  const path = pathModule(platform);
  const installed =
    options.executable != null
      ? path.join(options.binDir ?? defaultBinDir(platform, env), executableName(platform))
      : null;
  const settings = settingsFiles(config);
  const plan = installPlan(
    {
      mode,
      command: installed !== null ? [installed] : options.command,
      agentDir: config.agentDir,
      configFile: config.configFile,
      intervalMinutes: Math.max(1, Math.round(config.uploadIntervalSeconds / 60)),
    },
    platform,
    options.targetDir,
  );
  plan.files.unshift(...settings.files);
  if (installed !== null) plan.copies = [{ from: options.executable!, to: installed }];
  await applyInstall(plan, {
    dryRun: options.dryRun ?? false,
    activate: !options.noActivate,
    print,
    ...(options.runCommand ? { runCommand: options.runCommand } : {}),
  });
  return 0;
}

export async function agentUninstallCommand(
  options: Omit<InstallCommandOptions, "command" | "mode" | "executable" | "verify"> & {
    /** Also delete the executable that install copied (the single executable's uninstall). */
    removeExecutable?: boolean;
  },
): Promise<number> {
  const platform = options.platform ?? process.platform;
  const env = options.env ?? process.env;
  const config = loadAgentConfig(env, options.argv ?? [], { requireCentral: false, platform });
  const plan = uninstallPlan(platform, options.targetDir, config.agentDir);
  if (options.removeExecutable) {
    const installed = pathModule(platform).join(
      options.binDir ?? defaultBinDir(platform, env),
      executableName(platform),
    );
    plan.copies = [{ from: installed, to: installed }];
  }
  await applyUninstall(plan, {
    dryRun: options.dryRun ?? false,
    activate: !options.noActivate,
    ...(options.print ? { print: options.print } : {}),
    ...(options.runCommand ? { runCommand: options.runCommand } : {}),
  });
  return 0;
}

/**
 * `install --enrol`: a token stored already (a second run) wins and the
 * enrolment token is not spent; otherwise the central trades it for this
 * server's agent token, which install then saves as it saves any token.
 */
async function enrolFirst(
  config: AgentConfig,
  enrolmentToken: string,
  dryRun: boolean,
  print: Print,
): Promise<AgentConfig> {
  checkEnrolmentToken(enrolmentToken);
  if (config.centralUrl === "") {
    throw new AgentConfigError("install --enrol needs the central's URL: set SRVUTIL_CENTRAL_URL");
  }
  if (config.token !== "") {
    print(
      `this server has an agent token already${config.tokenFile === null ? "" : ` (${config.tokenFile})`}: enrolment skipped, the enrolment token was not used`,
    );
    return config;
  }
  if (dryRun) {
    print(
      `# would enrol server ${config.serverName} at ${config.centralUrl} (not in --dry-run: it would spend a use)`,
    );
    return config;
  }
  const token = await enrolWithCentral(config, enrolmentToken);
  print(`enrolled server ${config.serverName} at ${config.centralUrl}: received its own agent token`);
  return { ...config, token };
}
