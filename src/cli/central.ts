import path from "node:path";
import type { Command } from "commander";
import { createAgentToken, createViewerToken, TokenInputError } from "../central/auth/tokens.js";
import { AutomationLog } from "../central/automation-log.js";
import { loadCentralConfig } from "../central/config.js";
import type { MetricsStore } from "../central/storage/store.js";

// fastify, swagger, prom-client and the database drivers load only when a
// central command runs, so `srvutil agent …` and `--help` start quickly.
const server = () => import("../central/server.js");
const bulk = () => import("../central/ingest/bulk.js");
const seedCli = () => import("./central-seed.js");

// Every upload fsyncs its raw file on libuv's threadpool. With the default 4
// threads, 4 fsyncs are in flight at once and the rest queue behind them;
// with 16 the file system folds concurrent fsyncs into shared journal
// commits. Must be set before the pool's first use, hence at import time.
process.env.UV_THREADPOOL_SIZE ??= "16";

/** `srvutil central …`: serve, token add|list|revoke, import, rebuild. */
export function registerCentralCommands(program: Command): void {
  const central = program.command("central").description("The central server: API, storage, tokens");

  central
    .command("serve")
    .description(
      "Run the API (POST /api/v1/metrics, read API, /healthz, /readyz, /metrics) and the report scheduler until SIGTERM/SIGINT",
    )
    .action(async () => {
      const config = loadCentralConfig();
      const { startCentral } = await server();
      const running = await startCentral(config, {
        logger: { level: process.env.SRVUTIL_LOG_LEVEL ?? "warn" },
      });
      process.stdout.write(`srvutil central listening on ${running.url}\n`);
      for (const w of running.warnings) process.stderr.write(`srvutil: warning: ${w}\n`);
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          process.stderr.write(`srvutil central: ${signal}, shutting down\n`);
          running.close().then(resolve, (err: unknown) => {
            console.error(err);
            resolve();
          });
        };
        process.once("SIGTERM", () => stop("SIGTERM"));
        process.once("SIGINT", () => stop("SIGINT"));
      });
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
      const role = parseRole(opts.role);
      await withStore(async (store, config) => {
        const value =
          role === "agent" ? await createAgentToken(store, name) : await createViewerToken(store, name);
        new AutomationLog(config.paths.automationLog).info("token created", { role, name });
        process.stdout.write(
          role === "agent"
            ? `Agent token for server '${name}' (set SRVUTIL_AGENT_TOKEN on that server; shown only once):\n${value}\n`
            : `Viewer token '${name}' for the read API (shown only once):\n${value}\n`,
        );
      });
    });

  token
    .command("list")
    .description("List tokens (ids, roles, names, dates; never the secrets)")
    .action(async () => {
      await withStore(async (store) => {
        const rows = [
          ...(await store.listAgentTokens()).map((t) => ({ ...t, role: "agent" })),
          ...(await store.listViewerTokens()).map((t) => ({ ...t, role: "viewer" })),
        ];
        const lines = [["ROLE", "NAME", "TOKEN ID", "CREATED", "STATUS"]];
        for (const t of rows) {
          lines.push([
            t.role,
            t.server,
            t.tokenId,
            new Date(t.createdAt).toISOString(),
            t.revokedAt === null ? "active" : `revoked ${new Date(t.revokedAt).toISOString()}`,
          ]);
        }
        process.stdout.write(formatTable(lines));
      });
    });

  token
    .command("revoke")
    .description("Revoke every active token of NAME")
    .argument("<name>", "server name (or viewer name with --role viewer)")
    .option("--role <role>", "agent or viewer", "agent")
    .action(async (name: string, opts: { role: string }) => {
      const role = parseRole(opts.role);
      await withStore(async (store, config) => {
        const now = Date.now();
        const n =
          role === "agent"
            ? await store.revokeAgentTokens(name, now)
            : await store.revokeViewerTokens(name, now);
        new AutomationLog(config.paths.automationLog).info("token revoked", { role, name, count: n });
        if (n === 0)
          throw new TokenInputError(
            `no active ${role} token for '${name}' (see \`srvutil central token list\`)`,
          );
        process.stdout.write(`Revoked ${n} ${role} token${n === 1 ? "" : "s"} of '${name}'\n`);
      });
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
      const { importFileOptions } = await seedCli();
      const fileOptions = importFileOptions(opts);
      await withStore(async (store, config) => {
        const log = new AutomationLog(config.paths.automationLog);
        const { createIngestService } = await server();
        const { importDirectory, stderrProgress } = await bulk();
        const ingest = createIngestService(config, store, null);
        const summary = await importDirectory(ingest, path.resolve(dir), {
          maxBodyBytes: config.maxBodyBytes,
          progress: stderrProgress("import"),
          ...fileOptions,
        }).finally(() => ingest.close());
        for (const f of summary.failed) process.stderr.write(`srvutil: ${f.file}: ${f.error}\n`);
        for (const s of summary.skippedLines) {
          process.stderr.write(`srvutil: ${s.file}: skipped ${s.error}\n`);
        }
        log.info("import", {
          dir: path.resolve(dir),
          ...summary,
          failed: summary.failed.length,
          skippedLines: summary.skippedLines.length,
        });
        process.stdout.write(
          `Imported ${summary.imported} of ${summary.files} files (${summary.rows} rows: ${summary.inserted} new, ${summary.duplicates} repeated); ${summary.skipped} already stored, ${summary.failed.length} failed; ${summary.skippedLines.length} lines skipped\n`,
        );
        if (summary.failed.length > 0) process.exitCode = 1;
      });
    });

  central
    .command("rebuild")
    .description(
      "Re-derive samples and uploads from received_metrics/ (tokens stay). Stop `central serve` first.",
    )
    .action(async () => {
      await withStore(async (store, config) => {
        const log = new AutomationLog(config.paths.automationLog);
        const { createIngestService } = await server();
        const { rebuildFromRaw, stderrProgress } = await bulk();
        const ingest = createIngestService(config, store, null);
        const summary = await rebuildFromRaw(store, ingest, config.paths.receivedMetrics, {
          progress: stderrProgress("rebuild"),
        }).finally(() => ingest.close());
        for (const f of summary.failed) process.stderr.write(`srvutil: ${f.file}: ${f.error}\n`);
        log.info("rebuild", { ...summary, failed: summary.failed.length });
        process.stdout.write(
          `Rebuilt from ${summary.rebuilt} of ${summary.files} raw files: ${summary.rows} rows (${summary.inserted} distinct); ${summary.skippedLines} seed lines skipped; ${summary.failed.length} failed\n`,
        );
        if (summary.failed.length > 0) process.exitCode = 1;
      });
    });
}

function parseRole(role: string): "agent" | "viewer" {
  if (role === "agent" || role === "viewer") return role;
  throw new TokenInputError(`--role: expected agent or viewer, got '${role}'`);
}

async function withStore(
  fn: (store: MetricsStore, config: ReturnType<typeof loadCentralConfig>) => Promise<void>,
): Promise<void> {
  const config = loadCentralConfig();
  const { openStore } = await import("../central/storage/open.js");
  const store = await openStore(config.dbUrl);
  try {
    await fn(store, config);
  } finally {
    await store.close();
  }
}

function formatTable(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return (
    rows
      .map((r) =>
        r
          .map((c, i) => c.padEnd(widths[i]!))
          .join("  ")
          .trimEnd(),
      )
      .join("\n") + "\n"
  );
}
