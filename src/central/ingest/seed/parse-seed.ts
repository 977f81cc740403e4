import {
  CsvValidationError,
  checkLineLengths,
  clipEcho,
  csvRecords,
  decodeUtf8,
  MAX_MOUNT_LENGTH,
  MAX_PROBLEMS_KEPT,
  MAX_SKIPPED_LINES,
  type MetricRow,
  serverNameProblem,
  utcFromFields,
  withoutTrailingBlankLines,
} from "../../../protocol/index.js";
import { type LocalTimeKind, SeedTimeResolver } from "./local-time.js";

/**
 * The seed system's metrics CSV (RavinduJayalath/Automation-Python-ServerUtilizationReport,
 * `Agent/main.py`), read into CSV v1 rows. See docs/migrating-from-the-seed.md.
 *
 * One seed line is one sample: local time without a zone, RAM in GiB
 * (psutil bytes / 1024³, 2 decimals) and every partition as a JSON array in
 * the last column. It becomes one MetricRow per partition. Unlike CSV v1, a
 * line that breaks the contract does not refuse the file: it is skipped and
 * reported with its line, because seed files are hand-edited and the old
 * agent deletes its file whatever the answer.
 */

export const SEED_COLUMNS = [
  "timestamp",
  "server_name",
  "cpu_percent",
  "total_ram_gb",
  "used_ram_gb",
  "available_ram_gb",
  "ram_percent",
  "disk_info_json",
] as const;

export const SEED_HEADER = SEED_COLUMNS.join(",");

/** The seed's "GB": psutil bytes divided by 1024³. */
const GIB = 1024 ** 3;

/** A seed line that was skipped, with the reason. */
export interface SeedRowProblem {
  /** 1-based physical line of the file. */
  line: number;
  /** The seed column at fault, or null for the whole line. */
  column: string | null;
  message: string;
}

export interface ParsedSeedFile {
  rows: MetricRow[];
  /** Data lines read (accepted or skipped). */
  lines: number;
  /** The first MAX_PROBLEMS_KEPT (100) skipped lines, in file order. */
  skipped: SeedRowProblem[];
  /** Every skipped line, also those past the first 100. */
  skippedCount: number;
  /** Local times that fell into a skipped or repeated DST hour (all were kept). */
  dst: { skipped: number; repeatedFirst: number; repeatedSecond: number };
}

export interface SeedParseOptions {
  /** IANA zone the zone-less timestamps are read in. */
  timeZone: string;
  /** Epoch ms; timestamps later than now + maxFutureSkewMs are skipped. */
  now: number;
  maxFutureSkewMs: number;
  /** Refuse the file when it expands to more rows (one per partition) than this. */
  maxRows: number;
}

const MIN_TIMESTAMP = Date.UTC(2000, 0, 1);
const SEED_TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/;
/** Python's repr of a float, or an int: what json.dumps and csv.writer write. */
const NUMBER = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/;
const WINDOWS_DRIVE_ROOT = /^[A-Za-z]:\\$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

/** True when the file's first line is the seed header (BOM and CRLF tolerated). */
export function isSeedFile(bytes: Uint8Array): boolean {
  let start = 0;
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) start = 3;
  if (bytes.length - start < SEED_HEADER.length) return false;
  for (let i = 0; i < SEED_HEADER.length; i++) {
    if (bytes[start + i] !== SEED_HEADER.charCodeAt(i)) return false;
  }
  const next = bytes[start + SEED_HEADER.length];
  return next === undefined || next === 0x0a || next === 0x0d;
}

/**
 * A problem with one line: the line is skipped, the file goes on. Not an
 * Error: a hand-edited file can have thousands of bad lines, and capturing a
 * stack trace for each cost more than reading the good ones.
 */
class LineProblem {
  constructor(
    readonly column: string | null,
    readonly message: string,
  ) {}
}

/**
 * Parses a whole seed file. Throws CsvValidationError only for what makes the
 * file unreadable as a whole (encoding, CSV syntax, header, too many rows);
 * bad lines are returned in `skipped`.
 */
