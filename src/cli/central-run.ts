import path from "node:path";
import {
  createAgentToken,
  createRelayToken,
  createViewerToken,
  type TokenRole,
} from "../central/auth/tokens.js";
import { AutomationLog } from "../central/automation-log.js";
import type { CentralConfig } from "../central/config.js";
import type { Storage } from "../central/storage/store.js";
import { usageError } from "../errors.js";
import { centralConfigFromEnv } from "./central-config.js";

/**
 * What `srvutil central …` runs (the commander wiring is ./central.ts, which
 * loads this module only when a central command runs). fastify, swagger,
 * prom-client and the database drivers load later still, on first use.
 */
const serve = () => import("../central/central-process.js");
const bulk = () => import("../central/ingest/bulk.js");

/** `central serve`: the API and the scheduler until SIGTERM/SIGINT. */
/** `version`: the release, passed in by the wiring (./version.ts is part of the start-up bundle). */
export async function serveCommand(version: string): Promise<void> {
  const config = centralConfigFromEnv();
  const { startCentral } = await serve();
  const running = await startCentral(config, {
    logger: { level: config.logLevel },
    version,
    env: process.env,
  });
  process.stdout.write(`srvutil ${version} central listening on ${running.url}\n`);
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
}

export async function tokenAddCommand(
  name: string,
  roleOption: string,
  servers?: string,
  groupsOption?: string,
): Promise<void> {
  const role = parseRole(roleOption);
  if (role !== "viewer" && groupsOption !== undefined)
    throw usageError("--groups applies to --role viewer only");
  const { configuredGroups } = await import("./user-run.js");
  const { describeScope, parseScopeGroups } = await import("../central/auth/principal.js");
  const groups =
    groupsOption === undefined ? null : parseScopeGroups(groupsOption, "viewer", await configuredGroups());
  if (groupsOption !== undefined && groups === null) throw usageError("--groups: name at least one group");
  if (role === "relay" && servers === undefined) {
    throw usageError(
      "a relay token needs --servers GLOB: the server names it may write for, such as 'web-*' or '*'",
    );
  }
  if (role !== "relay" && servers !== undefined) throw usageError("--servers applies to --role relay only");
  await withStore(async (store, config) => {
    const value =
      role === "agent"
        ? await createAgentToken(store, name)
        : role === "viewer"
          ? await createViewerToken(store, name, groups)
          : await createRelayToken(store, name, servers!);
    new AutomationLog(config.paths.automationLog, config.logRotation).info("token created", {
      role,
      name,
      ...(servers === undefined ? {} : { servers }),
      ...(role === "viewer" ? { scope: describeScope(groups) } : {}),
    });
    const intro = {
      agent: `Agent token for server '${name}' (set SRVUTIL_AGENT_TOKEN on that server; shown only once):`,
      viewer: `Viewer token '${name}' for the read API${groups === null ? "" : `, ${describeScope(groups)} only`} (shown only once):`,
      relay: `Relay token '${name}' for servers '${servers}' (Prometheus remote_write, OTLP, Telegraf, collectd; shown only once):`,
    }[role];
    process.stdout.write(`${intro}\n${value}\n`);
  });
}

export async function tokenListCommand(): Promise<void> {
  await withStore(async (store) => {
    const rows = [
      ...(await store.tokens.list("agent")).map((t) => ({ ...t, role: "agent" })),
      ...(await store.tokens.list("viewer")).map((t) => ({ ...t, role: "viewer" })),
      ...(await store.tokens.list("relay")).map((t) => ({ ...t, role: "relay" })),
    ];
    const minute = (ms: number) => `${new Date(ms).toISOString().slice(0, 16)}Z`;
    const lines = [["ROLE", "NAME", "TOKEN ID", "CREATED", "LAST USED", "STATUS"]];
    for (const t of rows) {
      lines.push([
        t.role,
        t.servers !== undefined
          ? `${t.server} (servers ${t.servers})`
          : t.groups != null
            ? `${t.server} (groups ${t.groups.join(",")})`
            : t.server,
        t.tokenId,
        minute(t.createdAt),
        t.lastUsedAt === null ? "never" : minute(t.lastUsedAt),
        t.revokedAt === null ? "active" : `revoked ${minute(t.revokedAt)}`,
      ]);
    }
    process.stdout.write(formatTable(lines));
  });
}

export async function tokenRevokeCommand(name: string, roleOption: string, id?: string): Promise<void> {
  const role = parseRole(roleOption);
  if (id !== undefined) return tokenRevokeOne(name, role, id);
  await withStore(async (store, config) => {
    const now = Date.now();
    const n = await store.tokens.revokeAll(role, name, now);
    new AutomationLog(config.paths.automationLog, config.logRotation).info("token revoked", {
      role,
      name,
      count: n,
    });
    if (n === 0)
      throw usageError(`no active ${role} token for '${name}' (see \`srvutil central token list\`)`);
    process.stdout.write(`Revoked ${n} ${role} token${n === 1 ? "" : "s"} of '${name}'\n`);
  });
}

