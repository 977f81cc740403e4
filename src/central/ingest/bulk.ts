import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { errorCode, InputError, SrvutilError } from "../../errors.js";
import { CsvValidationError } from "../../protocol/index.js";
import type { Storage } from "../storage/store.js";
import { gunzipCapped } from "./gunzip.js";
import type { IngestFileOptions, IngestService } from "./ingest-service.js";
import { describeSeedProblem, type FileFormat, parseRawFileName } from "./seed/format.js";
import { isUploadId, uploadIdTime } from "./upload-id.js";

/**
 * `central import DIR` and `central rebuild`: many files through the same
 * ingest path as the API, one transaction per file, with progress reporting.
 */

export interface BulkProgress {
  /** Called after each file with counts so far. */
  update(done: number, total: number, rows: number): void;
  finish(): void;
}

export interface BulkFailure {
  file: string;
  error: string;
}

/** A seed line skipped on import (the rest of its file was imported). */
export interface SkippedLine {
  file: string;
  line: number;
  error: string;
}

export interface ImportSummary {
  files: number;
  imported: number;
  /** Files whose exact content (same server, same SHA-256) was already stored. */
  skipped: number;
  failed: BulkFailure[];
  rows: number;
  inserted: number;
  duplicates: number;
  /** Seed lines skipped for breaking the seed contract, with file and line: the first 100 of each file. */
  skippedLines: SkippedLine[];
  /** Every skipped seed line, also those past each file's first 100. */
  skippedLineCount: number;
}

/** Files accepted by import: CSV v1, plain or gzipped. */
const IMPORTABLE = /\.csv(\.gz)?$/i;

/** Lists importable files under `dir`, recursively, in a stable (sorted) order. */
export async function listCsvFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string, depth: number) => {
    if (depth > 16) return; // a symlink loop or an absurd tree: stop, don't recurse forever
    const entries = await readdir(d, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p, depth + 1);
      else if (e.isFile() && IMPORTABLE.test(e.name)) out.push(p);
    }
  };
  await walk(dir, 0);
  return out;
}

export async function importDirectory(
  ingest: IngestService,
  dir: string,
  options: {
    maxBodyBytes: number;
    progress?: BulkProgress;
    /** Default auto: seed files are recognised by their header. */
    format?: FileFormat;
    /** Zone of seed timestamps; default the ingest service's (the report time zone). */
    sourceTimeZone?: string;
  },
): Promise<ImportSummary> {
  const info = await stat(dir).catch(() => null);
  if (info === null || !info.isDirectory()) throw new InputError(`${dir}: not a directory`);
  const files = await listCsvFiles(dir);
  const summary: ImportSummary = {
    files: files.length,
    imported: 0,
    skipped: 0,
    failed: [],
    rows: 0,
    inserted: 0,
    duplicates: 0,
    skippedLines: [],
    skippedLineCount: 0,
  };
  const fileOptions = {
    format: options.format ?? "auto",
    ...(options.sourceTimeZone === undefined ? {} : { sourceTimeZone: options.sourceTimeZone }),
  };
  // Files overlap: while one file's rows are in the database, the next ones are read and parsed
  // (the parse pool's threads). Results are folded in file order, so the summary and its skipped
  // lines read as if the files had gone one by one.
  const outcomes = new Array<Promise<FileOutcome>>(files.length);
  const inFlight = new Set<{ bytes: Buffer; work: Promise<unknown> }>();
  const start = (i: number) => {
    outcomes[i] = importOne(ingest, files[i]!, options.maxBodyBytes, fileOptions, inFlight);
  };
  for (let i = 0; i < Math.min(IMPORT_FILES_IN_FLIGHT, files.length); i++) start(i);
  for (const [i, file] of files.entries()) {
    const outcome = await outcomes[i]!;
    if (i + IMPORT_FILES_IN_FLIGHT < files.length) start(i + IMPORT_FILES_IN_FLIGHT);
    if (!outcome.ok) summary.failed.push({ file, error: outcome.error });
    else if (outcome.result.replay) summary.skipped++;
    else {
      const result = outcome.result;
      for (const p of result.skippedRows) {
        summary.skippedLines.push({ file, line: p.line, error: describeSeedProblem(p) });
      }
      summary.skippedLineCount += result.skippedLineCount;
      summary.imported++;
      summary.rows += result.rows;
      summary.inserted += result.inserted;
      summary.duplicates += result.duplicates;
    }
    options.progress?.update(i + 1, files.length, summary.rows);
  }
  options.progress?.finish();
  return summary;
}

/**
 * Files of one import being read, parsed or stored at once. Enough to keep
 * the database busy while the next files are parsed (PostgreSQL waits on
 * round trips; SQLite commits them together), few enough that memory holds
 * only a handful of files.
 */
const IMPORT_FILES_IN_FLIGHT = 4;

type FileOutcome =
  | { ok: true; result: Awaited<ReturnType<IngestService["ingestFile"]>> }
  | { ok: false; error: string };

