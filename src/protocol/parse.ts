import { type CsvErrorReason, CsvValidationError } from "./csv-error.js";
import { csvRecords, withoutTrailingBlankLines } from "./csv-records.js";
import { checkColumnCount, checkLineLengths, clipEcho } from "./limits.js";
import {
  CANONICAL_COLUMNS,
  KNOWN_COLUMN_SET,
  type KnownColumn,
  MAX_INTERVAL_SECONDS,
  MAX_MOUNT_LENGTH,
  type MetricRow,
  REQUIRED_COLUMNS,
  type RequiredColumn,
  serverNameProblem,
} from "./metrics.js";
import { parseCanonicalMetricsCsv } from "./parse-fast.js";
import { parseTimestamp } from "./timestamp.js";

export interface ParseOptions {
  /** Reject files with more data rows than this. */
  maxRows?: number;
  /** "Now" for the future-skew check, epoch ms (injectable for tests). */
  now?: number;
  /** How far in the future a timestamp may be, ms (clock skew allowance). */
  maxFutureSkewMs?: number;
  /** Earliest accepted timestamp, epoch ms. */
  minTimestamp?: number;
}

export const DEFAULT_MAX_FUTURE_SKEW_MS = 24 * 3600 * 1000;
export const DEFAULT_MIN_TIMESTAMP = Date.UTC(2000, 0, 1);

const decoder = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

/** Decodes UTF-8 strictly, reporting the line and byte column of the first bad byte. */
export function decodeUtf8(bytes: Uint8Array): string {
  try {
    return decoder.decode(bytes);
  } catch {
    const bad = firstInvalidUtf8Offset(bytes);
    let line = 1;
    let lineStart = 0;
    for (let i = 0; i < bad; i++) {
      if (bytes[i] === 0x0a) {
        line++;
        lineStart = i + 1;
      }
    }
    throw new CsvValidationError(
      "encoding",
      `file is not valid UTF-8 (bad byte 0x${(bytes[bad] ?? 0).toString(16).padStart(2, "0")} at byte ${bad - lineStart + 1} of the line)`,
      line,
      null,
    );
  }
}

