import { open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/** Temp files start with this so directory listings can skip them. */
export const TEMP_PREFIX = ".tmp-";

/**
 * Writes a file so a reader sees either the old content or the whole new one,
 * even across a crash or power loss: temp file in the same directory, fsync,
 * rename over the target, fsync the directory so the rename itself is durable.
 * `durable: false` keeps the all-or-nothing rename but skips the fsyncs, for
 * state that may be lost in a power cut but must never be half-written.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: { durable?: boolean } = {},
): Promise<void> {
  const durable = options.durable ?? true;
  const dir = dirname(path);
  const temp = join(dir, `${TEMP_PREFIX}${basename(path)}.${randomHex()}`);
  const handle = await open(temp, "wx", 0o600);
  try {
    await handle.writeFile(data);
    if (durable) await handle.sync();
  } catch (err) {
    await handle.close().catch(() => {});
    await rm(temp, { force: true });
    throw err;
  }
  await handle.close();
  try {
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  if (durable) await fsyncDirectory(dir);
}

/** Makes renames and unlinks in `dir` durable. Windows cannot open directories; NTFS journals them. */
export async function fsyncDirectory(dir: string): Promise<void> {
  if (process.platform === "win32") return;
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Uniqueness, not secrecy: Math.random avoids loading node:crypto in a one-shot run. */
function randomHex(): string {
  return Math.floor(Math.random() * 0x100000000)
    .toString(16)
    .padStart(8, "0");
}
