import { CsvValidationError } from "./csv-error.js";

/**
 * Size limits of a metrics file's lines, and of what an answer echoes back.
 * They bound what a small hostile request can cost: without them a 16 KB
 * gzip body of 16M commas was split into 16M fields and answered with a
 * 32 MiB error naming each of them. A real file is far inside every limit:
 * the CSV v1 header is 172 bytes of 12 columns, an agent's line about 150
 * bytes, and a seed line with 64 partitions about 8 KB.
 */

/** Bytes of the header line (without its line end and a leading BOM). */
export const MAX_HEADER_BYTES = 4096;
/** Columns of the header: the 12 of CSV v1 and room for unknown extra ones. */
export const MAX_COLUMNS = 64;
/** Bytes of any other line (without its line end). */
export const MAX_LINE_BYTES = 65_536;
/** Problems an answer names (skipped seed lines); the rest are counted. */
export const MAX_PROBLEMS_KEPT = 100;
/**
 * Lines of a seed file that may be skipped before the whole file is refused.
 * Reading a broken line can cost 30 µs (a failed JSON.parse): two million of
 * them took seconds of the event loop. A real seed file has a handful.
 */
export const MAX_SKIPPED_LINES = 1000;
/** Characters of one piece of input quoted back in an error message. */
export const MAX_ECHO_CHARS = 40;

const LF = 0x0a;
const CR = 0x0d;

/**
 * Refuses a file whose header or any other line is too long, before
 * anything is decoded or split: one native scan for line ends, no strings.
 * Lines are physical lines (a quoted field spanning lines counts each).
 */
export function checkLineLengths(bytes: Uint8Array): void {
  const n = bytes.length;
  const start = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  // The header: look no further than one byte past the limit.
  const nl = bytes.subarray(start, start + MAX_HEADER_BYTES + 2).indexOf(LF);
  const headerEnd = nl === -1 ? Math.min(n, start + MAX_HEADER_BYTES + 2) : start + nl;
  if (lineLength(bytes, start, headerEnd) > MAX_HEADER_BYTES) throw headerTooLong();
  if (nl === -1) return;
  // A plain loop, not indexOf per line: a body of 16M line ends would be 16M native calls.
  let lineStart = headerEnd + 1;
  let line = 2;
  for (let i = lineStart; i <= n; i++) {
    if (i < n && bytes[i] !== LF) continue;
    if (i - lineStart > MAX_LINE_BYTES && lineLength(bytes, lineStart, i) > MAX_LINE_BYTES) {
      throw new CsvValidationError(
        "line_too_long",
        `line is longer than ${MAX_LINE_BYTES} bytes (${i - lineStart} bytes)`,
        line,
        null,
      );
    }
    lineStart = i + 1;
    line++;
  }
}

/** The error of a header line longer than MAX_HEADER_BYTES. */
export function headerTooLong(): CsvValidationError {
  return new CsvValidationError(
    "header_too_long",
    `the header line is longer than ${MAX_HEADER_BYTES} bytes (a CSV v1 header is about 170)`,
    1,
    null,
  );
}

/**
 * Watches the first line of a body as its chunks arrive, so that a body
 * whose header is too long is refused before the rest of it is read or
 * decompressed. Lenient by the few bytes a BOM and a CR add: the parser
 * (checkLineLengths) has the exact word. A body starting with the gzip
 * magic is compressed and not watched here: its decompressed stream is.
 */
export class FirstLineGuard {
  private seen = 0;
  private done = false;

  /** The error to refuse the body with once this chunk makes the first line too long, else null. */
  next(chunk: Uint8Array): CsvValidationError | null {
    if (this.done || chunk.length === 0) return null;
    if (this.seen === 0 && chunk[0] === 0x1f && chunk[1] === 0x8b) {
      this.done = true;
      return null;
    }
    const lf = chunk.indexOf(LF);
    const before = lf === -1 ? chunk.length : lf;
    if (lf !== -1) this.done = true;
    this.seen += before;
    return this.seen > MAX_HEADER_BYTES + 4 ? headerTooLong() : null;
  }
}

/** Length of bytes[start, end) without a CR that ends it (CRLF line ends). */
function lineLength(bytes: Uint8Array, start: number, end: number): number {
  return end > start && bytes[end - 1] === CR ? end - start - 1 : end - start;
}

/** Refuses a header with more than MAX_COLUMNS columns (it is short already: checkLineLengths). */
export function checkColumnCount(columns: number, line = 1): void {
  if (columns > MAX_COLUMNS) {
    throw new CsvValidationError(
      "too_many_columns",
      `the header has ${columns} columns; at most ${MAX_COLUMNS} are accepted`,
      line,
      null,
    );
  }
}

/**
 * A piece of input as an answer or a log line may quote it: whole when
 * short, else its start, an ellipsis and its original length, so a hostile
 * field cannot make an answer as large as itself.
 */
export function clipEcho(text: string, max = MAX_ECHO_CHARS): string {
  if (text.length <= max) return text;
  // Never cut a surrogate pair in half.
  const cut = isHighSurrogate(text.charCodeAt(max - 1)) ? max - 1 : max;
  return `${text.slice(0, cut)}… (${text.length} characters)`;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
