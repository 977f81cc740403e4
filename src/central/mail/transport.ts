import { randomBytes } from "node:crypto";
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { isIP } from "node:net";
import path from "node:path";
import nodemailer, { type Transporter } from "nodemailer";
import type Mail from "nodemailer/lib/mailer/index.js";
import { SrvutilError } from "../../errors.js";
import { describeSmtp, type SmtpSettings } from "./settings.js";

export interface InlineImage {
  /** Content-ID referenced as cid:… in the HTML. */
  cid: string;
  filename: string;
  contentType: string;
  content: Buffer;
}

/** A file attached to a message (Content-Disposition: attachment). */
export interface MailAttachment {
  filename: string;
  contentType: string;
  content: Buffer;
}

/**
 * One message: multipart/alternative (text + HTML), the HTML with its inline
 * images (multipart/related), and files attached beside them (multipart/mixed).
 */
export interface OutgoingMail {
  /** `<…@host>`, stable per (week, group) so that a resend is recognizable. */
  messageId: string;
  from: string;
  to: readonly string[];
  cc: readonly string[];
  bcc: readonly string[];
  subject: string;
  html: string;
  text: string;
  images: readonly InlineImage[];
  /** Files attached to the message, e.g. the full report. */
  attachments?: readonly MailAttachment[];
  headers?: Record<string, string>;
  /** Base name of the .eml in the outbox ([A-Za-z0-9._-] only); ignored by SMTP. */
  outboxName?: string;
}

export interface MailSendResult {
  transport: "smtp" | "outbox";
  messageId: string;
  /** The server's final reply (e.g. "250 OK: queued as …"), or where the outbox file went. */
  response: string;
  accepted: string[];
  /** Recipients the server refused while accepting the others. */
  rejected: string[];
  /** The .eml written (outbox only). */
  file?: string;
}

export interface MailTransport {
  readonly kind: "smtp" | "outbox";
  /** For logs and status: never contains a password. */
  readonly description: string;
  send(mail: OutgoingMail): Promise<MailSendResult>;
  close(): void;
}

/**
 * A failed send. `permanent` marks replies that retrying cannot fix (a 5xx
 * to the envelope or the message, e.g. every recipient refused); everything
 * else (connection refused, timeouts, 4xx, TLS, auth) is retried because an
 * operator may fix it while retries are still running.
 */
export class MailSendError extends SrvutilError {
  constructor(
    message: string,
    readonly permanent: boolean,
    readonly code: string | null,
    readonly responseCode: number | null,
    /** The server's reply as it sent it (e.g. "550 5.1.1 no such user"), when it answered. */
    readonly response: string | null = null,
    /** The SMTP command it answered (e.g. "RCPT TO", "AUTH PLAIN"), when known. */
    readonly command: string | null = null,
  ) {
    // A permanent refusal (recipients, sender, credentials) is ours to fix; anything else is the server being away.
    super(permanent ? "bad_config" : "unavailable", message);
  }
}

function toMailOptions(mail: OutgoingMail): Mail.Options {
  return {
    messageId: mail.messageId,
    from: mail.from,
    to: [...mail.to],
    cc: [...mail.cc],
    bcc: [...mail.bcc],
    subject: mail.subject,
    text: mail.text,
    html: mail.html,
    headers: mail.headers,
    attachments: [
      ...mail.images.map((img) => ({
        cid: img.cid,
        filename: img.filename,
        contentType: img.contentType,
        content: img.content,
        contentDisposition: "inline" as const,
      })),
      ...(mail.attachments ?? []).map((a) => ({
        filename: a.filename,
        contentType: a.contentType,
        content: a.content,
        contentDisposition: "attachment" as const,
      })),
    ],
  };
}

function addresses(list: ReadonlyArray<string | { address: string }> | undefined): string[] {
  return (list ?? []).map((a) => (typeof a === "string" ? a : a.address));
}

/** SMTP through nodemailer: implicit TLS or STARTTLS, auth, a connection pool, timeouts. */
export class SmtpMailTransport implements MailTransport {
  readonly kind = "smtp" as const;
  readonly description: string;
  private readonly transporter: Transporter;

