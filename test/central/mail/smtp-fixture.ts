import type { AddressInfo } from "node:net";
import { type ParsedMail, simpleParser } from "mailparser";
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from "smtp-server";

export { freePort } from "../../helpers/net.js";
export { makeSelfSignedCert } from "../../helpers/tls.js";

export interface ReceivedMail {
  parsed: ParsedMail;
  raw: Buffer;
  envelopeTo: string[];
  secure: boolean;
  user: string | null;
}

export interface SmtpFixtureOptions {
  port?: number;
  /** Require AUTH with these credentials (only after TLS). */
  auth?: { user: string; pass: string };
  /** Offer STARTTLS (or implicit TLS with `secure`) with this certificate. */
  tls?: { key: Buffer; cert: Buffer };
  secure?: boolean;
  /** RCPT TO these addresses is refused with 550. */
  rejectRecipients?: string[];
  /** Wait this long before accepting each message (lets concurrent senders interleave). */
  dataDelayMs?: number;
  /** Accept no message before this settles (lets a test line up concurrent senders). */
  gate?: Promise<void>;
  /** Called when DATA starts; return true to never answer (a hung server). */
  stallData?: (session: SMTPServerSession) => boolean;
}

export interface SmtpFixture {
  port: number;
  messages: ReceivedMail[];
  /** Connections seen, including failed ones. */
  connections: number;
  close(): Promise<void>;
  waitForMessages(n: number, timeoutMs?: number): Promise<void>;
}

export async function startSmtpServer(opts: SmtpFixtureOptions = {}): Promise<SmtpFixture> {
  const messages: ReceivedMail[] = [];
  const state = { connections: 0 };
  const options: SMTPServerOptions = {
    secure: opts.secure ?? false,
    ...(opts.tls !== undefined ? { key: opts.tls.key, cert: opts.tls.cert } : {}),
    disabledCommands: opts.tls === undefined ? ["STARTTLS"] : [],
    authOptional: opts.auth === undefined,
    allowInsecureAuth: false,
    logger: false,
    // Pooled clients keep connections open; don't let close() wait the default 30 s for them.
    closeTimeout: 100,
    onConnect(_session, cb) {
      state.connections++;
      cb();
    },
    onAuth(auth, _session, cb) {
      if (opts.auth !== undefined && auth.username === opts.auth.user && auth.password === opts.auth.pass) {
        cb(null, { user: auth.username });
      } else {
        cb(new Error("535 authentication failed"));
      }
    },
    onRcptTo(address, _session, cb) {
      if (opts.rejectRecipients?.includes(address.address)) {
        const err = new Error(`no such user ${address.address}`) as Error & { responseCode: number };
        err.responseCode = 550;
        cb(err);
        return;
      }
      cb();
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      const stall = opts.stallData?.(session) === true;
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        if (stall) return; // never answer: the client hangs until it is killed or times out
        const raw = Buffer.concat(chunks);
        const done = async () => {
          messages.push({
            parsed: await simpleParser(raw),
            raw,
            envelopeTo: session.envelope.rcptTo.map((r) => r.address),
            secure: session.secure,
            user: typeof session.user === "string" ? session.user : null,
          });
          cb(null, `OK queued as ${messages.length}`);
        };
        const delayed = () => {
          if (opts.dataDelayMs !== undefined) setTimeout(() => void done(), opts.dataDelayMs);
          else void done();
        };
        if (opts.gate !== undefined) void opts.gate.then(delayed);
        else delayed();
      });
    },
  };
  const server = new SMTPServer(options);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, "127.0.0.1", () => resolve());
  });
  server.on("error", () => {});
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    messages,
    get connections() {
      return state.connections;
    },
    close: () =>
      new Promise<void>((resolve) => {
        // smtp-server waits for open connections (pooled clients) up to closeTimeout; don't hang tests on it.
        const t = setTimeout(resolve, 2000);
        server.close(() => {
          clearTimeout(t);
          resolve();
        });
      }),
    async waitForMessages(n, timeoutMs = 10_000) {
      const until = Date.now() + timeoutMs;
      while (messages.length < n) {
        if (Date.now() > until) throw new Error(`expected ${n} messages, got ${messages.length}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
}

/** A 1×1 PNG, used as the inline chart of test messages. */
export const TINY_PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==",
  "base64",
);
