/**
 * The one HTTP POST every channel but email makes: a deadline on the whole
 * exchange (AbortSignal.timeout), no redirects followed, the answer's body
 * read up to a cap and cleaned, and every secret of the channel (its URL's
 * path and query where they are the secret, the token, the signing secret,
 * URL credentials) kept out of the answer and the errors, which are stored
 * and shown.
 */
import type { ChannelAnswer, ChannelConfig } from "../channel-types.js";
import { describeChannel, urlOrigin, urlPathIsSecret } from "./describe.js";
import { ChannelSendError, isPermanentHttpStatus } from "./send-error.js";

/** Bytes of an answer's body read: enough for an error message, never a whole page. */
export const ANSWER_BODY_MAX_BYTES = 4096;
/** Characters of the body kept in ChannelAnswer.response. */
export const ANSWER_TEXT_MAX_CHARS = 500;

export interface HttpPost {
  body: string;
  contentType: string;
  /** Extra headers; values must be ISO-8859-1 (fetch refuses others), see rfc2047(). */
  headers?: Record<string, string>;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: removing them is the point
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

/** Control characters (a hostile service can answer any) become spaces, whitespace runs one space, clipped. */
export function cleanAnswerText(text: string, maxChars = ANSWER_TEXT_MAX_CHARS): string {
  const flat = text.replace(CONTROL_CHARACTERS, " ").replace(/\s+/g, " ").trim();
  const chars = [...flat];
  return chars.length <= maxChars ? flat : `${chars.slice(0, maxChars - 1).join("")}…`;
}

/**
 * The strings of a channel that must never be shown. Path segments are
 * listed one by one as well because a service's 404 page may echo only part
 * of the path (Slack's token is the last segment).
 */
export function channelSecrets(config: ChannelConfig): string[] {
  const secrets: string[] = [];
  if (config.token !== null && config.token !== "") secrets.push(config.token);
  if (config.secret !== null && config.secret !== "") secrets.push(config.secret);
  if (config.url !== null) {
    try {
      const u = new URL(config.url);
      if (u.password !== "") secrets.push(u.password, decodeURIComponent(u.password));
      if (urlPathIsSecret(config.type)) {
        const rest = `${u.pathname}${u.search}`;
        if (rest !== "/" && rest !== "") secrets.push(rest, u.pathname);
        if (u.search !== "") secrets.push(u.search.slice(1));
        for (const segment of u.pathname.split("/")) {
          // Short segments ("api", "v1") say nothing and are common words of any error page.
          if (segment.length >= 6) secrets.push(segment, safeDecode(segment));
        }
        for (const value of u.searchParams.values()) if (value.length >= 6) secrets.push(value);
      }
    } catch {
      // An unparsable URL is refused before anything is sent; nothing of it is shown.
      secrets.push(config.url);
    }
  }
  // Longest first, so a whole path is replaced before its segments.
  return [...new Set(secrets.filter((s) => s !== ""))].sort((a, b) => b.length - a.length);
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * `text` with every secret replaced by "[redacted]". When the text was cut
 * (`truncated`), a tail that begins a secret is replaced too, so a cap that
 * falls inside a secret shows no part of it.
 */
export function redactText(text: string, secrets: readonly string[], truncated = false): string {
  let out = text;
  for (const secret of secrets) out = out.split(secret).join("[redacted]");
  if (truncated) {
    for (const secret of secrets) {
      for (let n = Math.min(secret.length - 1, out.length); n >= 4; n--) {
        if (out.endsWith(secret.slice(0, n))) {
          out = `${out.slice(0, out.length - n)}[redacted]`;
          break;
        }
      }
    }
  }
  return out;
}

async function readCapped(res: Response): Promise<{ text: string; truncated: boolean }> {
  if (res.body === null) return { text: "", truncated: false };
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    const room = ANSWER_BODY_MAX_BYTES - size;
    if (value.byteLength >= room) {
      chunks.push(value.subarray(0, room));
      truncated = true;
      break;
    }
    chunks.push(value);
    size += value.byteLength;
  }
  // Stop reading a huge or endless body: the rest is of no use to anyone.
  if (truncated) await reader.cancel().catch(() => {});
  return { text: Buffer.concat(chunks).toString("utf8"), truncated };
}

/** What went wrong before any answer, in words that carry no secret. */
function networkProblem(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === "TimeoutError" || e.name === "AbortError") return `no answer within ${timeoutMs} ms`;
  const cause = e.cause;
  if (cause !== undefined && typeof cause.message === "string") {
    const code =
      typeof cause.code === "string" && !cause.message.includes(cause.code) ? `${cause.code}: ` : "";
    return `${code}${cause.message}`;
  }
  return e.message ?? String(err);
}

