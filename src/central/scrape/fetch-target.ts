/**
 * One HTTP GET of an exporter's /metrics: the target's auth and CA, a
 * deadline on the whole exchange (connect, headers and body), and a cap on
 * the body after decompression, so a hung, huge or hostile target costs at
 * most `timeoutMs` and `maxBytes`.
 */
import http from "node:http";
import https from "node:https";
import { createGunzip } from "node:zlib";
import type { ScrapeTarget } from "./config.js";

/** The text format 0.0.4 first: node_exporter then never answers protobuf or OpenMetrics. */
const ACCEPT = "text/plain;version=0.0.4;q=1,*/*;q=0.1";
/** node_exporter 1.5 on a busy host answers a few hundred KB; 16 MiB leaves room for many disks and cores. */
export const DEFAULT_MAX_SCRAPE_BYTES = 16 * 1024 * 1024;

/** Why a scrape gave no text: what the log and /api/v1/scrape/targets show. */
export class ScrapeError extends Error {}

export async function fetchExposition(
  target: ScrapeTarget,
  options: { maxBytes?: number; userAgent?: string; signal?: AbortSignal } = {},
): Promise<string> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_SCRAPE_BYTES;
  const url = new URL(target.url);
  const headers: Record<string, string> = {
    accept: ACCEPT,
    "accept-encoding": "gzip",
    "user-agent": options.userAgent ?? "srvutil-scraper",
    "x-prometheus-scrape-timeout-seconds": String(target.timeoutMs / 1000),
  };
  if (target.auth?.kind === "bearer") headers.authorization = `Bearer ${target.auth.token}`;
  if (target.auth?.kind === "basic") {
    headers.authorization = `Basic ${Buffer.from(`${target.auth.username}:${target.auth.password}`).toString("base64")}`;
  }
  const transport = url.protocol === "https:" ? https : http;

  return new Promise<string>((resolve, reject) => {
    let settled = false;
    const onAbort = () => finish(new ScrapeError("the scraper stopped"));
    const finish = (err: Error | null, text?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      if (err !== null) {
        req.destroy();
        reject(err);
      } else resolve(text ?? "");
    };
    const timer = setTimeout(
      () => finish(new ScrapeError(`no complete answer within ${target.timeoutMs / 1000} s`)),
      target.timeoutMs,
    );
    const req = transport.request(
      url,
      {
        method: "GET",
        headers,
        ...(url.protocol === "https:" && target.tlsCa !== null ? { ca: target.tlsCa } : {}),
        agent: false,
      },
      (res) => {
        const status = res.statusCode ?? 0;
        if (status < 200 || status > 299) {
          res.resume();
          finish(new ScrapeError(`HTTP ${status}${res.statusMessage ? ` ${res.statusMessage}` : ""}`));
          return;
        }
        const declared = Number(res.headers["content-length"]);
        if (Number.isFinite(declared) && declared > maxBytes && res.headers["content-encoding"] !== "gzip") {
          res.resume();
          finish(new ScrapeError(`the answer is over ${maxBytes} bytes`));
          return;
        }
        const encoding = res.headers["content-encoding"];
        if (encoding !== undefined && encoding !== "gzip" && encoding !== "identity") {
          res.resume();
          finish(new ScrapeError(`unsupported content-encoding ${encoding}`));
          return;
        }
        const body = encoding === "gzip" ? res.pipe(createGunzip()) : res;
        const chunks: Buffer[] = [];
        let size = 0;
        body.on("data", (chunk: Buffer) => {
          size += chunk.length;
          // Counted after decompression: a small gzip bomb stops here too.
          if (size > maxBytes) {
            body.destroy();
            finish(new ScrapeError(`the answer is over ${maxBytes} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        body.on("end", () => finish(null, Buffer.concat(chunks).toString("utf8")));
        body.on("error", (err: Error) => finish(new ScrapeError(`reading the answer: ${err.message}`)));
        res.on("error", (err: Error) => finish(new ScrapeError(`reading the answer: ${err.message}`)));
        // A connection closed mid-body ends neither stream with an error on every Node version.
        res.on("close", () => {
          if (!res.complete) finish(new ScrapeError("the connection closed before the answer was complete"));
        });
      },
    );
    req.on("error", (err: NodeJS.ErrnoException) => {
      const code = err.code;
      finish(
        new ScrapeError(
          code !== undefined && !err.message.includes(code) ? `${code}: ${err.message}` : err.message,
        ),
      );
    });
    if (options.signal?.aborted) onAbort();
    else options.signal?.addEventListener("abort", onAbort);
    req.end();
  });
}
