import { readFileSync, statSync } from "node:fs";
import path from "node:path";
import { parseEnvFile } from "../central/install/env-file.js";
import { ConfigError } from "../errors.js";

// `srvutil central|report --settings FILE …`: the settings of an installed
// central (`central install` writes FILE), for the service manager (launchd,
// Task Scheduler) and for the operator's own commands on that machine.

/**
 * Loads FILE's SRVUTIL_* variables into process.env (they win over the
 * shell's: the point is to act exactly like the service). Run as root on
 * Linux or macOS, the process then drops to the owner of the data directory,
 * so the files it creates (database journal, logs) stay the service's.
 */
export function applyEnvFile(file: string): void {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError(
      `--settings: cannot read '${file}' (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); expected the settings file \`central install\` wrote (run with sudo if it is mode 600)`,
    );
  }
  for (const [k, v] of Object.entries(parseEnvFile(text, file))) {
    if (k.startsWith("SRVUTIL_")) process.env[k] = v;
  }
  dropToDataDirOwner(process.env.SRVUTIL_DATA_DIR);
}

function dropToDataDirOwner(dataDir: string | undefined): void {
  if (dataDir === undefined || process.getuid?.() !== 0 || process.setuid === undefined) return;
  let owner: { uid: number; gid: number };
  try {
    owner = statSync(path.resolve(dataDir));
  } catch {
    return; // no data dir yet: nothing of the service's to keep apart
  }
  if (owner.uid === 0) return;
  process.setgid?.(owner.gid);
  process.setuid(owner.uid);
}
