import { appendFileSync, mkdirSync } from "node:fs";
import path from "node:path";

export type LogLevel = "debug" | "info" | "warn" | "error";

/**
 * Logs/automation.log: one JSON object per line for every run, upload,
 * report and delivery, so operators can grep and machines can parse it.
 * Writes are synchronous appends: the log must survive a crash right after
 * the step it records.
 */
export class AutomationLog {
  constructor(readonly file: string) {
    mkdirSync(path.dirname(file), { recursive: true });
  }

  write(level: LogLevel, event: string, fields: Record<string, unknown> = {}): void {
    const line = JSON.stringify({ time: new Date().toISOString(), level, event, ...fields });
    appendFileSync(this.file, `${line}\n`);
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
}
