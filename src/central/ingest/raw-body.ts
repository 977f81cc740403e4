import { promisify } from "node:util";
import { gzip, gzipSync } from "node:zlib";

const gzipAsync = promisify(gzip);

/**
 * Bodies up to this size are compressed on the event loop. A fleet upload
 * (~2 KB) takes ~13 µs that way against ~95 µs through the thread pool
 * (the hop, a second thread's deflate state), which at a thousand uploads a
 * second was about 8 % of a core; larger bodies still go to the thread pool
 * so a backlog file never stalls other requests (16 KB: ~30 µs).
 */
const SYNC_GZIP_MAX_BYTES = 16 * 1024;

/** A raw upload as the database keeps it (SRVUTIL_RAW_STORE=database): gzip level 1, fast and standard. */
export function compressRawBody(bytes: Uint8Array): Promise<Buffer> | Buffer {
  return bytes.byteLength <= SYNC_GZIP_MAX_BYTES
    ? gzipSync(bytes, { level: 1 })
    : gzipAsync(bytes, { level: 1 });
}