export async function importCommand(dir: string, opts: { format: string; sourceTz?: string }): Promise<void> {
  const { importFileOptions } = await import("./central-seed.js");
  const fileOptions = importFileOptions(opts);
  await withStore(async (store, config) => {
    const log = new AutomationLog(config.paths.automationLog, config.logRotation);
    const { createIngestService } = await serve();
    const { importDirectory, stderrProgress } = await bulk();
    const ingest = createIngestService(config, store, null);
    const summary = await importDirectory(ingest, path.resolve(dir), {
      maxBodyBytes: config.maxBodyBytes,
      progress: stderrProgress("import"),
      ...fileOptions,
    }).finally(() => ingest.close());
    await updateRollups(store, config.reportTimeZone);
    for (const f of summary.failed) process.stderr.write(`srvutil: ${f.file}: ${f.error}\n`);
    for (const s of summary.skippedLines) process.stderr.write(`srvutil: ${s.file}: skipped ${s.error}\n`);
    const unlisted = summary.skippedLineCount - summary.skippedLines.length;
    if (unlisted > 0) {
      process.stderr.write(
        `srvutil: ${unlisted} more skipped lines not listed (the first 100 of each file are)\n`,
      );
    }
    const { skippedLines: _listed, skippedLineCount, ...counts } = summary;
    log.info("import", {
      dir: path.resolve(dir),
      ...counts,
      failed: summary.failed.length,
      skippedLines: skippedLineCount,
    });
    process.stdout.write(
      `Imported ${summary.imported} of ${summary.files} files (${summary.rows} rows: ${summary.inserted} new, ${summary.duplicates} repeated); ${summary.skipped} already stored, ${summary.failed.length} failed; ${skippedLineCount} lines skipped\n`,
    );
    if (summary.failed.length > 0) process.exitCode = 1;
  });
}

/** `central migrate`: openStorage applies what is pending (under the migration lock); this reports it. */
export async function migrateCommand(): Promise<void> {
  await withStore(async (store, config) => {
    const applied = store.appliedMigrations();
    new AutomationLog(config.paths.automationLog, config.logRotation).info("migrate", {
      db: store.kind,
      applied: applied.map((m) => `${m.component} ${m.version}`),
    });
    if (applied.length === 0) {
      process.stdout.write(`The ${store.kind} schema is current: no migrations to apply\n`);
      return;
    }
    const lines = applied.map((m) => `  ${m.component} ${m.version}: ${m.description}\n`);
    process.stdout.write(
      `Applied ${applied.length} migration${applied.length === 1 ? "" : "s"} to the ${store.kind} schema:\n${lines.join("")}`,
    );
  });
}

export async function rebuildCommand(opts: { acceptLoss?: boolean } = {}): Promise<void> {
  await withStore(async (store, config) => {
    const log = new AutomationLog(config.paths.automationLog, config.logRotation);
    const { createIngestService } = await serve();
    const { stderrProgress } = await bulk();
    const { rebuildCentral } = await import("../central/ingest/rebuild.js");
    const { rawStoreMode } = await import("../central/storage/raw-upload-store.js");
    const ingest = createIngestService(config, store, null);
    const summary = await rebuildCentral(store, ingest, {
      rawStore: rawStoreMode(config.rawStore, store),
      receivedMetricsDir: config.paths.receivedMetrics,
      progress: stderrProgress("rebuild"),
      acceptLoss: opts.acceptLoss === true,
    }).finally(() => ingest.close());
    await updateRollups(store, config.reportTimeZone);
    for (const f of summary.failed) process.stderr.write(`srvutil: ${f.file}: ${f.error}\n`);
    log.info("rebuild", { ...summary, failed: summary.failed.length });
    process.stdout.write(
      `Rebuilt from ${summary.rebuilt} of ${summary.files} raw files: ${summary.rows} rows (${summary.inserted} distinct); ${summary.skippedLines} seed lines skipped; ${summary.failed.length} failed\n`,
    );
    if (summary.failed.length > 0) process.exitCode = 1;
  });
}

/** `token revoke NAME --id ID`: one token, the others of NAME stay (rotation). */
async function tokenRevokeOne(name: string, role: TokenRole, id: string): Promise<void> {
  const tokenId = /^srv[uvr]_([0-9a-f]{12})(_|$)/.exec(id)?.[1] ?? id;
  if (!/^[0-9a-f]{12}$/.test(tokenId)) {
    throw usageError(
      `--id: expected a token id of 12 hex digits (see \`srvutil central token list\`), got '${id}'`,
    );
  }
  await withStore(async (store, config) => {
    const now = Date.now();
    const revoked = await store.tokens.revoke(role, name, tokenId, now);
    if (!revoked) {
      throw usageError(
        `no active ${role} token ${tokenId} for '${name}' (see \`srvutil central token list\`)`,
      );
    }
    new AutomationLog(config.paths.automationLog, config.logRotation).info("token revoked", {
      role,
      name,
      tokenId,
      count: 1,
    });
    const all = await store.tokens.list(role);
    const left = all.filter((t) => t.server === name && t.revokedAt === null).length;
    process.stdout.write(
      `Revoked ${role} token ${tokenId} of '${name}'; ${left} active token${left === 1 ? "" : "s"} left\n`,
    );
  });
}

/** Bulk writes fold their rows into the rollups before returning: the next report is a warm one. */
async function updateRollups(store: Storage, timeZone: string): Promise<void> {
  const { catchUpRollups } = await import("../central/aggregate/rollup-maintainer.js");
  const started = Date.now();
  const r = await catchUpRollups(store.rollups, timeZone);
  process.stderr.write(
    `rollups: ${r.hours} hour buckets updated in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
  );
}

function parseRole(role: string): TokenRole {
  if (role === "agent" || role === "viewer" || role === "relay") return role;
  throw usageError(`--role: expected agent, viewer or relay, got '${role}'`);
}

export async function withStore(fn: (store: Storage, config: CentralConfig) => Promise<void>): Promise<void> {
  const config = centralConfigFromEnv();
  const { openStorage } = await import("../central/storage/open.js");
  const store = await openStorage(config.dbUrl, { synchronous: config.sqliteSynchronous });
  try {
    await fn(store, config);
  } finally {
    await store.close();
  }
}

export function formatTable(rows: string[][]): string {
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
