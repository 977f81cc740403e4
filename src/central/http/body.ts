import type { Readable } from "node:stream";
import { InputError } from "../../errors.js";
import { FirstLineGuard } from "../../protocol/index.js";
import { gunzipCapped, tooLarge } from "../ingest/gunzip.js";
import { HttpError } from "./http-error.js";

export { gunzipCapped, tooLarge };

/**
 * Reads a request body (or a multipart file stream) into one Buffer, with a
 * hard cap on both the bytes on the wire and the bytes after decompression:
 * a gzip bomb is cut off as soon as its output passes the cap, long before
 * it could exhaust memory. The body is a metrics file, so its first line is
 * watched too: one longer than a header may be (MAX_HEADER_BYTES) is refused
 * as it arrives (400 header_too_long), not after 16 MiB of it were buffered.
 */
export async function readCappedBody(
  stream: Readable,
  encoding: "identity" | "gzip",
  maxBytes: number,
): Promise<Buffer> {
  const raw = await collect(stream, maxBytes, "request body", encoding === "identity");
  if (encoding === "identity") return raw;
  return gunzipCapped(raw, maxBytes);
}

/** Maps a Content-Encoding header to what we decode; anything else is 415. */
export function contentEncoding(header: string | string[] | undefined): "identity" | "gzip" {
  const value = (Array.isArray(header) ? header.join(",") : (header ?? "")).trim().toLowerCase();
  if (value === "" || value === "identity") return "identity";
  if (value === "gzip" || value === "x-gzip") return "gzip";
  throw new HttpError(
    415,
    "unsupported_encoding",
    `Content-Encoding '${value.slice(0, 40)}' is not supported; send the CSV plain or with Content-Encoding: gzip`,
  );
}

export function isGzip(bytes: Buffer): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * A multipart parser's own failure (a body cut off before its closing
 * boundary, a malformed part header, a content type without a boundary) is
 * the client's bad body: 400, not an internal error. Our own refusals (an
 * InputError such as a CSV limit, an HttpError) and errors that already carry
 * a 4xx (the parser's limits) pass unchanged.
 */
export function multipartBodyError(err: unknown): Error {
  if (err instanceof InputError || err instanceof HttpError) return err;
  const status = (err as { statusCode?: unknown }).statusCode;
  if (typeof status === "number" && status >= 400 && status < 500) return err as Error;
  const message = err instanceof Error ? err.message : String(err);
  return new HttpError(400, "bad_body", `malformed multipart/form-data body: ${message.slice(0, 100)}`);
}

function collect(stream: Readable, maxBytes: number, what: string, watchFirstLine: boolean): Promise<Buffer> {
  // A stream the multipart parser already tore down (the body ended inside a
  // part) emits nothing more: without this check the request would wait forever.
  if (stream.errored !== null || (stream.destroyed && !stream.readableEnded)) {
    const why = stream.errored?.message ?? "the body ended inside it";
    return Promise.reject(new HttpError(400, "bad_body", `could not read ${what}: ${why}`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const firstLine = watchFirstLine ? new FirstLineGuard() : null;
    let total = 0;
    let done = false;
    const finish = (err: Error | null) => {
      if (done) return;
      done = true;
      stream.off("data", onData);
      stream.off("end", onEnd);
      stream.off("error", onError);
      stream.off("close", onClose);
      if (err !== null) {
        // Keep draining so the client can read our answer instead of a reset.
        stream.resume();
        reject(err);
      } else resolve(Buffer.concat(chunks, total));
    };
    const onData = (chunk: Buffer) => {
      total += chunk.length;
      const refusal = total > maxBytes ? tooLarge(maxBytes, what) : (firstLine?.next(chunk) ?? null);
      if (refusal !== null) finish(refusal);
      else chunks.push(chunk);
    };
    const onEnd = () => finish(null);
    const onError = (err: Error) =>
      finish(new HttpError(400, "bad_body", `could not read ${what}: ${err.message}`));
    // Destroyed without an error (and so without 'end' or 'error'): the body is incomplete.
    const onClose = () => {
      if (!stream.readableEnded)
        finish(new HttpError(400, "bad_body", `could not read ${what}: it ended early`));
    };
    stream.on("data", onData);
    stream.on("end", onEnd);
    stream.on("error", onError);
    stream.on("close", onClose);
  });
}
