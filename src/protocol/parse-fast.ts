import {
  CANONICAL_COLUMNS,
  MAX_INTERVAL_SECONDS,
  MAX_MOUNT_LENGTH,
  type MetricRow,
  serverNameProblem,
} from "./metrics.js";
import { parseTimestamp, utcFromFields } from "./timestamp.js";

/**
 * The fast path of the CSV v1 parser, for the files agents actually send:
 * the canonical header, plain ASCII, LF line ends, no quotes. It reads the
 * bytes directly (no UTF-8 decode, no split into strings, numbers built digit
 * by digit) and is several times faster than the general parser
 * (bench:ingest, "parser" rows).
 *
 * It never reports an error itself. The moment anything is unusual or wrong
 * (another header, a quote, a CR, a byte ≥ 0x80, a blank line, a bad number,
 * a failed check) it returns null and the caller runs the general parser on
 * the whole file, which accepts the same rows or names the line and column
 * of the problem. So what it accepts it must accept exactly as the general
 * parser would, with the same values; test/protocol/parse-fast.test.ts checks
 * that on generated and mutated files.
 */

export interface FastParseLimits {
  maxRows: number;
  minTimestamp: number;
  maxTimestamp: number;
}

const HEADER = new TextEncoder().encode(`${CANONICAL_COLUMNS.join(",")}\n`);
const FIELDS = CANONICAL_COLUMNS.length;
const COMMA = 44;
const LF = 10;
const DOT = 46;
const QUOTE = 34;
/** Exact powers of ten: m / 10^k is correctly rounded while m < 2^53 and k ≤ 22 (Clinger's fast path). */
const POW10 = Array.from({ length: 23 }, (_, k) => 10 ** k);

/** Field boundaries of the current line: start of field i at 2i, end at 2i+1. */
const spans = new Int32Array(FIELDS * 2);

export function parseCanonicalMetricsCsv(bytes: Uint8Array, limits: FastParseLimits): MetricRow[] | null {
  const n = bytes.length;
  if (n <= HEADER.length) return null;
  for (let i = 0; i < HEADER.length; i++) if (bytes[i] !== HEADER[i]) return null;

  const rows: MetricRow[] = [];
  let tsStart = -1;
  let tsEnd = -1;
  let ts = 0;
  let serverStart = -1;
  let serverEnd = -1;
  let server = "";
  // Mounts repeat on every sample: decoded once, found again by their bytes.
  const mountBytes: Uint8Array[] = [];
  const mountNames: string[] = [];

  let pos = HEADER.length;
  while (pos < n) {
    // Split one line into fields, refusing anything the fast path does not handle.
    let field = 0;
    spans[0] = pos;
    let i = pos;
    for (; i < n; i++) {
      const c = bytes[i]!;
      if (c === COMMA) {
        if (++field >= FIELDS) return null;
        spans[2 * field - 1] = i;
        spans[2 * field] = i + 1;
      } else if (c === LF) {
        break;
      } else if (c < 0x20 || c >= 0x7f || c === QUOTE) {
        return null;
      }
    }
    if (field !== FIELDS - 1) return null; // also a blank line
    spans[2 * field + 1] = i;
    pos = i + 1;
    if (rows.length >= limits.maxRows) return null;

    // timestamp
    const s0 = spans[0]!;
    const e0 = spans[1]!;
    if (!sameBytes(bytes, s0, e0, tsStart, tsEnd)) {
      let parsed: number | null = utcTimestamp(bytes, s0, e0);
      if (Number.isNaN(parsed)) parsed = parseTimestamp(ascii(bytes, s0, e0));
      if (parsed === null || parsed < limits.minTimestamp || parsed > limits.maxTimestamp) return null;
      ts = parsed;
      tsStart = s0;
      tsEnd = e0;
    }
    // server
    const s1 = spans[2]!;
    const e1 = spans[3]!;
    if (!sameBytes(bytes, s1, e1, serverStart, serverEnd)) {
      const name = ascii(bytes, s1, e1);
      if (serverNameProblem(name) !== null) return null;
      server = name;
      serverStart = s1;
      serverEnd = e1;
    }
    const cpu = decimal(bytes, spans[4]!, spans[5]!);
    if (!(cpu <= 100)) return null;
    let peak: number | null = null;
    if (spans[7]! > spans[6]!) {
      peak = decimal(bytes, spans[6]!, spans[7]!);
      if (!(peak <= 100)) return null;
    }
    let interval: number | null = null;
    if (spans[9]! > spans[8]!) {
      interval = decimal(bytes, spans[8]!, spans[9]!);
      if (!(interval > 0 && interval <= MAX_INTERVAL_SECONDS)) return null;
    }
    const memTotal = wholeBytes(bytes, spans[10]!, spans[11]!);
    const memUsed = wholeBytes(bytes, spans[12]!, spans[13]!);
    const memAvail = wholeBytes(bytes, spans[14]!, spans[15]!);
    if (memTotal < 0 || memUsed < 0 || memAvail < 0 || memUsed > memTotal || memAvail > memTotal) return null;
    const mount = mountName(bytes, spans[16]!, spans[17]!, mountBytes, mountNames);
    if (mount === null) return null;
    const diskTotal = wholeBytes(bytes, spans[18]!, spans[19]!);
    const diskUsed = wholeBytes(bytes, spans[20]!, spans[21]!);
    const diskFree = wholeBytes(bytes, spans[22]!, spans[23]!);
    if (diskTotal < 0 || diskUsed < 0 || diskFree < 0 || diskUsed > diskTotal || diskFree > diskTotal) {
      return null;
    }
    rows.push({
      timestamp: ts,
      server,
      cpuPercent: cpu,
      cpuPeakPercent: peak,
      intervalSeconds: interval,
      memTotalBytes: memTotal,
      memUsedBytes: memUsed,
      memAvailableBytes: memAvail,
      diskMount: mount,
      diskTotalBytes: diskTotal,
      diskUsedBytes: diskUsed,
      diskFreeBytes: diskFree,
    });
  }
  return rows.length > 0 ? rows : null;
}