  constructor(settings: SmtpSettings) {
    this.description = describeSmtp(settings);
    const tls = {
      // SNI must be a host name (RFC 6066); an IP address is verified against the certificate's IP SANs.
      ...(isIP(settings.host) === 0 ? { servername: settings.host } : {}),
      rejectUnauthorized: !settings.allowSelfSigned,
      ...(settings.caPem !== null ? { ca: [settings.caPem] } : {}),
    };
    const common = {
      host: settings.host,
      port: settings.port,
      secure: settings.secure,
      requireTLS: settings.requireTls,
      auth: settings.user !== null ? { user: settings.user, pass: settings.password ?? "" } : undefined,
      tls,
      connectionTimeout: settings.timeoutMs,
      greetingTimeout: settings.timeoutMs,
      socketTimeout: settings.timeoutMs * 2,
      dnsTimeout: settings.timeoutMs,
      // nodemailer's own logger would print the AUTH exchange; we log our own steps.
      logger: false,
      debug: false,
    };
    this.transporter = settings.pool
      ? nodemailer.createTransport({ ...common, pool: true, maxConnections: settings.maxConnections })
      : nodemailer.createTransport(common);
  }

  async send(mail: OutgoingMail): Promise<MailSendResult> {
    try {
      const info = await this.transporter.sendMail(toMailOptions(mail));
      return {
        transport: "smtp",
        messageId: info.messageId ?? mail.messageId,
        response: String(info.response ?? ""),
        accepted: addresses(info.accepted),
        rejected: addresses(info.rejected),
      };
    } catch (err) {
      throw classifySmtpError(err);
    }
  }

  close(): void {
    this.transporter.close();
  }
}

export function classifySmtpError(err: unknown): MailSendError {
  const e = err as {
    message?: string;
    code?: string;
    responseCode?: number;
    response?: string;
    command?: string;
  };
  const code = typeof e.code === "string" ? e.code : null;
  const responseCode = typeof e.responseCode === "number" ? e.responseCode : null;
  const permanent =
    responseCode !== null &&
    responseCode >= 500 &&
    responseCode < 600 &&
    (code === "EENVELOPE" || code === "EMESSAGE");
  const parts = [e.message ?? String(err)];
  if (code !== null && !(e.message ?? "").includes(code)) parts.push(`(${code})`);
  return new MailSendError(
    parts.join(" "),
    permanent,
    code,
    responseCode,
    typeof e.response === "string" ? e.response : null,
    typeof e.command === "string" ? e.command : null,
  );
}

/**
 * The default transport when no SMTP server is configured: each message is
 * written as a complete .eml file into the outbox folder (atomically: temp
 * file, fsync, rename), where any mail client can open it.
 */
export class OutboxMailTransport implements MailTransport {
  readonly kind = "outbox" as const;
  readonly description: string;
  private readonly composer = nodemailer.createTransport({
    streamTransport: true,
    buffer: true,
    newline: "unix",
  });

  constructor(readonly dir: string) {
    this.description = `outbox ${dir}`;
  }

  async send(mail: OutgoingMail): Promise<MailSendResult> {
    const info = await this.composer.sendMail(toMailOptions(mail));
    const raw = info.message as Buffer;
    mkdirSync(this.dir, { recursive: true });
    const base = safeOutboxName(mail.outboxName ?? `message-${Date.now()}`);
    let file = path.join(this.dir, `${base}.eml`);
    for (let n = 2; existsSync(file) && n < 10_000; n++) file = path.join(this.dir, `${base}.${n}.eml`);
    writeFileAtomic(file, raw);
    const recipients = [...mail.to, ...mail.cc, ...mail.bcc];
    return {
      transport: "outbox",
      messageId: info.messageId ?? mail.messageId,
      response: `written to ${file}`,
      accepted: recipients,
      rejected: [],
      file,
    };
  }

  close(): void {}
}

function safeOutboxName(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9._-]/g, "_").replace(/^\.+/, "");
  return cleaned === "" ? "message" : cleaned.slice(0, 120);
}

/** temp file + fsync + rename, so a crash never leaves a half-written .eml under the final name. */
export function writeFileAtomic(file: string, data: Buffer | string): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString("hex")}.tmp`);
  const fd = openSync(tmp, "wx", 0o640);
  try {
    writeSync(fd, typeof data === "string" ? Buffer.from(data) : data);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, file);
  try {
    const dirFd = openSync(path.dirname(file), "r");
    fsyncSync(dirFd);
    closeSync(dirFd);
  } catch {
    // Directory fsync is not supported everywhere (Windows); the rename itself is still atomic.
  }
}
