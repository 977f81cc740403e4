import type { Command } from "commander";
import { VERSION } from "./version.js";

// The implementations (config schema, tokens, storage drivers, fastify) load
// only when a central command runs, so `srvutil --help` and `srvutil agent …`
// start fast.
const run = () => import("./central-run.js");

// Every upload fsyncs its raw file on libuv's threadpool. With the default 4
// threads, 4 fsyncs are in flight at once and the rest queue behind them;
// with 16 the file system folds concurrent fsyncs into shared journal
// commits. Must be set before the pool's first use, hence at import time.
process.env.UV_THREADPOOL_SIZE ??= "16";

/**
 * Applies `--settings FILE` (an option of the command group) before any of
 * its commands runs, except `skip` (they read the option themselves).
 */
export function useEnvFile(group: Command, skip: readonly string[] = []): void {
  group.hook("preAction", async (self, action) => {
    const file = (self.opts() as { settings?: string }).settings;
    if (file === undefined || skip.includes(action.name())) return;
    (await import("./env-file-run.js")).applyEnvFile(file);
  });
}

/** `srvutil central …`: serve, token add|list|revoke, enrol create|list|revoke, agents auto-update, tags set|unset|list, user add|list|remove, import, migrate, rebuild, install|uninstall|status, backup|restore. */
export function registerCentralCommands(program: Command): void {
  const central = program
    .command("central")
    .description("The central server: API, storage, tokens, service, backups")
    .option(
      "--settings <file>",
      "settings of an installed central (`central install` writes it); as root, run as the data directory's owner",
    );
  useEnvFile(central, ["install", "uninstall", "status"]);

  central
    .command("serve")
    .description(
      "Run the API (POST /api/v1/metrics, read API, /healthz, /readyz, /metrics), the web dashboard at / and the report scheduler until SIGTERM/SIGINT",
    )
    .action(async () => {
      await (await run()).serveCommand(VERSION);
    });

  const token = central
    .command("token")
    .description(
      "Manage API tokens (agent: upload as one server; viewer: read API; relay: write for the servers of a glob)",
    );

  token
    .command("add")
    .description("Create a token and print it (alone on the last line); it is shown only once")
    .argument("<name>", "server name the agent token is bound to (or the viewer's or relay's name)")
    .option(
      "--role <role>",
      "agent (upload as NAME), viewer (read API) or relay (Prometheus, OTLP, Telegraf, collectd for --servers)",
      "agent",
    )
    .option("--servers <glob>", "relay only: the server names it may write for, such as 'web-*' or '*'")
    .option(
      "--groups <names>",
      "viewer only: read only the servers of these groups of SRVUTIL_GROUPS_FILE, comma-separated (A,B)",
    )
    .action(async (name: string, opts: { role: string; servers?: string; groups?: string }) => {
      await (await run()).tokenAddCommand(name, opts.role, opts.servers, opts.groups);
    });

  token
    .command("list")
    .description("List tokens: role, name, id, created, last used (to the minute), status; never the secrets")
    .action(async () => {
      await (await run()).tokenListCommand();
    });

  token
    .command("revoke")
    .description(
      "Revoke every active token of NAME, or with --id only that one (rotation: add the new token, switch the agent, revoke the old one)",
    )
    .argument("<name>", "server name (or viewer or relay name with --role)")
    .option("--role <role>", "agent, viewer or relay", "agent")
    .option("--id <id>", "revoke only this token (its TOKEN ID in `token list`)")
    .action(async (name: string, opts: { role: string; id?: string }) => {
      await (await run()).tokenRevokeCommand(name, opts.role, opts.id);
    });

  // Enrolment tokens (src/cli/central-enrol-run.ts, loaded only when one of these runs).
  const enrolRun = () => import("./central-enrol-run.js");
  const enrol = central
    .command("enrol")
    .description(
      "Enrolment tokens: a new server trades one for its own agent token (`agent install --enrol`)",
    );
  enrol
    .command("create")
    .description("Create an enrolment token and print it (alone on the last line); it is shown only once")
    .requiredOption("--servers <glob>", "the server names it may enrol, such as 'web-*' or '*'")
    .option("--uses <n>", "how many servers it may enrol", "1")
    .option("--expires <duration>", "how long it is valid: 30m, 24h, 7d (at most 365d)", "24h")
    .option("--allow-reenrol", "may enrol a name that has an agent token already (that token is revoked)")
    .option(
      "--tag <key=value>",
      "a tag for the servers it enrols (repeatable; kept for the tags feature)",
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .action(
      async (opts: {
        servers: string;
        uses: string;
        expires: string;
        allowReenrol?: boolean;
        tag?: string[];
      }) => {
        await (await enrolRun()).enrolCreateCommand(opts);
      },
    );
  enrol
    .command("list")
    .description(
      "List enrolment tokens (id, glob, uses, expiry, state; never the secrets) and the last enrolments",
    )
    .action(async () => {
      await (await enrolRun()).enrolListCommand();
    });
  enrol
    .command("revoke")
    .description("Revoke an enrolment token; the servers it enrolled keep their agent tokens")
    .argument("<id>", "its TOKEN ID in `enrol list`")
    .action(async (id: string) => {
      await (await enrolRun()).enrolRevokeCommand(id);
    });

  // Agents' auto-update policy (src/cli/central-agents-run.ts, loaded only when it runs).
  central
    .command("agents")
    .description("The agents the central serves")
    .command("auto-update")
    .description(
      "Whether agents update themselves, for the fleet or a group (--group); without a setting, prints the policy per group",
    )
    .argument("[setting]", "on, off, or default (the fleet: SRVUTIL_AGENT_AUTO_UPDATE; a group: the fleet's)")
    .option("--group <name>", "a group of the groups file (SRVUTIL_GROUPS_FILE) instead of the fleet")
    .action(async (setting: string | undefined, opts: { group?: string }) => {
      await (await import("./central-agents-run.js")).autoUpdateCommand(setting, opts);
    });

  // Server tags (src/cli/central-tags-run.ts, loaded only when one of these runs).
  const tagsRun = () => import("./central-tags-run.js");
  const tags = central
    .command("tags")
    .description("Server tags set on the central; they win over the tags agents declare (docs/dashboard.md)");
  tags
    .command("set")
    .description("Add or override central tags of a server")
    .argument("<server>", "server name")
    .argument("<pairs...>", "key=value, e.g. team=payments env=prod")
    .action(async (server: string, pairs: string[]) => {
      await (await tagsRun()).tagsSetCommand(server, pairs);
    });
  tags
    .command("unset")
    .description("Remove central tags of a server; the agent's value of a key, if any, applies again")
    .argument("<server>", "server name")
    .argument("<keys...>", "tag keys, e.g. team")
    .action(async (server: string, keys: string[]) => {
      await (await tagsRun()).tagsUnsetCommand(server, keys);
    });
  tags
    .command("list")
    .description(
      "List the tags in force (of one server, or every server), where each came from, and since when",
    )
    .argument("[server]", "server name")
    .action(async (server?: string) => {
      await (await tagsRun()).tagsListCommand(server);
    });

  // Dashboard users (src/cli/user-run.ts, loaded only when one of these runs).
  const users = () => import("./user-run.js");
  const user = central.command("user").description("Manage dashboard users (admin or viewer)");
  user
    .command("add")
    .description(
      "Add a user; the password is asked for twice without echo on a terminal, else read from stdin (first line) or --password-file",
    )
    .argument("<name>", "user name (letters, digits, . _ @ -)")
    .option("--role <role>", "admin (everything) or viewer (fleet, servers, reports)", "viewer")
    .option("--password-file <file>", "read the password from the first line of this file")
    .option(
      "--groups <names>",
      "viewer only: see only the servers of these groups of SRVUTIL_GROUPS_FILE, comma-separated (A,B)",
    )
    .action(async (name: string, opts: { role: string; passwordFile?: string; groups?: string }) => {
      await (await users()).userAddCommand(name, opts);
    });
  user
    .command("list")
    .description("List dashboard users and their roles")
    .action(async () => {
      await (await users()).userListCommand();
    });
  user
    .command("remove")
    .description("Remove a user and end its sessions")
    .argument("<name>", "user name")
    .action(async (name: string) => {
      await (await users()).userRemoveCommand(name);
    });

  central
    .command("import")
    .description(
      "Load a folder of CSV v1 or seed-format files (recursively, .csv and .csv.gz) through the ingest path; files already stored are skipped",
    )
    .argument("<dir>", "folder to import, e.g. an old recieved_metrics/")
    .option("--format <format>", "auto (by header), v1 or seed", "auto")
    .option(
      "--source-tz <zone>",
      "IANA zone of the seed format's zone-less times (default: SRVUTIL_REPORT_TZ)",
    )
    .action(async (dir: string, opts: { format: string; sourceTz?: string }) => {
      await (await run()).importCommand(dir, opts);
    });

  const serviceOptions = (cmd: Command) =>
    cmd
      .option("--dry-run", "print what would be written and run; change nothing", false)
      .option("--no-start", "write the files, do not run systemctl / launchctl / schtasks")
      .option(
        "--user <name>",
        "account the service runs as (Linux: srvutil, created when missing; macOS: daemon)",
      )
      .option("--unit-dir <dir>", "where the unit / plist / task XML goes (default: the system's place)");
  const install = () => import("./central-install-run.js");
  const envFileOf = (cmd: Command) => (cmd.optsWithGlobals() as { settings?: string }).settings;

  serviceOptions(
    central
      .command("install")
      .description(
        "Run the central as a service: systemd unit (dedicated user, EnvironmentFile mode 0600, hardened), launchd daemon, or a Task Scheduler task at boot. A new settings file gets this shell's SRVUTIL_* variables; an existing one is kept.",
      ),
  )
    .option(
      "--build-agents",
      "first build the agent executables the central serves (npm run build:agent-bin && npm run build:agent; fetches ~200 MB of Node runtimes once)",
      false,
    )
    .action(
      async (
        opts: { dryRun: boolean; start: boolean; user?: string; unitDir?: string; buildAgents: boolean },
        cmd: Command,
      ) => {
        await (await install()).centralInstallCommand({ ...opts, envFile: envFileOf(cmd) });
      },
    );

  serviceOptions(
    central
      .command("uninstall")
      .description("Stop the service and remove its unit; the settings file, the data and the account stay"),
  ).action(
    async (opts: { dryRun: boolean; start: boolean; user?: string; unitDir?: string }, cmd: Command) => {
      await (await install()).centralUninstallCommand({ ...opts, envFile: envFileOf(cmd) });
    },
  );

  central
    .command("status")
    .description("Is the central installed and running: service file, settings (mode), data dir, state")
    .option("--unit-dir <dir>", "where the unit / plist / task XML is")
    .action(async (opts: { unitDir?: string }, cmd: Command) => {
      process.exitCode = await (await install()).centralStatusCommand({ ...opts, envFile: envFileOf(cmd) });
    });

  central
    .command("backup")
    .description(
      "Copy the SQLite database (samples, tokens, deliveries, schedule) into FILE, consistently, while `central serve` runs. PostgreSQL: use pg_dump (docs/operations.md)",
    )
    .argument("<file>", "new file to write (it must not exist)")
    .action(async (file: string) => {
      await (await import("./central-backup-run.js")).backupCommand(file);
    });

  central
    .command("restore")
    .description(
      "Replace the SQLite database with a backup (stop `central serve` first); the current one is kept beside it as .before-restore-<time>",
    )
    .argument("<file>", "a file written by `central backup`")
    .action(async (file: string) => {
      await (await import("./central-backup-run.js")).restoreCommand(file);
    });

  central
    .command("migrate")
    .description(
      "Create or upgrade the database schema of every part, print the migrations applied, and exit (safe while other instances start)",
    )
    .action(async () => {
      await (await run()).migrateCommand();
    });

  central
    .command("rebuild")
    .description(
      "Re-derive samples and uploads from the raw uploads (received_metrics/, or the database with SRVUTIL_RAW_STORE=database; tokens stay). Refuses while any `central serve` runs on the database, and when some stored uploads have no raw file (their samples would be lost).",
    )
    .option(
      "--accept-loss",
      "rebuild from the raw files there are, losing the samples of uploads that have none",
    )
    .action(async (opts: { acceptLoss?: boolean }) => {
      await (await run()).rebuildCommand(opts);
    });
}
