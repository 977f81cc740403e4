import { readFileSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import { join } from "node:path";
import { formatTagList, TAGS_HEADER, type Tags } from "../protocol/tags.js";
import type { UploadPolicy } from "./config.js";
import { describeConnectionError } from "./connection-errors.js";
import { tryLock } from "./lock.js";
import { type AgentLog, oneLine } from "./log.js";
import type { SpoolDirectory, SpoolFile } from "./spool.js";
import { agentUserAgentHeader } from "./version.js";

export interface UploadTarget {
  endpoint: URL;
  token: string;
  /** Extra CA certificates (PEM) for a private-CA HTTPS central. */
  ca: Buffer | null;
  /** The X-Srvutil-Tags value (`env=prod,team=payments`); "" or absent: no header (no tags declared). */
  tags?: string;
}

export function uploadTarget(
  endpoint: URL,
  token: string,
  caFile: string | null,
  tags: Tags = {},
): UploadTarget {
  return { endpoint, token, ca: caFile === null ? null : readFileSync(caFile), tags: formatTagList(tags) };
}

/** What one POST came to. */
export type PostOutcome =
  | {
      kind: "accepted";
      status: number;
      uploadId: string | null;
      rows: number | null;
      duplicates: number | null;
    }
  /** The central's own 400/413/422 about the file itself: never retried; the file goes to rejected/. */
  | { kind: "rejected"; status: number; error: string }
  /**
   * A setting is wrong, not the file: a refused token or server name
   * (401/403), a wrong URL (404, 405, an answer that is not the central's
   * own, e.g. a proxy's HTML page), HTTPS against plain HTTP, an untrusted
   * certificate, a host name that does not resolve. Stop, keep the files.
   */
  | { kind: "misconfigured"; status: number | null; error: string }
  /** Network error, timeout, 5xx, 429: try again later. */
  | { kind: "retry"; status: number | null; error: string; retryAfterMs: number | null };

const MAX_RESPONSE_BYTES = 64 * 1024;

/**
 * POSTs one CSV body, gzip-compressed, and classifies the answer. Never
 * throws for HTTP or network trouble: those are outcomes the caller decides on.
 */
export async function postMetrics(
  target: UploadTarget,
  csv: Buffer,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<PostOutcome> {
  // Loaded on first use: a collection that uploads nothing (or only over
  // plain HTTP) does not pay for TLS and zlib in start-up time and memory.
  const url = target.endpoint;
  const isHttps = url.protocol === "https:";
  const [{ gzipSync }, { request }] = await Promise.all([
    import("node:zlib"),
    isHttps ? import("node:https") : import("node:http"),
  ]);
  const body = gzipSync(csv);
  return new Promise((resolve) => {
    let settled = false;
    const finish = (outcome: PostOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      signal?.removeEventListener("abort", onAbort);
      resolve(outcome);
    };
    const options = {
      method: "POST",
      headers: {
        authorization: `Bearer ${target.token}`,
        "content-type": "text/csv; charset=utf-8",
        "content-encoding": "gzip",
        "content-length": String(body.length),
        accept: "application/json",
        "user-agent": agentUserAgentHeader(),
        ...(target.tags !== undefined && target.tags !== "" ? { [TAGS_HEADER]: target.tags } : {}),
      },
      timeout: timeoutMs,
      ...(isHttps && target.ca !== null ? { ca: target.ca } : {}),
    };
    const req = request(url, options, (res) => {
      readBody(res).then(
        (text) => finish(classify(url, res, text)),
        (err: Error) =>
          finish({
            kind: "retry",
            status: null,
            error: `response cut off: ${err.message}`,
            retryAfterMs: null,
          }),
      );
    });
    // Whole-request deadline: the socket timeout alone misses a server that trickles bytes.
    const deadline = setTimeout(() => {
      req.destroy(new Error(`no complete answer within ${timeoutMs} ms`));
    }, timeoutMs);
    const onAbort = () => req.destroy(new Error("upload aborted (agent shutting down)"));
    signal?.addEventListener("abort", onAbort, { once: true });
    req.on("timeout", () => req.destroy(new Error(`socket idle for ${timeoutMs} ms`)));
    req.on("error", (err: NodeJS.ErrnoException) => {
      const problem = describeConnectionError(err, url);
      finish(
        problem.configuration
          ? { kind: "misconfigured", status: null, error: problem.message }
          : { kind: "retry", status: null, error: problem.message, retryAfterMs: null },
      );
    });
    req.end(body);
  });
}

function readBody(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on("data", (c: Buffer) => {
      size += c.length;
      if (size <= MAX_RESPONSE_BYTES) chunks.push(c);
    });
    res.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    res.on("error", reject);
    res.on("aborted", () => reject(new Error("connection closed mid-response")));
  });
}

