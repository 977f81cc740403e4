import os from "node:os";
import { parseSmtpSettings } from "../central/mail/settings.js";
import { MailSendError, SmtpMailTransport } from "../central/mail/transport.js";
import { ConfigError, EXIT_CODE, usageError } from "../errors.js";
import { centralConfigFromEnv } from "./central-config.js";

// What `srvutil report test-mail` runs (wired in ./report-delivery.ts, loaded only then).

/**
 * Sends one small message through the configured SMTP server, without the
 * pool, and prints the server's answer as it sent it: the final reply on
 * success (with the accepted and refused recipients), or the refusal with
 * the command it refused. The exit code is 0 only when every recipient was
 * accepted.
 */
export async function testMailCommand(opts: { to: string[]; version: string }): Promise<number> {
  const version = opts.version;
  const config = centralConfigFromEnv();
  const bad = opts.to.filter((a) => !/^[^\s@<>,]+@[^\s@<>,]+$/.test(a));
  if (opts.to.length === 0 || bad.length > 0) {
    throw usageError(`--to: expected an email address like ops@example.com, got '${bad[0] ?? ""}'`);
  }
  if (config.smtpUrl === null) {
    throw new ConfigError(
      "SRVUTIL_SMTP_URL: not set, so no email is ever sent (reports only go to the outbox folder); " +
        "set it as docs/mail.md shows, then run this again",
    );
  }
  const settings = parseSmtpSettings(config.smtpUrl, { ...config.smtp, pool: false });
  const transport = new SmtpMailTransport(settings);
  const out = (line: string) => process.stdout.write(`${line}\n`);
  out(
    `server:  ${transport.description}${settings.secure ? " (TLS)" : settings.requireTls ? " (STARTTLS required)" : " (STARTTLS when offered)"}`,
  );
  out(`from:    ${config.mailFrom}`);
  out(`to:      ${opts.to.join(", ")}`);
  const sentAt = new Date();
  try {
    const result = await transport.send({
      messageId: `<srvutil.test.${sentAt.getTime()}@${os.hostname().replace(/[^A-Za-z0-9.-]/g, "-") || "localhost"}>`,
      from: config.mailFrom,
      to: opts.to,
      cc: [],
      bcc: [],
      subject: `srvutil test mail from ${os.hostname()}`,
      text:
        `This is a test message from srvutil ${version} on ${os.hostname()}, sent ${sentAt.toISOString()}.\n` +
        `If you read it, the weekly report will reach this address too.\n`,
      html:
        `<p>This is a test message from srvutil ${version} on ${escapeHtml(os.hostname())}, sent ${sentAt.toISOString()}.</p>` +
        "<p>If you read it, the weekly report will reach this address too.</p>",
      images: [],
      headers: { "X-Srvutil-Test": "1" },
    });
    out(`answer:  ${result.response}`);
    out(`accepted: ${result.accepted.length > 0 ? result.accepted.join(", ") : "-"}`);
    out(`refused:  ${result.rejected.length > 0 ? result.rejected.join(", ") : "-"}`);
    out(`message-id: ${result.messageId}`);
    if (result.rejected.length > 0) {
      out("Some recipients were refused: the server did not take the message for them.");
      return 1;
    }
    out(
      "The server accepted the message. If it does not arrive, look in the spam folder and at the sender (docs/mail.md).",
    );
    return 0;
  } catch (err) {
    if (!(err instanceof MailSendError)) throw err;
    const answer =
      err.response !== null
        ? `${err.response}${err.command !== null ? ` (to ${err.command})` : ""}`
        : `no SMTP answer: ${err.message}`;
    out(`answer:  ${answer}`);
    const hint = hintFor(err, settings.host);
    if (hint !== null) out(`hint:    ${hint}`);
    return EXIT_CODE[err.category];
  } finally {
    transport.close();
  }
}

/** What usually causes each failure (docs/mail.md has the recipes). */
function hintFor(err: MailSendError, host: string): string | null {
  const gmail = /(^|\.)(gmail|googlemail)\.com$/i.test(host);
  if (err.command === "CONN" && err.response === null) {
    return "the server did not answer: check the host and port (587 STARTTLS, 465 smtps://) and the firewall";
  }
  switch (err.code) {
    case "EAUTH":
      return gmail
        ? "Gmail refuses the account password: create an app password (it needs 2-Step Verification) and use it; write @ in the user name as %40"
        : "the server refused the user name or password; a user name with @ is written %40 in SRVUTIL_SMTP_URL";
    case "EENVELOPE":
      return "the server refused the sender or a recipient; many servers accept only SRVUTIL_MAIL_FROM = the account you log in with";
    case "ECONNECTION":
    case "ETIMEDOUT":
    case "EDNS":
      return "the server did not answer: check the host and port (587 STARTTLS, 465 smtps://) and the firewall";
    case "ETLS":
    case "ESOCKET":
      return "TLS failed: smtps:// is for port 465, smtp:// (STARTTLS) for 587; a private CA needs SRVUTIL_SMTP_CA_FILE";
    default:
      return null;
  }
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