/**
 * Milliseconds of a 3-digit fraction exactly as parseTimestamp computes them
 * (floor(Number("0.ddd") × 1000)), so both paths agree even where binary
 * rounding would make the two differ.
 */
const FRACTION_MS = Array.from({ length: 1000 }, (_, d) =>
  Math.floor(Number(`0.${String(d).padStart(3, "0")}`) * 1000),
);

/**
 * `YYYY-MM-DDTHH:MM:SSZ` or `…SS.mmmZ` (what agents write) to epoch ms;
 * NaN for any other form, which parseTimestamp then reads; null for an
 * impossible date or time (the same check as parseTimestamp's).
 */
function utcTimestamp(b: Uint8Array, s: number, e: number): number | null {
  const len = e - s;
  if (len !== 20 && len !== 24) return Number.NaN;
  if (
    b[s + 4] !== 45 ||
    b[s + 7] !== 45 ||
    b[s + 10] !== 84 ||
    b[s + 13] !== 58 ||
    b[s + 16] !== 58 ||
    b[e - 1] !== 90 ||
    (len === 24 && b[s + 19] !== DOT)
  ) {
    return Number.NaN;
  }
  const year = digits(b, s, 4);
  const month = digits(b, s + 5, 2);
  const day = digits(b, s + 8, 2);
  const hour = digits(b, s + 11, 2);
  const minute = digits(b, s + 14, 2);
  const second = digits(b, s + 17, 2);
  const fraction = len === 24 ? digits(b, s + 20, 3) : 0;
  if (year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0 || fraction < 0) {
    return Number.NaN;
  }
  return utcFromFields(year, month, day, hour, minute, second, FRACTION_MS[fraction]!);
}

/** `count` ASCII digits at `at` as a number; −1 if any is not a digit. */
function digits(b: Uint8Array, at: number, count: number): number {
  let v = 0;
  for (let k = at; k < at + count; k++) {
    const d = b[k]! - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

function sameBytes(b: Uint8Array, s: number, e: number, ps: number, pe: number): boolean {
  if (ps < 0 || e - s !== pe - ps) return false;
  for (let k = 0; k < e - s; k++) if (b[s + k] !== b[ps + k]) return false;
  return true;
}

/** The bytes are known to be printable ASCII here. */
function ascii(b: Uint8Array, s: number, e: number): string {
  let out = "";
  for (let k = s; k < e; k++) out += String.fromCharCode(b[k]!);
  return out;
}

/**
 * `0|[1-9][0-9]*` with an optional `.[0-9]+`, as Number() reads it; NaN for
 * anything else or for more than 15 significant digits (left to the general
 * parser, where Number() rounds).
 */
function decimal(b: Uint8Array, s: number, e: number): number {
  if (e <= s) return Number.NaN;
  let m = 0;
  let digits = 0;
  let i = s;
  const first = b[i]!;
  if (first === 48 && i + 1 < e && b[i + 1] !== DOT) return Number.NaN; // leading zero
  for (; i < e; i++) {
    const d = b[i]! - 48;
    if (d < 0 || d > 9) break;
    m = m * 10 + d;
    digits++;
  }
  if (digits === 0) return Number.NaN;
  if (i === e) return digits <= 15 ? m : Number.NaN;
  if (b[i] !== DOT || i + 1 === e) return Number.NaN;
  i++;
  const fracStart = i;
  for (; i < e; i++) {
    const d = b[i]! - 48;
    if (d < 0 || d > 9) return Number.NaN;
    m = m * 10 + d;
    digits++;
  }
  const k = e - fracStart;
  if (digits > 15 || k > 22) return Number.NaN;
  return m / POW10[k]!;
}

/** Digits only, no leading zero, at most 2^53 − 1; −1 otherwise. */
function wholeBytes(b: Uint8Array, s: number, e: number): number {
  const len = e - s;
  if (len === 0 || len > 16 || (len > 1 && b[s] === 48)) return -1;
  let v = 0;
  for (let i = s; i < e; i++) {
    const d = b[i]! - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v <= Number.MAX_SAFE_INTEGER ? v : -1;
}

function mountName(
  b: Uint8Array,
  s: number,
  e: number,
  seenBytes: Uint8Array[],
  seenNames: string[],
): string | null {
  const len = e - s;
  if (len === 0 || len > MAX_MOUNT_LENGTH) return null;
  for (let j = 0; j < seenBytes.length; j++) {
    const known = seenBytes[j]!;
    if (known.length !== len) continue;
    let k = 0;
    while (k < len && known[k] === b[s + k]) k++;
    if (k === len) return seenNames[j]!;
  }
  const name = ascii(b, s, e);
  // Bounded: a file with thousands of distinct mounts just decodes the rest.
  if (seenBytes.length < 64) {
    seenBytes.push(b.slice(s, e));
    seenNames.push(name);
  }
  return name;
}
