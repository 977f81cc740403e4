import { readdirSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { AutomationLog } from "../central/automation-log.js";
import type { CentralConfig } from "../central/config.js";
import { backupDatabase, restoreDatabase } from "../central/storage/backup.js";
import { centralConfigFromEnv } from "./central-config.js";

// What `srvutil central backup|restore` runs (wired in ./central.ts, loaded only then).

/**
 * Raw files received this long before the backup's newest upload are looked
 * at too: an upload received just before the newest one may have committed
 * after the backup's snapshot. Files whose upload is in the database are skipped.
 */
const CATCH_UP_MARGIN_MS = 60 * 60 * 1000;

export async function backupCommand(file: string): Promise<void> {
  const config = centralConfigFromEnv();
  const result = await backupDatabase(config.dbUrl, file);
  new AutomationLog(config.paths.automationLog, config.logRotation).info("backup", {
    file: result.file,
    bytes: result.bytes,
  });
  process.stdout.write(
    `Backed up the database to ${result.file} (${result.bytes} bytes). ` +
      `Keep ${config.paths.receivedMetrics} and the settings too (docs/operations.md).\n`,
  );
}

export async function restoreCommand(file: string): Promise<void> {
  const config = centralConfigFromEnv();
  const result = await restoreDatabase(config.dbUrl, file);
  const where = config.dataDir;
  const lines = [
    `Restored the database from ${path.resolve(file)} into ${where}` +
      (result.createdDir ? " (created, mode 0700)" : "") +
      (result.previous !== null ? `; the one it replaced is ${result.previous}` : "") +
      ".",
  ];
  const rawFiles = hasEntries(config.paths.receivedMetrics);
  let catchUp: { recovered: number; failed: string[] } | null = null;
  const older = rawFiles ? await writtenByOlderVersion(result.database) : false;
  if (rawFiles && older) {
    lines.push(
      "The backup was written by an older srvutil and is left as it is (restore does not upgrade it), " +
        "so the raw files in received_metrics/ are not re-ingested: the next start of `central serve` upgrades it, " +
        "and `srvutil central rebuild` then re-reads received_metrics/ (it must hold every upload).",
    );
  } else if (rawFiles) {
    catchUp = await reingestAfterBackup(config, result.newestUploadAt);
    lines.push(
      `received_metrics/: ${catchUp.recovered} raw file${catchUp.recovered === 1 ? "" : "s"} received after the backup re-ingested` +
        (catchUp.failed.length > 0 ? `, ${catchUp.failed.length} failed (listed above)` : "") +
        ".",
    );
  } else {
    lines.push(
      `No raw upload files in ${config.paths.receivedMetrics}: they are not part of a backup. ` +
        "The central works without them (reports, tokens and users are in the database); " +
        "only `central rebuild` reads them. To keep them, or to add the uploads received after the backup, " +
        "copy received_metrics/ from the old machine's file backup into the data directory before `central restore`.",
    );
  }
  new AutomationLog(config.paths.automationLog, config.logRotation).info("restore", {
    file,
    previous: result.previous,
    createdDir: result.createdDir,
    reingested: catchUp?.recovered ?? null,
    reingestFailed: catchUp?.failed.length ?? null,
  });
  process.stdout.write(`${lines.join("\n")}\n`);
  if (catchUp !== null && catchUp.failed.length > 0) process.exitCode = 1;
}

/**
 * True when the restored database lacks a migration this srvutil has: the
 * re-ingest would upgrade it, and a backup restored to go back to an older
 * version (docs/upgrading.md) must stay as that version wrote it. This
 * version's migrations are those of an empty in-memory database.
 */
async function writtenByOlderVersion(file: string): Promise<boolean> {
  const { SqliteStore } = await import("../central/storage/sqlite/sqlite-store.js");
  const empty = new SqliteStore(":memory:");
  await empty.init();
  const restored = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const newest = (db: Database.Database) =>
      new Map(
        db
          .prepare("SELECT component, max(version) AS version FROM schema_migrations GROUP BY component")
          .all()
          .map((r) => {
            const row = r as { component: string; version: number };
            return [row.component, row.version] as const;
          }),
      );
    const have = newest(restored);
    return [...newest(empty.db)].some(([component, version]) => (have.get(component) ?? 0) < version);
  } finally {
    restored.close();
    await empty.close();
  }
}

function hasEntries(dir: string): boolean {
  try {
    return readdirSync(dir).length > 0;
  } catch {
    return false;
  }
}

/**
 * Puts back the uploads that reached received_metrics/ after the backup was
 * taken: the same re-ingest as serve's startup recovery, over every day
 * folder from the backup's newest upload on. Opening the store also upgrades
 * an older backup's schema.
 */
async function reingestAfterBackup(
  config: CentralConfig,
  newestUploadAt: number | null,
): Promise<{ recovered: number; failed: string[] }> {
  const { openStorage } = await import("../central/storage/open.js");
  const { createIngestService } = await import("../central/central-process.js");
  const store = await openStorage(config.dbUrl, { synchronous: config.sqliteSynchronous });
  try {
    const ingest = createIngestService(config, store, null);
    const since = newestUploadAt === null ? 0 : newestUploadAt - CATCH_UP_MARGIN_MS;
    const result = await ingest.recoverReceivedSince(since).finally(() => ingest.close());
    for (const f of result.failed) process.stderr.write(`srvutil: ${f}\n`);
    if (result.recovered > 0) {
      const { catchUpRollups } = await import("../central/aggregate/rollup-maintainer.js");
      await catchUpRollups(store.rollups, config.reportTimeZone);
    }
    return result;
  } finally {
    await store.close();
  }
}