async function importOne(
  ingest: IngestService,
  file: string,
  maxBodyBytes: number,
  fileOptions: IngestFileOptions,
  inFlight: Set<{ bytes: Buffer; work: Promise<unknown> }>,
): Promise<FileOutcome> {
  try {
    let bytes: Buffer = await readFile(file);
    if (bytes.length > maxBodyBytes && !file.endsWith(".gz")) {
      throw new InputError(`file is larger than SRVUTIL_MAX_BODY_BYTES (${maxBodyBytes})`);
    }
    if (file.toLowerCase().endsWith(".gz")) bytes = await gunzipCapped(bytes, maxBodyBytes);
    // Two copies of one file in flight together would both miss the replay check; the second
    // waits for the first, and is then skipped as a replay as it would be one after the other.
    // Compared byte for byte (a handful of files, mostly of other lengths): no second hash.
    for (const other of inFlight) {
      if (other.bytes.equals(bytes)) await other.work.catch(() => {});
    }
    const entry = { bytes, work: ingest.ingestFile(bytes, fileOptions) };
    inFlight.add(entry);
    try {
      return { ok: true, result: await entry.work };
    } finally {
      inFlight.delete(entry);
    }
  } catch (err) {
    return { ok: false, error: describeError(err) };
  }
}

export interface RebuildSummary {
  files: number;
  rebuilt: number;
  failed: BulkFailure[];
  rows: number;
  inserted: number;
  /** Seed lines skipped again, as they were when the file was received. */
  skippedLines: number;
}

/**
 * Re-derives samples and uploads from received_metrics/: clears them, then
 * re-ingests every raw file under its original upload id. Tokens and other
 * modules' tables stay. Restartable: an interrupted rebuild is finished by
 * running it again.
 */
export async function rebuildFromRaw(
  store: Storage,
  ingest: IngestService,
  receivedMetricsDir: string,
  options: {
    progress?: BulkProgress;
    /** Runs on the files found, before anything is cleared; throws to stop the rebuild. */
    beforeClear?: (files: readonly string[]) => Promise<void>;
  } = {},
): Promise<RebuildSummary> {
  const files = (await listCsvFiles(receivedMetricsDir).catch(() => [] as string[])).filter(
    (f) => !f.endsWith(".gz"),
  );
  // Upload ids start with the receipt time: sorting by name replays in arrival order.
  files.sort((a, b) => {
    const ka = path.basename(a);
    const kb = path.basename(b);
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
  await options.beforeClear?.(files);
  await store.clearIngestedData();
  const summary: RebuildSummary = {
    files: files.length,
    rebuilt: 0,
    failed: [],
    rows: 0,
    inserted: 0,
    skippedLines: 0,
  };
  for (const [i, file] of files.entries()) {
    try {
      const bytes = await readFile(file);
      const id = parseRawFileName(path.basename(file))?.uploadId ?? "";
      const receivedAt = isUploadId(id) ? uploadIdTime(id) : (await stat(file)).mtimeMs;
      const result = await ingest.ingestStoredFile(file, bytes, Math.floor(receivedAt));
      summary.rebuilt++;
      summary.rows += result.rows;
      summary.inserted += result.inserted;
      summary.skippedLines += result.skippedLineCount;
    } catch (err) {
      summary.failed.push({ file, error: describeError(err) });
    }
    options.progress?.update(i + 1, files.length, summary.rows);
  }
  options.progress?.finish();
  return summary;
}

/** A file's error, ending with the stable code the API answers for it (`(SRVUTIL_E_…)`, as the seed bridge). */
function describeError(err: unknown): string {
  if (err instanceof CsvValidationError) return `${err.describe()} (${errorCode(err.reason)})`;
  if (err instanceof SrvutilError) return `${err.message} (${errorCode(err.reason)})`;
  if (err instanceof Error) return err.message;
  return String(err);
}

/** Progress on stderr: a redrawn bar on a terminal, a line every ~10% otherwise (logs, CI). */
export function stderrProgress(label: string, stream: NodeJS.WriteStream = process.stderr): BulkProgress {
  let lastPrinted = -1;
  let lastTime = 0;
  return {
    update(done, total, rows) {
      const pct = total === 0 ? 100 : Math.floor((done / total) * 100);
      if (stream.isTTY) {
        const now = Date.now();
        if (done !== total && now - lastTime < 100) return;
        lastTime = now;
        const width = 30;
        const filled = Math.round((pct / 100) * width);
        stream.write(
          `\r${label} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${done}/${total} files, ${rows} rows`,
        );
      } else if (Math.floor(pct / 10) !== Math.floor(lastPrinted / 10) || done === total) {
        lastPrinted = pct;
        stream.write(`${label}: ${done}/${total} files (${pct}%), ${rows} rows\n`);
      }
    },
    finish() {
      if (stream.isTTY) stream.write("\n");
    },
  };
}
