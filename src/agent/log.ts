import { appendFileSync, mkdirSync, renameSync, statSync } from "node:fs";
import { join } from "node:path";

export type LogLevel = "info" | "warn" | "error";

/** Keep one previous file; an agent's log should never fill a disk it monitors. */
const MAX_LOG_BYTES = 10 * 1024 * 1024;

/**
 * `text` as one terminal line: every run of whitespace or control characters
 * (a proxy's multi-line 502 page, a stray `\r`) becomes one space. Output that
 * shares a terminal, cron mail or journald with other lines must end each
 * line itself and never move the cursor back over another one.
 */
export function oneLine(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this removes
  return text.replace(/[\s\u0000-\u001f\u007f]+/g, " ").trim();
}

/**
 * JSON-lines log in `<agentDir>/Logs/agent.log`: one object per line with
 * `time`, `level`, `event`, `msg` and event fields. Warnings and errors are also
 * echoed to stderr (one line) so cron mail and journald show them. Never pass
 * secrets in `fields`: the config object is only logged through describeConfig.
 */
export class AgentLog {
  readonly path: string;
  private readonly echo: boolean;
  private writesSinceSizeCheck = Number.POSITIVE_INFINITY;

  constructor(logDir: string, options: { echoToStderr?: boolean } = {}) {
    mkdirSync(logDir, { recursive: true });
    this.path = join(logDir, "agent.log");
    this.echo = options.echoToStderr ?? true;
  }

  info(event: string, msg: string, fields: Record<string, unknown> = {}): void {
    this.write("info", event, msg, fields);
  }
  warn(event: string, msg: string, fields: Record<string, unknown> = {}): void {
    this.write("warn", event, msg, fields);
  }
  error(event: string, msg: string, fields: Record<string, unknown> = {}): void {
    this.write("error", event, msg, fields);
  }

  private write(level: LogLevel, event: string, msg: string, fields: Record<string, unknown>): void {
    const line = `${JSON.stringify({ time: new Date().toISOString(), level, event, msg, ...fields })}\n`;
    try {
      this.rotateIfLarge();
      appendFileSync(this.path, line, { mode: 0o600 });
    } catch {
      // Logging must never stop metrics collection (full disk, read-only dir).
    }
    if (this.echo && level !== "info") process.stderr.write(`srvutil-agent: ${level}: ${oneLine(msg)}\n`);
  }

  private rotateIfLarge(): void {
    // Checked at start and every 500 lines, not on every write.
    if (this.writesSinceSizeCheck++ < 500) return;
    this.writesSinceSizeCheck = 0;
    try {
      if (statSync(this.path).size > MAX_LOG_BYTES) renameSync(this.path, `${this.path}.1`);
    } catch {
      // no log yet
    }
  }
}