export function parseSeedCsv(bytes: Uint8Array, options: SeedParseOptions): ParsedSeedFile {
  // A line of megabytes is no seed line: refused before it is decoded or split.
  checkLineLengths(bytes);
  let text = decodeUtf8(bytes);
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  text = withoutTrailingBlankLines(text);
  const resolver = new SeedTimeResolver(options.timeZone);
  const latest = options.now + options.maxFutureSkewMs;
  const out: ParsedSeedFile = {
    rows: [],
    lines: 0,
    skipped: [],
    skippedCount: 0,
    dst: { skipped: 0, repeatedFirst: 0, repeatedSecond: 0 },
  };
  // Named up to a bound, then only counted; past MAX_SKIPPED_LINES the file
  // is refused and not read further: a file of two million bad lines must
  // cost neither two million messages nor seconds of reading.
  const skip = (line: number, column: string | null, message: () => string) => {
    if (out.skippedCount++ < MAX_PROBLEMS_KEPT) out.skipped.push({ line, column, message: message() });
    if (out.skippedCount > MAX_SKIPPED_LINES) {
      const first = out.skipped[0]!;
      throw new CsvValidationError(
        "too_many_bad_lines",
        `more than ${MAX_SKIPPED_LINES} lines of the file cannot be read (the first, line ${first.line}: ` +
          `${first.message}); the file is refused whole`,
        line,
        null,
      );
    }
  };
  let headerSeen = false;
  for (const record of csvRecords(text)) {
    if (!headerSeen) {
      if (record.fields.join(",") !== SEED_HEADER) {
        throw new CsvValidationError(
          "header",
          `not a seed metrics file: the header must be exactly ${SEED_HEADER}`,
          record.line,
          null,
        );
      }
      headerSeen = true;
      continue;
    }
    out.lines++;
    if (record.fields.length === 0) {
      // Not at the end (those are trimmed): skipped and counted like any line that cannot be read.
      skip(record.line, null, () => "blank line");
      continue;
    }
    const width = record.fields.length;
    if (width !== SEED_COLUMNS.length) {
      // The commonest broken line, told without a throw: a file of them must stay cheap.
      skip(record.line, null, () => `expected ${SEED_COLUMNS.length} fields, found ${width}`);
      continue;
    }
    try {
      const sample = readLine(record.fields, resolver, latest);
      if (out.rows.length + sample.rows.length > options.maxRows) {
        throw new CsvValidationError(
          "too_many_rows",
          `file has more than ${options.maxRows} rows (one per partition; SRVUTIL_MAX_ROWS_PER_FILE)`,
          record.line,
          null,
        );
      }
      resolver.accept(sample.rows[0]!.timestamp);
      if (sample.kind === "skipped") out.dst.skipped++;
      else if (sample.kind === "repeated-first") out.dst.repeatedFirst++;
      else if (sample.kind === "repeated-second") out.dst.repeatedSecond++;
      for (const row of sample.rows) out.rows.push(row);
    } catch (err) {
      if (!(err instanceof LineProblem)) throw err;
      skip(record.line, err.column, () => err.message);
    }
  }
  if (!headerSeen) throw new CsvValidationError("empty", "file is empty (no header)", 1, null);
  return out;
}

function readLine(
  fields: string[],
  resolver: SeedTimeResolver,
  latest: number,
): { rows: MetricRow[]; kind: LocalTimeKind } {
  if (fields.length !== SEED_COLUMNS.length) {
    throw new LineProblem(null, `expected ${SEED_COLUMNS.length} fields, found ${fields.length}`);
  }
  const [ts, server, cpu, total, used, available, percent, disks] = fields as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const m = SEED_TIMESTAMP.exec(ts);
  const local = m === null ? null : utcFromFields(+m[1]!, +m[2]!, +m[3]!, +m[4]!, +m[5]!, +m[6]!, 0);
  if (local === null) {
    throw new LineProblem("timestamp", `'${clip(ts)}' is not a local time YYYY-MM-DD HH:MM:SS`);
  }
  const serverProblem = serverNameProblem(server);
  if (serverProblem !== null) throw new LineProblem("server_name", serverProblem);
  const cpuPercent = number(cpu, "cpu_percent");
  if (cpuPercent > 100) throw new LineProblem("cpu_percent", `${clip(cpu)} is above 100`);
  const totalGb = number(total, "total_ram_gb");
  const usedGb = number(used, "used_ram_gb");
  const availableGb = number(available, "available_ram_gb");
  const ramPercent = number(percent, "ram_percent");
  if (ramPercent > 100) throw new LineProblem("ram_percent", `${clip(percent)} is above 100`);
  if (usedGb > totalGb) {
    throw new LineProblem("used_ram_gb", `used ${clip(used)} GB is more than total ${clip(total)} GB`);
  }
  if (availableGb > totalGb) {
    throw new LineProblem(
      "available_ram_gb",
      `available ${clip(available)} GB is more than total ${clip(total)} GB`,
    );
  }
  const partitions = readDisks(disks);

  const { ms, kind } = resolver.resolve(local, fields.join(","));
  if (ms < MIN_TIMESTAMP) throw new LineProblem("timestamp", `${ts} is before 2000-01-01`);
  if (ms > latest) throw new LineProblem("timestamp", `${ts} lies in the future`);
  const memTotalBytes = gibToBytes(totalGb);
  const memAvailableBytes = gibToBytes(availableGb);
  const rows = partitions.map(
    (d): MetricRow => ({
      timestamp: ms,
      server,
      cpuPercent,
      cpuPeakPercent: null,
      intervalSeconds: null,
      memTotalBytes,
      // CSV v1's used is total − available; the seed's used_ram_gb is
      // psutil's `used`, which leaves out cache and buffers differently per OS.
      memUsedBytes: memTotalBytes - memAvailableBytes,
      memAvailableBytes,
      diskMount: d.mount,
      diskTotalBytes: d.total,
      diskUsedBytes: d.used,
      diskFreeBytes: d.free,
    }),
  );
  return { rows, kind };
}

