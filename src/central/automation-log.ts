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
  // A match is tried only where a run of scheme characters begins (the
  // lookbehind), its leading digits and signs kept in the group: the same
  // matches as trying every position, in linear time. Tried at every
  // position, a long run of letters (a 1 MB server_name a client sent) cost
  // quadratic time: 19 s for 70 KB, the event loop blocked meanwhile.
  return text.replace(
    /(?<![A-Za-z0-9+.-])([0-9+.-]*[A-Za-z][A-Za-z0-9+.-]*:\/\/(?:[^:/@\s"\\]|\\.)*:)(?:[^@\s/"\\]|\\.)+@/g,
    "$1***@",
  );
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
/**
 * Longest line written, in bytes (without the line end). A longer entry is
 * shortened (long strings clipped, long lists cut, `truncated` and
 * `original_bytes` added): one entry must never be able to rotate the
 * history away, as an 85 MB list of skipped lines once did.
 */
export const MAX_LOG_LINE_BYTES = 8192;
/** Characters of one string value kept in a shortened entry. */
const CLIPPED_STRING_CHARS = 512;
/** Items of one list kept in a shortened entry. */
const CLIPPED_LIST_ITEMS = 10;

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
    const json = redactSecrets(
      JSON.stringify({ time: now.toISOString(), level, event, ...fields }, jsonSafe),
    );
    const bytes = Buffer.from(`${boundedLine(json)}\n`);
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

/**
 * The JSON line itself when it fits MAX_LOG_LINE_BYTES, else a shortened
 * entry that still parses and keeps time, level, event and the short fields.
 * Works on the redacted JSON, so clipping never leaves half a secret behind.
 */
function boundedLine(json: string): string {
  // Every UTF-16 unit is at most 3 bytes in UTF-8: most lines need no byte count.
  if (json.length * 3 <= MAX_LOG_LINE_BYTES) return json;
  const originalBytes = Buffer.byteLength(json);
  if (originalBytes <= MAX_LOG_LINE_BYTES) return json;
  const entry = JSON.parse(json) as Record<string, unknown>;
  const shortened: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(entry)) shortened[key] = shorten(value, 0);
  shortened.truncated = true;
  shortened.original_bytes = originalBytes;
  const line = JSON.stringify(shortened);
  if (Buffer.byteLength(line) <= MAX_LOG_LINE_BYTES) return line;
  // Still too long (many fields): keep only what names the entry.
  return JSON.stringify({
    time: entry.time,
    level: entry.level,
    event: clip(String(entry.event), 200),
    truncated: true,
    original_bytes: originalBytes,
    // At most 16 names of 48 characters: inside the limit even at 6 bytes a
    // character (JSON's \uXXXX escapes of control characters).
    fields: Object.keys(entry)
      .slice(0, 16)
      .map((k) => clip(k, 48)),
  });
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length} characters)`;
}

function shorten(value: unknown, depth: number): unknown {
  if (typeof value === "string") return clip(value, CLIPPED_STRING_CHARS);
  if (value === null || typeof value !== "object") return value;
  if (depth >= 3) return "…";
  if (Array.isArray(value)) {
    const kept = value.slice(0, CLIPPED_LIST_ITEMS).map((v) => shorten(v, depth + 1));
    if (value.length > CLIPPED_LIST_ITEMS) kept.push(`… (${value.length} items)`);
    return kept;
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value).slice(0, 20)) out[k] = shorten(v, depth + 1);
  return out;
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
