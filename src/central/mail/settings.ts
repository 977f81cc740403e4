import { readFileSync } from "node:fs";

/** An SMTP setting that is missing or malformed; the message names the variable. */
export class MailConfigError extends Error {
  override readonly name = "MailConfigError";
}

/**
 * Everything needed to talk to an SMTP server, parsed from SRVUTIL_SMTP_URL
 * plus the optional SRVUTIL_SMTP_* tuning variables (docs/delivery.md).
 * `password` is kept out of `describe()` and every log line.
 */
export interface SmtpSettings {
  /** smtps:// = implicit TLS (port 465); smtp:// = plain, upgraded with STARTTLS when offered. */
  secure: boolean;
  host: string;
  port: number;
  user: string | null;
  password: string | null;
  /** smtp:// only: refuse to send unless the server offers STARTTLS. */
  requireTls: boolean;
  /** PEM CA bundle trusted in addition to the system store (private mail servers). */
  caPem: string | null;
  /** Accept any certificate (self-signed test servers). Off by default. */
  allowSelfSigned: boolean;
  /** Keep up to `maxConnections` connections open and reuse them. */
  pool: boolean;
  maxConnections: number;
  /** Connection, greeting and socket inactivity timeouts. */
  timeoutMs: number;
}

/** The SMTP URL with the password replaced by ***, safe for logs and status output. */
export function redactSmtpUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== "") u.password = "***";
    return u.toString();
  } catch {
    return "<unparseable SMTP URL>";
  }
}

/**
 * The transport as logs and `report send` show it: scheme, user, host and
 * port as configured (an IPv6 host keeps its brackets), the password (if
 * any) as ***.
 */
export function describeSmtp(s: SmtpSettings): string {
  const auth = s.user === null ? "" : `${encodeURIComponent(s.user)}${s.password === null ? "" : ":***"}@`;
  const host = s.host.includes(":") ? `[${s.host}]` : s.host; // settings keep IPv6 unbracketed for nodemailer
  return `${s.secure ? "smtps" : "smtp"}://${auth}${host}:${s.port}`;
}

/**
 * Parses the SMTP URL and the SRVUTIL_SMTP_* variables. URL query parameters
 * are not used for options so that the URL can be copied from a mail
 * provider's settings page unchanged.
 */
export function parseSmtpSettings(url: string, env: NodeJS.ProcessEnv = process.env): SmtpSettings {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new MailConfigError(
      `SRVUTIL_SMTP_URL: not a URL (${redactSmtpUrl(url)}); expected smtp://user:pass@host:port or smtps://…`,
    );
  }
  if (u.protocol !== "smtp:" && u.protocol !== "smtps:") {
    throw new MailConfigError(`SRVUTIL_SMTP_URL: scheme must be smtp:// or smtps://, got ${u.protocol}//`);
  }
  if (u.hostname === "") throw new MailConfigError("SRVUTIL_SMTP_URL: the host is missing");
  const secure = u.protocol === "smtps:";
  const port = u.port === "" ? (secure ? 465 : 587) : Number(u.port);
  const user = u.username === "" ? null : decodeURIComponent(u.username);
  const password = u.password === "" ? null : decodeURIComponent(u.password);
  if (password !== null && user === null) {
    throw new MailConfigError("SRVUTIL_SMTP_URL: a password without a user name");
  }

  const caFile = nonEmpty(env.SRVUTIL_SMTP_CA_FILE);
  let caPem: string | null = null;
  if (caFile !== null) {
    try {
      caPem = readFileSync(caFile, "utf8");
    } catch (err) {
      throw new MailConfigError(
        `SRVUTIL_SMTP_CA_FILE: cannot read ${caFile} (${(err as Error).message}); expected a PEM file`,
      );
    }
    if (!caPem.includes("-----BEGIN CERTIFICATE-----")) {
      throw new MailConfigError(`SRVUTIL_SMTP_CA_FILE: ${caFile} contains no PEM certificate`);
    }
  }

  return {
    secure,
    host: u.hostname.replace(/^\[|\]$/g, ""),
    port,
    user,
    password,
    requireTls: bool(env, "SRVUTIL_SMTP_REQUIRE_TLS", false),
    caPem,
    allowSelfSigned: bool(env, "SRVUTIL_SMTP_ALLOW_SELF_SIGNED", false),
    pool: bool(env, "SRVUTIL_SMTP_POOL", true),
    maxConnections: int(env, "SRVUTIL_SMTP_MAX_CONNECTIONS", 2, 1),
    timeoutMs: int(env, "SRVUTIL_SMTP_TIMEOUT_SECONDS", 30, 1) * 1000,
  };
}

function nonEmpty(v: string | undefined): string | null {
  return v === undefined || v.trim() === "" ? null : v;
}

export function bool(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = nonEmpty(env[name]);
  if (raw === null) return fallback;
  if (/^(true|1|yes|on)$/i.test(raw)) return true;
  if (/^(false|0|no|off)$/i.test(raw)) return false;
  throw new MailConfigError(`${name}: expected true or false, got '${raw}'`);
}

export function int(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number): number {
  const raw = nonEmpty(env[name]);
  if (raw === null) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min) {
    throw new MailConfigError(`${name}: expected a whole number >= ${min}, got '${raw}'`);
  }
  return Number(raw);
}