interface Partition {
  mount: string;
  total: number;
  used: number;
  free: number;
}

function readDisks(json: string): Partition[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (err) {
    throw new LineProblem("disk_info_json", `not valid JSON (${clip((err as Error).message, 200)})`);
  }
  if (!Array.isArray(parsed)) throw new LineProblem("disk_info_json", "expected a JSON array of partitions");
  if (parsed.length === 0) throw new LineProblem("disk_info_json", "lists no partition");
  const out: Partition[] = [];
  const seen = new Set<string>();
  parsed.forEach((entry: unknown, i) => {
    const where = `partition ${i + 1}`;
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
      throw new LineProblem("disk_info_json", `${where} is not an object`);
    }
    const e = entry as Record<string, unknown>;
    const mountpoint = e.mountpoint;
    if (typeof mountpoint !== "string" || mountpoint === "") {
      throw new LineProblem("disk_info_json", `${where} has no mountpoint`);
    }
    // Windows drives are written as psutil reports them, `C:\`; CSV v1 names them `C:`.
    const mount = WINDOWS_DRIVE_ROOT.test(mountpoint) ? mountpoint.slice(0, 2) : mountpoint;
    if (mount.length > MAX_MOUNT_LENGTH || CONTROL_CHARS.test(mount)) {
      throw new LineProblem("disk_info_json", `${where}: mountpoint is too long or has control characters`);
    }
    if (seen.has(mount)) throw new LineProblem("disk_info_json", `mountpoint '${clip(mount)}' appears twice`);
    seen.add(mount);
    const gb = (key: "total_gb" | "used_gb" | "free_gb"): number => {
      const v = e[key];
      if (typeof v !== "number" || !Number.isFinite(v)) {
        throw new LineProblem("disk_info_json", `${clip(mount)}: ${key} is not a number`);
      }
      if (v < 0) throw new LineProblem("disk_info_json", `${clip(mount)}: ${key} is negative (${v})`);
      return v;
    };
    const total = gb("total_gb");
    const used = gb("used_gb");
    const free = gb("free_gb");
    if (used > total) {
      throw new LineProblem(
        "disk_info_json",
        `${clip(mount)}: used ${used} GB is more than total ${total} GB`,
      );
    }
    if (free > total) {
      throw new LineProblem(
        "disk_info_json",
        `${clip(mount)}: free ${free} GB is more than total ${total} GB`,
      );
    }
    out.push({ mount, total: gibToBytes(total), used: gibToBytes(used), free: gibToBytes(free) });
  });
  return out;
}

function number(text: string, column: string): number {
  if (!NUMBER.test(text)) throw new LineProblem(column, `'${clip(text)}' is not a number`);
  const v = Number(text);
  if (!Number.isFinite(v)) throw new LineProblem(column, `'${clip(text)}' is not a finite number`);
  if (v < 0) throw new LineProblem(column, `${clip(text)} is negative`);
  return v;
}

function gibToBytes(gib: number): number {
  const v = Math.round(gib * GIB);
  if (!Number.isSafeInteger(v)) throw new LineProblem(null, `${gib} GB is too large`);
  return v;
}

function clip(text: string, max?: number): string {
  return clipEcho(text, max);
}
