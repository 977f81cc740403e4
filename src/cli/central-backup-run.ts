import { AutomationLog } from "../central/automation-log.js";
import { loadCentralConfig } from "../central/config.js";
import { backupDatabase, restoreDatabase } from "../central/storage/backup.js";

// What `srvutil central backup|restore` runs (wired in ./central.ts, loaded only then).

export async function backupCommand(file: string): Promise<void> {
  const config = loadCentralConfig(process.env);
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
  const config = loadCentralConfig(process.env);
  const result = await restoreDatabase(config.dbUrl, file);
  new AutomationLog(config.paths.automationLog, config.logRotation).info("restore", {
    file,
    previous: result.previous,
  });
  process.stdout.write(
    `Restored the database from ${file}${result.previous !== null ? `; the one it replaced is ${result.previous}` : ""}. ` +
      "Uploads received after the backup are in received_metrics/: `srvutil central rebuild` re-reads them.\n",
  );
}
