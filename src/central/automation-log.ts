import { closeSync, fstatSync, mkdirSync, openSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
import path from "node:path";

export type LogLevel = "debug" | "info" | "warn" | "error";

export interface LogRotation {
  /** Rotate before a write would make the file larger than this. 0 disables size rotation. */
  maxBytes: number;
  /** Rotated files kept (automation.log.1 … .N); older ones are deleted. At least 1. */
  maxFiles: number;
  /** Also rotate when the file was last written on an earlier UTC day. */
  daily: boolean;
}

export const DEFAULT_LOG_ROTATION: LogRotation = { maxBytes: 10 * 1024 * 1024, maxFiles: 5, daily: false };

/**
 * `scheme://user:secret@host` → `scheme://user:***@host`, anywhere in a
 * string; only the password goes, user, host and port stay readable. The
 * text is a JSON line, so a match never leaves the JSON string it starts in
 * (no bare `"`; `\"` and other escapes are part of the string): otherwise
 * `"smtp://127.0.0.1:1","from":"srvutil <srvutil@localhost>"` read as user
 * `127.0.0.1`, password `1","from":"srvutil <srvutil` and hid the port.
 */
export function redactSecrets(text: string): string {
  return text.replace(/([A-Za-z][A-Za-z0-9+.-]*:\/\/(?:[^:/@\s"\\]|\\.)*:)(?:[^@\s/"\\]|\\.)+@/g, "$1***@");
}

/**
 * Logs/automation.log: one JSON object per line for every run, upload,
 * report and delivery, so operators can grep and machines can parse it.
 * Writes are synchronous appends: the log must survive a crash right after
 * the step it records.
 *
 * The file is rotated (automation.log → .1 → .2 …, at most `maxFiles` kept)
 * when it would exceed `maxBytes` or, with `daily`, at the first write of a
 * new UTC day, so the log never fills the disk.
 *
 * The file stays open and its size is tracked in memory: an upload is one
 * line, and re-opening and stat-ing the file for every line cost more than
 * the line itself at thousands of uploads a second. Several processes (two
 * `central serve`, a CLI run) may share the file, so at most every
 * `RECHECK_MS` the path is stat-ed again: a file another process rotated away
 * is reopened, and the size others appended counts toward `maxBytes`. In
 * between, lines may land in a file another process just rotated (kept as
 * automation.log.1, nothing lost) and the file may pass `maxBytes` by what
 * others wrote in that second. A rotation that lost a race to another process
 * is harmless (at worst one extra rotation).
 *
 * Credentials in URLs (`smtp://user:pass@…`) are redacted from every line as
 * a safety net; callers should still not pass secrets.
 */
/** How often a writer looks at the file on disk again (another process may have rotated or grown it). */
const RECHECK_MS = 1000;

export class AutomationLog {
  readonly rotation: LogRotation;
  private fd: number | null = null;
  /** Identity of the open file, to notice that the path now names another one. */
  private ino = -1;
  /** Bytes in the open file, as far as this process knows. */
  private size = 0;
  /** UTC day of the last write to the file (for daily rotation). */
  private day = "";
  private checkedAt = Number.NEGATIVE_INFINITY;

  constructor(
    readonly file: string,
    rotation: Partial<LogRotation> = DEFAULT_LOG_ROTATION,
  ) {
    this.rotation = { ...DEFAULT_LOG_ROTATION, ...rotation };
    mkdirSync(path.dirname(file), { recursive: true });
  }

  write(level: LogLevel, event: string, fields: Record<string, unknown> = {}): void {
    const now = new Date();
    const line = `${redactSecrets(JSON.stringify({ time: now.toISOString(), level, event, ...fields }, jsonSafe))}\n`;
    const bytes = Buffer.from(line);
    try {
      this.rotateIfNeeded(bytes.length, now);
    } catch {
      // A failed rotation must never stop the step being logged; appending is what matters.
    }
    if (this.fd === null) this.open();
    // O_APPEND: each line lands whole at the end, even with other writers.
    writeSync(this.fd!, bytes);
    this.size += bytes.length;
    this.day = utcDay(now.getTime());
  }

  /** Closes the file (a later write reopens it). */
  close(): void {
    if (this.fd === null) return;
    const fd = this.fd;
    this.fd = null;
    closeSync(fd);
  }

  info(event: string, fields?: Record<string, unknown>): void {
    this.write("info", event, fields);
  }

  warn(event: string, fields?: Record<string, unknown>): void {
    this.write("warn", event, fields);
  }

  error(event: string, fields?: Record<string, unknown>): void {
    this.write("error", event, fields);
  }

  /** Rotated files that currently exist, newest first (automation.log.1, .2, …). */
  rotatedFiles(): string[] {
    const out: string[] = [];
    for (let i = 1; i <= this.rotation.maxFiles; i++) {
      const f = `${this.file}.${i}`;
      try {
        statSync(f);
        out.push(f);
      } catch {
        // gaps are possible after a concurrent rotation
      }
    }
    return out;
  }

  private open(): void {
    this.fd = openSync(this.file, "a");
    const st = fstatSync(this.fd);
    this.ino = st.ino;
    this.size = st.size;
    this.day = st.size > 0 ? utcDay(st.mtimeMs) : "";
    this.checkedAt = Date.now();
  }

  /** Looks at the path again: reopens when another process rotated the file, picks up their appends. */
  private recheck(nowMs: number): void {
    this.checkedAt = nowMs;
    if (this.fd === null) return;
    let st: { ino: number; size: number; mtimeMs: number } | null = null;
    try {
      st = statSync(this.file);
    } catch {
      // Renamed away and not yet recreated.
    }
    if (st === null || st.ino !== this.ino) {
      this.close();
      return; // the next write reopens (and reads the new file's size)
    }
    this.size = st.size;
    if (st.size > 0) this.day = utcDay(st.mtimeMs);
  }

  private rotateIfNeeded(incoming: number, now: Date): void {
    const nowMs = now.getTime();
    if (nowMs - this.checkedAt >= RECHECK_MS) this.recheck(nowMs);
    if (this.fd === null) this.open();
    const { maxBytes, daily } = this.rotation;
    if (maxBytes === 0 && !daily) return;
    if (this.size === 0) return;
    const tooBig = maxBytes > 0 && this.size + incoming > maxBytes;
    const newDay = daily && this.day !== "" && this.day !== utcDay(nowMs);
    if (tooBig || newDay) this.rotate();
  }

  private rotate(): void {
    this.close();
    const { maxFiles } = this.rotation;
    rmSync(`${this.file}.${maxFiles}`, { force: true });
    for (let i = maxFiles - 1; i >= 1; i--) renameIfExists(`${this.file}.${i}`, `${this.file}.${i + 1}`);
    renameIfExists(this.file, `${this.file}.1`);
    this.open();
  }
}

function renameIfExists(from: string, to: string): void {
  try {
    renameSync(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
}

function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** Errors become {name, message}; bigint becomes a string, so a log call never throws. */
function jsonSafe(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message };
  if (typeof value === "bigint") return value.toString();
  return value;
}
