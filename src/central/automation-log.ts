import { appendFileSync, mkdirSync, renameSync, rmSync, statSync } from "node:fs";
import path from "node:path";

export type LogLevel = "debug" | "info" | "warn" | "error";

/** A rotation setting that is malformed; the message names the variable. */
export class LogConfigError extends Error {
  override readonly name = "LogConfigError";
}

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
 * Rotation settings from SRVUTIL_LOG_MAX_BYTES, SRVUTIL_LOG_MAX_FILES and
 * SRVUTIL_LOG_ROTATE_DAILY (see docs/delivery.md). Read here rather than in
 * the central config so that every `new AutomationLog(file)` in any module
 * gets the same bounded log without extra wiring.
 */
export function logRotationFromEnv(env: NodeJS.ProcessEnv = process.env): LogRotation {
  const int = (name: string, fallback: number, min: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === "") return fallback;
    if (!/^\d+$/.test(raw) || Number(raw) < min) {
      throw new LogConfigError(`${name}: expected an integer >= ${min}, got '${raw}'`);
    }
    return Number(raw);
  };
  const dailyRaw = env.SRVUTIL_LOG_ROTATE_DAILY;
  let daily = DEFAULT_LOG_ROTATION.daily;
  if (dailyRaw !== undefined && dailyRaw !== "") {
    if (!/^(true|false|1|0|yes|no)$/i.test(dailyRaw)) {
      throw new LogConfigError(`SRVUTIL_LOG_ROTATE_DAILY: expected true or false, got '${dailyRaw}'`);
    }
    daily = /^(true|1|yes)$/i.test(dailyRaw);
  }
  return {
    maxBytes: int("SRVUTIL_LOG_MAX_BYTES", DEFAULT_LOG_ROTATION.maxBytes, 0),
    maxFiles: int("SRVUTIL_LOG_MAX_FILES", DEFAULT_LOG_ROTATION.maxFiles, 1),
    daily,
  };
}

/** `scheme://user:secret@host` → `scheme://user:***@host`, anywhere in a string. */
export function redactSecrets(text: string): string {
  return text.replace(/([A-Za-z][A-Za-z0-9+.-]*:\/\/[^:/@\s]*:)[^@\s/]+@/g, "$1***@");
}

/**
 * Logs/automation.log: one JSON object per line for every run, upload,
 * report and delivery, so operators can grep and machines can parse it.
 * Writes are synchronous appends: the log must survive a crash right after
 * the step it records.
 *
 * The file is rotated (automation.log → .1 → .2 …, at most `maxFiles` kept)
 * when it would exceed `maxBytes` or, with `daily`, at the first write of a
 * new UTC day, so the log never fills the disk. Several processes (two
 * `central serve`, a CLI run) may share the file: each checks the size on
 * disk before writing, and a rotation that lost a race to another process is
 * harmless (at worst one extra rotation).
 *
 * Credentials in URLs (`smtp://user:pass@…`) are redacted from every line as
 * a safety net; callers should still not pass secrets.
 */
export class AutomationLog {
  readonly rotation: LogRotation;

  constructor(
    readonly file: string,
    rotation: Partial<LogRotation> = logRotationFromEnv(),
  ) {
    this.rotation = { ...DEFAULT_LOG_ROTATION, ...rotation };
    mkdirSync(path.dirname(file), { recursive: true });
  }

  write(level: LogLevel, event: string, fields: Record<string, unknown> = {}): void {
    const now = new Date();
    const line = `${redactSecrets(JSON.stringify({ time: now.toISOString(), level, event, ...fields }, jsonSafe))}\n`;
    try {
      this.rotateIfNeeded(Buffer.byteLength(line), now);
    } catch {
      // A failed rotation must never stop the step being logged; appending is what matters.
    }
    appendFileSync(this.file, line);
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

  private rotateIfNeeded(incoming: number, now: Date): void {
    const { maxBytes, daily } = this.rotation;
    if (maxBytes === 0 && !daily) return;
    let st: { size: number; mtimeMs: number };
    try {
      st = statSync(this.file);
    } catch {
      return; // no file yet
    }
    if (st.size === 0) return;
    const tooBig = maxBytes > 0 && st.size + incoming > maxBytes;
    const newDay = daily && utcDay(st.mtimeMs) !== utcDay(now.getTime());
    if (tooBig || newDay) this.rotate();
  }

  private rotate(): void {
    const { maxFiles } = this.rotation;
    rmSync(`${this.file}.${maxFiles}`, { force: true });
    for (let i = maxFiles - 1; i >= 1; i--) renameIfExists(`${this.file}.${i}`, `${this.file}.${i + 1}`);
    renameIfExists(this.file, `${this.file}.1`);
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
