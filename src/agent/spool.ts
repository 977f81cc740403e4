import { constants, lstatSync, type Stats } from "node:fs";
import { lstat, mkdir, open, readdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { type MetricRow, serializeMetricsCsv } from "../protocol/index.js";
import { fsyncDirectory, TEMP_PREFIX, writeFileAtomic } from "./atomic.js";
import type { SpoolLimits } from "./config.js";
import type { AgentLog } from "./log.js";

/** A spooled CSV v1 file waiting for upload. */
export interface SpoolFile {
  name: string;
  path: string;
  bytes: number;
  /** Sample timestamp encoded in the name, epoch ms. */
  timestamp: number;
}

export interface DropReport {
  droppedFiles: number;
  droppedBytes: number;
  /** Timestamp of the oldest and newest dropped sample, epoch ms. */
  oldest: number | null;
  newest: number | null;
}

/**
 * Spool file names: `20261125T144700123Z-<random>.csv` — the sample's UTC
 * timestamp (no ':' so Windows accepts it), which makes a plain name sort the
 * upload order (oldest first); the random part keeps names unique.
 */
const NAME_PATTERN = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z-[0-9a-f]+\.csv$/;

export function spoolFileName(timestamp: number): string {
  const iso = new Date(timestamp).toISOString(); // 2026-11-25T14:47:00.123Z
  const compact = iso.replace(/[-:]/g, "").replace(".", "");
  return `${compact}-${randomHex()}.csv`;
}

export function timestampFromSpoolName(name: string): number | null {
  const m = NAME_PATTERN.exec(name);
  if (!m) return null;
  const [, y, mo, d, h, mi, s, ms] = m.map(Number) as number[];
  return Date.UTC(y!, mo! - 1, d!, h!, mi!, s!, ms!);
}

/** Stale temp files (a crash between create and rename) are removed after this. */
const TEMP_MAX_AGE_MS = 10 * 60_000;

/**
 * Flags a spool file is opened with: never through a symbolic link
 * (O_NOFOLLOW: the open fails on a link), and without blocking on a FIFO
 * (O_NONBLOCK), which the fstat check then refuses. Windows has neither
 * flag; there the lstat before the open and the identity check after it
 * (same file index) do the work.
 */
const READ_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

/** A spool entry that is not a regular file: it is neither read nor deleted. */
export class SpoolEntryRefused extends Error {
  constructor(
    readonly path: string,
    readonly kind: string,
  ) {
    super(`${path} is ${kind}, not a regular file: left alone`);
  }
}

/** What an entry of the spool is, for a warning. */
function entryKind(st: Stats): string {
  if (st.isSymbolicLink()) return "a symbolic link";
  if (st.isFIFO()) return "a FIFO";
  if (st.isDirectory()) return "a directory";
  if (st.isSocket()) return "a socket";
  if (st.isBlockDevice() || st.isCharacterDevice()) return "a device";
  return "not a regular file";
}

/**
 * The agent's store-and-forward queue: `<agentDir>/metrics/*.csv`, one CSV v1
 * file per sample, written atomically so a crash never leaves a partial file
 * that would be sent; `metrics/rejected/` keeps files the central refused
 * (with the reason in `<name>.error.txt`).
 *
 * Only regular files are spool files. A symbolic link or a FIFO named like
 * one (planted by whoever can write to the directory) is skipped with a
 * `spool_entry_skipped` warning, once per entry and process: it is never
 * read (that could send any file the agent may read to the central, or hang
 * on a FIFO), never counted toward the caps and never deleted through.
 */
export class SpoolDirectory {
  readonly dir: string;
  readonly rejectedDir: string;
  /** Entries already warned about, so a planted link warns once, not every round. */
  private readonly warned = new Set<string>();

  constructor(
    dir: string,
    readonly limits: SpoolLimits,
    private readonly log: Pick<AgentLog, "warn"> | null = null,
  ) {
    this.dir = dir;
    this.rejectedDir = join(dir, "rejected");
  }

  async init(): Promise<void> {
    await mkdir(this.rejectedDir, { recursive: true, mode: 0o700 });
  }

  /** Writes one sample's rows as a new spool file (durable when this resolves). */
  async write(rows: readonly MetricRow[], timestamp: number): Promise<SpoolFile> {
    const name = spoolFileName(timestamp);
    const path = join(this.dir, name);
    const csv = serializeMetricsCsv(rows);
    await writeFileAtomic(path, csv);
    return { name, path, bytes: Buffer.byteLength(csv), timestamp };
  }

  /** Pending files, oldest first. Temp files and anything not named like a spool file are ignored. */
  async list(): Promise<SpoolFile[]> {
    return this.listIn(this.dir);
  }

  async listRejected(): Promise<SpoolFile[]> {
    return this.listIn(this.rejectedDir);
  }

  private async listIn(dir: string): Promise<SpoolFile[]> {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw err;
    }
    const files: SpoolFile[] = [];
    for (const name of names.sort()) {
      const timestamp = timestampFromSpoolName(name);
      if (timestamp === null) continue;
      const path = join(dir, name);
      let st: Stats;
      try {
        // Sync lstat: a backlog of thousands of files is listed in milliseconds
        // instead of a thread-pool round trip per file; lstat, so a link is seen as one.
        st = lstatSync(path);
      } catch {
        continue; // removed concurrently (another agent process uploaded it)
      }
      if (!st.isFile()) {
        this.skip(path, entryKind(st));
        continue;
      }
      files.push({ name, path, bytes: st.size, timestamp });
    }
    return files;
  }

  /**
   * The file's content, read only if the entry is still a regular file: it
   * is opened without following a link or blocking on a FIFO, and what was
   * opened must be the very file listed (a swap after listing is refused).
   * Throws SpoolEntryRefused otherwise.
   */
  async read(file: SpoolFile): Promise<Buffer> {
    const before = await lstat(file.path);
    if (!before.isFile()) throw this.skip(file.path, entryKind(before));
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      handle = await open(file.path, READ_FLAGS);
    } catch (err) {
      // O_NOFOLLOW fails with ELOOP (EMLINK on FreeBSD) when the entry became a link.
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ELOOP" || code === "EMLINK") throw this.skip(file.path, "a symbolic link");
      throw err;
    }
    try {
      const st = await handle.stat();
      if (!st.isFile()) throw this.skip(file.path, entryKind(st));
      if (st.ino !== before.ino || st.dev !== before.dev) throw this.skip(file.path, "replaced while read");
      return await handle.readFile();
    } finally {
      await handle.close();
    }
  }

  private skip(path: string, kind: string): SpoolEntryRefused {
    const refused = new SpoolEntryRefused(path, kind);
    if (!this.warned.has(path)) {
      this.warned.add(path);
      this.log?.warn("spool_entry_skipped", `spool entry skipped: ${refused.message}`, { path, kind });
    }
    return refused;
  }

  /** Called only after the central answered 2xx for this file. */
  async remove(files: readonly SpoolFile[]): Promise<void> {
    for (const f of files) await rm(f.path, { force: true });
    await fsyncDirectory(this.dir);
  }

  /** Moves a refused file aside with the central's reason, so it is never retried. */
  async reject(file: SpoolFile, reason: string): Promise<string> {
    await mkdir(this.rejectedDir, { recursive: true, mode: 0o700 });
    const target = join(this.rejectedDir, file.name);
    // Temp file and rename: a link planted under the reason's name is replaced, never written through.
    await writeFileAtomic(`${target}.error.txt`, `${reason}\n`, { durable: false });
    await rename(file.path, target);
    await fsyncDirectory(this.dir);
    return target;
  }

  /**
   * Moves every rejected file back into the spool (its .error.txt is
   * deleted), so the next upload round sends it again. Returns how many.
   */
  async requeueRejected(): Promise<number> {
    let moved = 0;
    for (const file of await this.listRejected()) {
      await rename(file.path, join(this.dir, file.name));
      await rm(`${file.path}.error.txt`, { force: true });
      moved++;
    }
    if (moved > 0) {
      await fsyncDirectory(this.dir);
      await fsyncDirectory(this.rejectedDir);
    }
    return moved;
  }

  /** Deletes temp files left by a crash mid-write (never sent: they were never renamed). */
  async removeStaleTemps(now = Date.now()): Promise<number> {
    let removed = 0;
    for (const name of await readdir(this.dir).catch(() => [] as string[])) {
      if (!name.startsWith(TEMP_PREFIX)) continue;
      const path = join(this.dir, name);
      try {
        if (now - (await lstat(path)).mtimeMs > TEMP_MAX_AGE_MS) {
          await rm(path, { force: true });
          removed++;
        }
      } catch {
        // gone already
      }
    }
    return removed;
  }

  /**
   * Applies the age and size caps to pending and rejected files together:
   * first everything older than maxAge (by sample time), then the oldest
   * until the total fits maxBytes. Returns what was dropped so the caller
   * can warn with counts.
   */
  async enforceLimits(now: number): Promise<DropReport> {
    const pending = await this.list();
    const rejected = await this.listRejected();
    const all = [...pending, ...rejected].sort(
      (a, b) => a.timestamp - b.timestamp || (a.name < b.name ? -1 : 1),
    );
    let total = all.reduce((sum, f) => sum + f.bytes, 0);
    const drop: SpoolFile[] = [];
    for (const f of all) {
      const tooOld = now - f.timestamp > this.limits.maxAgeMs;
      if (tooOld || total > this.limits.maxBytes) {
        drop.push(f);
        total -= f.bytes;
      } else {
        break; // sorted oldest first: the rest are newer and the total fits
      }
    }
    for (const f of drop) {
      await rm(f.path, { force: true });
      await rm(`${f.path}.error.txt`, { force: true });
    }
    if (drop.length > 0) await fsyncDirectory(this.dir);
    return {
      droppedFiles: drop.length,
      droppedBytes: drop.reduce((s, f) => s + f.bytes, 0),
      oldest: drop[0]?.timestamp ?? null,
      newest: drop.at(-1)?.timestamp ?? null,
    };
  }
}

/** Uniqueness, not secrecy: Math.random avoids loading node:crypto in a one-shot run. */
function randomHex(): string {
  return Math.floor(Math.random() * 0x100000000)
    .toString(16)
    .padStart(8, "0");
}
