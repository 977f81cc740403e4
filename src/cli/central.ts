import type { Command } from "commander";

// The implementations (config schema, tokens, storage drivers, fastify) load
// only when a central command runs, so `srvutil --help` and `srvutil agent …`
// start fast.
const run = () => import("./central-run.js");

// Every upload fsyncs its raw file on libuv's threadpool. With the default 4
// threads, 4 fsyncs are in flight at once and the rest queue behind them;
// with 16 the file system folds concurrent fsyncs into shared journal
// commits. Must be set before the pool's first use, hence at import time.
process.env.UV_THREADPOOL_SIZE ??= "16";

/** `srvutil central …`: serve, token add|list|revoke, user add|list|remove, import, rebuild. */
export function registerCentralCommands(program: Command): void {
  const central = program.command("central").description("The central server: API, storage, tokens");

  central
    .command("serve")
    .description(
      "Run the API (POST /api/v1/metrics, read API, /healthz, /readyz, /metrics), the web dashboard at / and the report scheduler until SIGTERM/SIGINT",
    )
    .action(async () => {
      await (await run()).serveCommand();
    });

  const token = central
    .command("token")
    .description("Manage API tokens (agent: upload as one server; viewer: read API)");

  token
    .command("add")
    .description("Create a token and print it (alone on the last line); it is shown only once")
    .argument("<name>", "server name the agent token is bound to (or the viewer's name)")
    .option("--role <role>", "agent (upload as NAME) or viewer (read API)", "agent")
    .action(async (name: string, opts: { role: string }) => {
      await (await run()).tokenAddCommand(name, opts.role);
    });

  token
    .command("list")
    .description("List tokens (ids, roles, names, dates; never the secrets)")
    .action(async () => {
      await (await run()).tokenListCommand();
    });

  token
    .command("revoke")
    .description("Revoke every active token of NAME")
    .argument("<name>", "server name (or viewer name with --role viewer)")
    .option("--role <role>", "agent or viewer", "agent")
    .action(async (name: string, opts: { role: string }) => {
      await (await run()).tokenRevokeCommand(name, opts.role);
    });

  // Dashboard users (src/cli/user-run.ts, loaded only when one of these runs).
  const users = () => import("./user-run.js");
  const user = central.command("user").description("Manage dashboard users (admin or viewer)");
  user
    .command("add")
    .description("Add a user; the password is read from stdin (first line) or --password-file")
    .argument("<name>", "user name (letters, digits, . _ @ -)")
    .option("--role <role>", "admin (everything) or viewer (fleet, servers, reports)", "viewer")
    .option("--password-file <file>", "read the password from the first line of this file")
    .action(async (name: string, opts: { role: string; passwordFile?: string }) => {
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

  central
    .command("rebuild")
    .description(
      "Re-derive samples and uploads from received_metrics/ (tokens stay). Stop `central serve` first.",
    )
    .action(async () => {
      await (await run()).rebuildCommand();
    });
}