/**
 * POSTs `post` to the channel's URL. Returns the answer of a 2xx; throws
 * ChannelSendError for anything else (a 3xx included: redirects are not
 * followed, so a moved URL is noticed instead of silently posting a secret
 * elsewhere).
 */
export async function postToChannel(config: ChannelConfig, post: HttpPost): Promise<ChannelAnswer> {
  const who = describeChannel(config);
  const secrets = channelSecrets(config);
  if (config.url === null || config.url === "") {
    throw new ChannelSendError(`${who}: no URL is configured`, true);
  }
  let url: URL;
  try {
    url = new URL(config.url);
  } catch {
    throw new ChannelSendError(`${who}: the URL does not parse`, true);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ChannelSendError(`${who}: the URL must be http:// or https://`, true);
  }
  const headers: Record<string, string> = {
    "content-type": post.contentType,
    "user-agent": "srvutil-alerts",
    ...(post.headers ?? {}),
  };
  // fetch refuses a URL with credentials; user:pass@ becomes Basic auth (an Alertmanager behind a proxy).
  if (url.username !== "" || url.password !== "") {
    const user = safeDecode(url.username);
    const pass = safeDecode(url.password);
    headers.authorization ??= `Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}`;
    url.username = "";
    url.password = "";
  }

  const signal = AbortSignal.timeout(config.timeoutMs);
  let res: Response;
  try {
    res = await fetch(url, { method: "POST", headers, body: post.body, redirect: "manual", signal });
  } catch (err) {
    const problem = redactText(networkProblem(err, config.timeoutMs), secrets);
    throw new ChannelSendError(`${who}: ${problem}`, false, null);
  }

  let body: { text: string; truncated: boolean };
  try {
    body = await readCapped(res);
  } catch (err) {
    // The status is known: a 2xx was accepted even if its body never finished.
    body = {
      text: `(the body could not be read: ${networkProblem(err, config.timeoutMs)})`,
      truncated: false,
    };
  }
  const statusLine = cleanAnswerText(
    `HTTP ${res.status}${res.statusText !== "" ? ` ${res.statusText}` : ""}`,
    100,
  );
  const bodyText = cleanAnswerText(redactText(body.text, secrets, body.truncated));
  const answer: ChannelAnswer = {
    status: res.status,
    response: redactText(bodyText === "" ? statusLine : `${statusLine}: ${bodyText}`, secrets),
  };
  if (res.status >= 200 && res.status < 300) return answer;

  if (res.status >= 300 && res.status < 400) {
    const location = res.headers.get("location");
    const to = location === null ? "" : ` to ${locationOrigin(location, url)}`;
    throw new ChannelSendError(
      `${who}: redirected${to} (HTTP ${res.status}); srvutil follows no redirects, so configure the final URL`,
      true,
      answer,
    );
  }
  throw new ChannelSendError(`${who}: ${answer.response}`, isPermanentHttpStatus(res.status), answer);
}

/** Where a redirect points, as scheme://host only (its path may be as secret as ours). */
function locationOrigin(location: string, base: URL): string {
  try {
    return urlOrigin(new URL(location, base).toString());
  } catch {
    return "(a bad Location)";
  }
}

/**
 * A header value as fetch accepts it: ASCII text unchanged, anything else
 * as an RFC 2047 encoded-word (`=?UTF-8?B?…?=`), which ntfy decodes.
 */
export function rfc2047(value: string): string {
  const flat = value.replace(CONTROL_CHARACTERS, " ");
  if (/^[\u0020-\u007e]*$/.test(flat)) return flat;
  return `=?UTF-8?B?${Buffer.from(flat, "utf8").toString("base64")}?=`;
}