function firstInvalidUtf8Offset(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    let need = 0;
    let min = 0;
    if (c < 0x80) {
      i++;
      continue;
    } else if (c >= 0xc2 && c <= 0xdf) {
      need = 1;
      min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      min = 0x10000;
    } else {
      return i;
    }
    let cp = c & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const cc = b[i + k];
      if (cc === undefined || (cc & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return b.length;
}

const DECIMAL = /^(?:0|[1-9][0-9]*)(?:\.[0-9]+)?$/;
// Mount names are free text, but control characters in them only ever come
// from corruption or an attack on whoever renders them.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

export interface ParsedMetrics {
  rows: MetricRow[];
  /** The header as found, in file order. */
  columns: string[];
}

/**
 * Parses and validates a whole metrics file. Either every row is valid and
 * returned, or a CsvValidationError names the first problem: a file is
 * accepted or refused as a whole.
 *
 * Files as agents write them take the byte-level fast path
 * (parse-fast.ts); anything else, and every file with a problem, goes
 * through the general parser below, which is the definition of CSV v1.
 */
export function parseMetricsCsv(input: Uint8Array | string, options: ParseOptions = {}): ParsedMetrics {
  if (typeof input !== "string") {
    const now = options.now ?? Date.now();
    const rows = parseCanonicalMetricsCsv(input, {
      maxRows: options.maxRows ?? Number.POSITIVE_INFINITY,
      minTimestamp: options.minTimestamp ?? DEFAULT_MIN_TIMESTAMP,
      maxTimestamp: now + (options.maxFutureSkewMs ?? DEFAULT_MAX_FUTURE_SKEW_MS),
    });
    if (rows !== null) return { rows, columns: [...CANONICAL_COLUMNS] };
  }
  return parseMetricsCsvGeneral(input, options);
}

/** The general CSV v1 parser: any column order, quoting, CRLF, UTF-8; exact errors. */
export function parseMetricsCsvGeneral(
  input: Uint8Array | string,
  options: ParseOptions = {},
): ParsedMetrics {
  // Line lengths first, on the bytes: a huge line is refused before it is decoded or split.
  checkLineLengths(typeof input === "string" ? encoder.encode(input) : input);
  let text = typeof input === "string" ? input : decodeUtf8(input);
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  text = withoutTrailingBlankLines(text);
  if (text.trim() === "")
    throw new CsvValidationError("empty", "file is empty: expected a header row", 1, null);

  const maxRows = options.maxRows ?? Number.POSITIVE_INFINITY;
  const now = options.now ?? Date.now();
  const maxTs = now + (options.maxFutureSkewMs ?? DEFAULT_MAX_FUTURE_SKEW_MS);
  const minTs = options.minTimestamp ?? DEFAULT_MIN_TIMESTAMP;

  const records = csvRecords(text);
  const first = records.next();
  if (first.done) throw new CsvValidationError("empty", "file is empty: expected a header row", 1, null);
  const header = first.value.fields;
  checkColumnCount(header.length);
  const index = headerIndex(header);
  const width = header.length;

  const iTs = index.timestamp;
  const iServer = index.server;
  const iCpu = index.cpu_percent;
  const iPeak = index.cpu_peak_percent ?? -1;
  const iInterval = index.interval_seconds ?? -1;
  const iMemTotal = index.mem_total_bytes;
  const iMemUsed = index.mem_used_bytes;
  const iMemAvail = index.mem_available_bytes;
  const iMount = index.disk_mount;
  const iDiskTotal = index.disk_total_bytes;
  const iDiskUsed = index.disk_used_bytes;
  const iDiskFree = index.disk_free_bytes;

  const rows: MetricRow[] = [];
  // Timestamps and servers repeat on every mount row: cache the last ones.
  let lastTsText: string | null = null;
  let lastTs = 0;
  let lastServer: string | null = null;
  let currentLine = 1;
  const fail = (col: KnownColumn, reason: CsvErrorReason, message: string): never => {
    throw new CsvValidationError(reason, message, currentLine, col, header.indexOf(col) + 1);
  };

  for (const { line, fields } of records) {
    if (fields.length === 0) {
      // Blank lines are tolerated only at the very end of the file, and those are trimmed off already.
      throw new CsvValidationError("syntax", "blank line in the middle of the file", line, null);
    }
    if (fields.length !== width) {
      throw new CsvValidationError(
        "field_count",
        `expected ${width} fields as in the header, found ${fields.length}`,
        line,
        null,
      );
    }
    if (rows.length >= maxRows) {
      throw new CsvValidationError("too_many_rows", `file has more than ${maxRows} rows`, line, null);
    }
    // Set before each row so `fail` (defined once, outside the hot loop) knows where it is.
    currentLine = line;

    const tsText = fields[iTs]!;
    let ts: number;
    if (tsText === lastTsText) {
      ts = lastTs;
    } else {
      const parsed = parseTimestamp(tsText);
      if (parsed === null) {
        fail(
          "timestamp",
          "timestamp",
          `'${clipEcho(tsText)}' is not an ISO 8601 timestamp with Z or an offset (e.g. 2026-11-23T10:00:00Z)`,
        );
      }
      ts = parsed as number;
      if (ts < minTs)
        fail("timestamp", "timestamp", `timestamp ${tsText} is before ${new Date(minTs).toISOString()}`);
      if (ts > maxTs)
        fail("timestamp", "timestamp", `timestamp ${tsText} is in the future beyond the allowed skew`);
      lastTsText = tsText;
      lastTs = ts;
    }

    const server = fields[iServer]!;
    if (server !== lastServer) {
      const problem = serverNameProblem(server);
      if (problem !== null) fail("server", "server", `'${clipEcho(server)}': ${problem}`);
      lastServer = server;
    }

    const cpu = percent(fields[iCpu]!);
    if (cpu === null)
      fail("cpu_percent", "number", `'${clipEcho(fields[iCpu]!)}' is not a number from 0 to 100`);
    let peak: number | null = null;
    if (iPeak >= 0 && fields[iPeak] !== "") {
      peak = percent(fields[iPeak]!);
      if (peak === null) {
        fail("cpu_peak_percent", "number", `'${clipEcho(fields[iPeak]!)}' is not a number from 0 to 100`);
      }
    }
    let interval: number | null = null;
    if (iInterval >= 0 && fields[iInterval] !== "") {
      const t = fields[iInterval]!;
      interval = DECIMAL.test(t) ? Number(t) : null;
      if (interval === null || interval <= 0 || interval > MAX_INTERVAL_SECONDS) {
        fail("interval_seconds", "number", `'${clipEcho(t)}' is not a positive number of seconds`);
      }
    }

    const memTotal = bytes(fields[iMemTotal]!);
    if (memTotal === null) fail("mem_total_bytes", "number", byteMessage(fields[iMemTotal]!));
    const memUsed = bytes(fields[iMemUsed]!);
    if (memUsed === null) fail("mem_used_bytes", "number", byteMessage(fields[iMemUsed]!));
    const memAvail = bytes(fields[iMemAvail]!);
    if (memAvail === null) fail("mem_available_bytes", "number", byteMessage(fields[iMemAvail]!));
    if ((memUsed as number) > (memTotal as number)) {
      fail("mem_used_bytes", "consistency", `mem_used_bytes ${memUsed} exceeds mem_total_bytes ${memTotal}`);
    }
    if ((memAvail as number) > (memTotal as number)) {
      fail(
        "mem_available_bytes",
        "consistency",
        `mem_available_bytes ${memAvail} exceeds mem_total_bytes ${memTotal}`,
      );
    }

    const mount = fields[iMount]!;
    if (mount === "") fail("disk_mount", "mount", "disk_mount is empty");
    if (mount.length > MAX_MOUNT_LENGTH)
      fail("disk_mount", "mount", `disk_mount is longer than ${MAX_MOUNT_LENGTH}`);
    if (CONTROL_CHARS.test(mount)) fail("disk_mount", "mount", "disk_mount contains a control character");

    const diskTotal = bytes(fields[iDiskTotal]!);
    if (diskTotal === null) fail("disk_total_bytes", "number", byteMessage(fields[iDiskTotal]!));
    const diskUsed = bytes(fields[iDiskUsed]!);
    if (diskUsed === null) fail("disk_used_bytes", "number", byteMessage(fields[iDiskUsed]!));
    const diskFree = bytes(fields[iDiskFree]!);
    if (diskFree === null) fail("disk_free_bytes", "number", byteMessage(fields[iDiskFree]!));
    if ((diskUsed as number) > (diskTotal as number)) {
      fail(
        "disk_used_bytes",
        "consistency",
        `disk_used_bytes ${diskUsed} exceeds disk_total_bytes ${diskTotal}`,
      );
    }
    if ((diskFree as number) > (diskTotal as number)) {
      fail(
        "disk_free_bytes",
        "consistency",
        `disk_free_bytes ${diskFree} exceeds disk_total_bytes ${diskTotal}`,
      );
    }

    rows.push({
      timestamp: ts,
      server,
      cpuPercent: cpu as number,
      cpuPeakPercent: peak,
      intervalSeconds: interval,
      memTotalBytes: memTotal as number,
      memUsedBytes: memUsed as number,
      memAvailableBytes: memAvail as number,
      diskMount: mount,
      diskTotalBytes: diskTotal as number,
      diskUsedBytes: diskUsed as number,
      diskFreeBytes: diskFree as number,
    });
  }
  return { rows, columns: header };
}

function headerIndex(
  header: string[],
): Record<RequiredColumn, number> & Partial<Record<KnownColumn, number>> {
  const index: Partial<Record<KnownColumn, number>> = {};
  header.forEach((name, i) => {
    if (!KNOWN_COLUMN_SET.has(name)) return; // unknown extra columns are ignored
    const col = name as KnownColumn;
    if (index[col] !== undefined) {
      throw new CsvValidationError("header", `column '${col}' appears twice in the header`, 1, col, i + 1);
    }
    index[col] = i;
  });
  for (const col of REQUIRED_COLUMNS) {
    if (index[col] === undefined) {
      throw new CsvValidationError(
        "header",
        `required column '${col}' is missing from the header (found: ${header.map((c) => clipEcho(c)).join(", ")})`,
        1,
        col,
      );
    }
  }
  return index as Record<RequiredColumn, number> & Partial<Record<KnownColumn, number>>;
}

function percent(text: string): number | null {
  if (!DECIMAL.test(text)) return null;
  const v = Number(text);
  return v <= 100 ? v : null;
}

/** A whole number of bytes: digits only, no leading zero, at most 2^53 − 1. */
function bytes(text: string): number | null {
  const n = text.length;
  // A hand-written loop: this runs several times per row and a regex plus
  // Number() was the parser's largest cost.
  if (n === 0 || n > 16 || (n > 1 && text.charCodeAt(0) === 48)) return null;
  let v = 0;
  for (let i = 0; i < n; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return null;
    v = v * 10 + d;
  }
  return v <= Number.MAX_SAFE_INTEGER ? v : null;
}

function byteMessage(text: string): string {
  return `'${clipEcho(text)}' is not a whole number of bytes (0 to 2^53-1, digits only)`;
}
