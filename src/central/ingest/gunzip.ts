import { createGunzip } from "node:zlib";
import { InputError } from "../../errors.js";
import { FirstLineGuard } from "../../protocol/index.js";

/**
 * Decompresses a gzip body or file with a hard cap on its output: a gzip
 * bomb is cut off as soon as its output passes `maxBytes` (413), long before
 * it could exhaust memory. A metrics file's first line is watched too (one
 * longer than a CSV header may be is refused as it arrives); binary bodies
 * (protobuf) pass `watchCsvHeader: false`. Used by the HTTP routes and by
 * `central import` of .gz files.
 */
export function gunzipCapped(
  compressed: Buffer,
  maxBytes: number,
  options: { watchCsvHeader: boolean } = { watchCsvHeader: true },
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const gunzip = createGunzip();
    const chunks: Buffer[] = [];
    const firstLine = options.watchCsvHeader ? new FirstLineGuard() : null;
    let total = 0;
    let done = false;
    gunzip.on("data", (chunk: Buffer) => {
      if (done) return;
      total += chunk.length;
      const refusal =
        total > maxBytes ? tooLarge(maxBytes, "decompressed body") : (firstLine?.next(chunk) ?? null);
      if (refusal !== null) {
        done = true;
        gunzip.destroy();
        reject(refusal);
        return;
      }
      chunks.push(chunk);
    });
    gunzip.on("error", (err) => {
      if (done) return;
      done = true;
      reject(new InputError(`body is not valid gzip data: ${err.message}`, { reason: "bad_gzip" }));
    });
    gunzip.on("end", () => {
      if (done) return;
      done = true;
      resolve(Buffer.concat(chunks, total));
    });
    gunzip.end(compressed);
  });
}

/** The 413 of a body or file past SRVUTIL_MAX_BODY_BYTES, on the wire or decompressed. */
export function tooLarge(maxBytes: number, what: string): InputError {
  return new InputError(
    `${what} exceeds the limit of ${maxBytes} bytes (SRVUTIL_MAX_BODY_BYTES); split the file`,
    { status: 413, reason: "too_large" },
  );
}