/**
 * Whether an answer comes from the srvutil central itself: its error bodies
 * always carry a `SRVUTIL_E_*` code (docs/api.md), its 201 an upload_id. A
 * proxy's or another service's page has neither, and must never make the
 * agent delete or reject a file.
 */
function isCentralError(json: Record<string, unknown> | null): boolean {
  return json !== null && typeof json.code === "string" && json.code.startsWith("SRVUTIL_E_");
}

/** Statuses by which the central refuses a file's content: the same file never passes. */
const CONTENT_REFUSALS = new Set([400, 413, 422]);

function classify(url: URL, res: IncomingMessage, text: string): PostOutcome {
  const status = res.statusCode ?? 0;
  let json: Record<string, unknown> | null = null;
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === "object" && parsed !== null) json = parsed as Record<string, unknown>;
  } catch {
    // not JSON: keep the text
  }
  const errorText = (): string => {
    if (json && typeof json.error === "string") {
      const where: string[] = [];
      if (json.line !== undefined && json.line !== null) where.push(`line ${String(json.line)}`);
      if (json.column !== undefined && json.column !== null) where.push(`column ${String(json.column)}`);
      return `HTTP ${status}: ${where.length ? `${where.join(", ")}: ` : ""}${json.error}`;
    }
    return `HTTP ${status}: ${oneLine(text.slice(0, 300)) || res.statusMessage || "no body"}`;
  };
  if (status >= 200 && status < 300) {
    if (json === null || json.upload_id === undefined || json.upload_id === null) {
      // A 2xx that is not the central's (a catch-all web page): the file was not stored, keep it.
      return {
        kind: "misconfigured",
        status,
        error: `${errorText()}: this is not the srvutil central's answer (no upload_id); check that SRVUTIL_CENTRAL_URL (${url.origin}${url.pathname}) is the central's address`,
      };
    }
    const num = (v: unknown) => (typeof v === "number" ? v : null);
    return {
      kind: "accepted",
      status,
      uploadId:
        json && typeof json.upload_id === "string"
          ? json.upload_id
          : json?.upload_id != null
            ? String(json.upload_id)
            : null,
      rows: num(json?.rows),
      duplicates: num(json?.duplicates),
    };
  }
  if (status === 429 || status === 408 || status >= 500) {
    return {
      kind: "retry",
      status,
      error: errorText(),
      retryAfterMs: parseRetryAfter(res.headers["retry-after"]),
    };
  }
  if (status === 401 || status === 403) {
    return { kind: "misconfigured", status, error: `${errorText()}; check the token and server name` };
  }
  if (status === 404 || status === 405) {
    return {
      kind: "misconfigured",
      status,
      error: `${errorText()}: nothing takes metrics at ${url.origin}${url.pathname}; check SRVUTIL_CENTRAL_URL (the central's base URL, with its path prefix if any)`,
    };
  }
  if (!isCentralError(json)) {
    return {
      kind: "misconfigured",
      status,
      error: `${errorText()}: this is not the srvutil central's answer; check SRVUTIL_CENTRAL_URL (a proxy or another service answers at ${url.origin})`,
    };
  }
  if (CONTENT_REFUSALS.has(status)) return { kind: "rejected", status, error: errorText() };
  // The central's own 415, 431 …: agent and central disagree on the request, not on this file.
  return {
    kind: "misconfigured",
    status,
    error: `${errorText()}; the central refuses how this agent sends (an agent or central version mismatch?)`,
  };
}

/** Retry-After as seconds or an HTTP date, in ms from now; null when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | null {
  if (value === undefined) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

/** Full-jitter exponential backoff: uniform in [0, min(max, initial × 2^attempt)]. */
export function backoffDelayMs(
  attempt: number,
  policy: UploadPolicy,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.backoffMaxMs, policy.backoffInitialMs * 2 ** attempt);
  // Never zero: at least a tenth of the initial delay, so a flapping central is not hammered.
  return Math.max(policy.backoffInitialMs / 10, Math.round(random() * ceiling));
}

export interface UploadSummary {
  uploadedFiles: number;
  uploadedRows: number;
  duplicateRows: number;
  rejectedFiles: number;
  /** Files still in the spool after this round. */
  pendingFiles: number;
  /** Why the round ended before the spool was empty, if it did. */
  stoppedBecause: string | null;
  /**
   * What kind of trouble ended it: a setting to fix (token, URL, TLS), or a
   * central that does not answer now; null when nothing went wrong (or
   * another process holds the spool). Decides `run --once`'s exit code.
   */
  failure: "configuration" | "unavailable" | null;
  attempts: number;
}

export interface UploadRoundOptions {
  policy: UploadPolicy;
  log: AgentLog;
  signal?: AbortSignal;
  /** Injectable for tests; resolves early when `signal` aborts. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** Groups spool files (oldest first) into uploads of at most maxBatchBytes of CSV. */
export function planBatches(files: readonly SpoolFile[], maxBatchBytes: number): SpoolFile[][] {
  const batches: SpoolFile[][] = [];
  let current: SpoolFile[] = [];
  let size = 0;
  for (const f of files) {
    if (current.length > 0 && size + f.bytes > maxBatchBytes) {
      batches.push(current);
      current = [];
      size = 0;
    }
    current.push(f);
    size += f.bytes;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/**
 * Concatenates spool files into one CSV v1 body: the header once, then every
 * file's rows. Callers only merge files with identical headers (sendQueue
 * splits a batch where the header changes, e.g. after an agent upgrade).
 */
export function mergeCsv(contents: readonly Buffer[]): Buffer {
  if (contents.length === 1) return contents[0]!;
  const texts = contents.map((c) => c.toString("utf8"));
  const header = texts[0]!.slice(0, texts[0]!.indexOf("\n") + 1);
  const parts = [header];
  for (const t of texts) {
    const body = t.slice(t.indexOf("\n") + 1);
    parts.push(body.endsWith("\n") || body === "" ? body : `${body}\n`);
  }
  return Buffer.from(parts.join(""), "utf8");
}

function headerOf(content: Buffer): string {
  const text = content.toString("utf8", 0, Math.min(content.length, 512));
  return text.slice(0, text.indexOf("\n"));
}

/**
 * One upload round: sends the spool oldest first, deleting each file only
 * after a 2xx. Batches that fail with 5xx/network/timeout are retried with
 * backoff up to policy.maxAttempts, then left for the next round. The
 * central's own refusal of a merged batch's content is retried file by file
 * so only the bad file moves to rejected/. A configuration error (token,
 * URL, TLS, an answer that is not the central's) stops the round and keeps
 * everything.
 */
export async function uploadSpool(
  spool: SpoolDirectory,
  target: UploadTarget,
  options: UploadRoundOptions,
): Promise<UploadSummary> {
  const { log } = options;
  const summary: UploadSummary = {
    uploadedFiles: 0,
    uploadedRows: 0,
    duplicateRows: 0,
    rejectedFiles: 0,
    pendingFiles: 0,
    stoppedBecause: null,
    failure: null,
    attempts: 0,
  };
  const release = await tryLock(join(spool.dir, UPLOAD_LOCK));
  if (release === null) {
    summary.stoppedBecause = "another agent process is uploading this spool";
    log.info("upload_skipped", summary.stoppedBecause);
    summary.pendingFiles = (await spool.list()).length;
    return summary;
  }
  try {
    await sendQueue(spool, target, options, summary);
  } finally {
    await release();
  }
  summary.pendingFiles = (await spool.list()).length;
  return summary;
}

/** The lock file in the spool directory (its name does not look like a spool file). */
export const UPLOAD_LOCK = "upload.lock";

async function sendQueue(
  spool: SpoolDirectory,
  target: UploadTarget,
  options: UploadRoundOptions,
  summary: UploadSummary,
): Promise<void> {
  const { policy, log, signal } = options;
  const sleep = options.sleep ?? abortableSleep;
  const files = await spool.list();
  const queue = planBatches(files, policy.maxBatchBytes);

  round: while (queue.length > 0) {
    if (signal?.aborted) {
      summary.stoppedBecause = "agent shutting down";
      break;
    }
    let batch = queue.shift()!;
    let contents: Buffer[];
    try {
      contents = await Promise.all(batch.map((f) => spool.read(f)));
    } catch {
      continue; // a file vanished (uploaded by a concurrent run): re-plan next round
    }
    // Only merge files with identical headers.
    const firstHeader = headerOf(contents[0]!);
    const same = contents.findIndex((c) => headerOf(c) !== firstHeader);
    if (same > 0) {
      queue.unshift(batch.slice(same));
      batch = batch.slice(0, same);
      contents = contents.slice(0, same);
    }
    const body = mergeCsv(contents);

    for (let attempt = 0; ; attempt++) {
      summary.attempts++;
      const outcome = await postMetrics(target, body, policy.timeoutMs, signal);
      if (outcome.kind === "accepted") {
        await spool.remove(batch);
        summary.uploadedFiles += batch.length;
        summary.uploadedRows += outcome.rows ?? 0;
        summary.duplicateRows += outcome.duplicates ?? 0;
        log.info("upload_ok", `uploaded ${batch.length} spool file(s)`, {
          files: batch.length,
          bytes: body.length,
          upload_id: outcome.uploadId,
          rows: outcome.rows,
          duplicates: outcome.duplicates,
          status: outcome.status,
        });
        break;
      }
      if (outcome.kind === "rejected") {
        if (batch.length > 1) {
          // Find the bad file: resend one by one (the good ones are accepted).
          log.warn(
            "upload_batch_rejected",
            `central refused a batch of ${batch.length} files; resending one by one`,
            {
              error: outcome.error,
            },
          );
          queue.unshift(...batch.map((f) => [f]));
          break;
        }
        const where = await spool.reject(batch[0]!, outcome.error);
        summary.rejectedFiles++;
        log.error(
          "upload_rejected",
          `central refused ${batch[0]!.name}: ${outcome.error}; moved to ${where}`,
          {
            file: batch[0]!.name,
            status: outcome.status,
            error: outcome.error,
          },
        );
        break;
      }
      if (outcome.kind === "misconfigured") {
        const refused = outcome.status === 401 || outcome.status === 403;
        summary.stoppedBecause = refused
          ? `central refused the agent (${outcome.error})`
          : `${outcome.error}; files stay spooled`;
        summary.failure = "configuration";
        log.error(refused ? "upload_refused" : "upload_misconfigured", summary.stoppedBecause, {
          status: outcome.status,
        });
        break round;
      }
      // Retryable.
      if (signal?.aborted) {
        summary.stoppedBecause = "agent shutting down";
        break round;
      }
      if (attempt + 1 >= policy.maxAttempts) {
        summary.stoppedBecause = `central unavailable after ${policy.maxAttempts} attempts (${outcome.error})`;
        summary.failure = "unavailable";
        log.warn("upload_deferred", `${summary.stoppedBecause}; data stays spooled for the next round`, {
          status: outcome.status,
        });
        break round;
      }
      let delay = backoffDelayMs(attempt, policy);
      if (outcome.retryAfterMs !== null) {
        if (outcome.retryAfterMs > policy.backoffMaxMs) {
          summary.stoppedBecause = `central asked to retry after ${Math.round(outcome.retryAfterMs / 1000)} s`;
          summary.failure = "unavailable";
          log.warn("upload_deferred", `${summary.stoppedBecause}; data stays spooled for the next round`, {
            status: outcome.status,
          });
          break round;
        }
        delay = outcome.retryAfterMs;
      }
      log.info("upload_retry", `upload failed (${outcome.error}); retrying in ${delay} ms`, {
        attempt: attempt + 1,
        status: outcome.status,
      });
      await sleep(delay, signal);
    }
  }
}
