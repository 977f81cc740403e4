import { CsvValidationError, type MetricRow } from "../../../protocol/index.js";
import { isSeedFile, parseSeedCsv, type SeedParseOptions, type SeedRowProblem } from "./parse-seed.js";

/**
 * Which reader a file gets on its way into the ingest path: CSV v1 (the API,
 * the default), the seed format (the /upload_metrics bridge) or either,
 * chosen by the header (`central import`, `central rebuild`).
 */
export type FileFormat = "auto" | "v1" | "seed";

export const FILE_FORMATS: readonly FileFormat[] = ["auto", "v1", "seed"];

/** The reader for these bytes. */
export function resolveFormat(bytes: Uint8Array, format: FileFormat): "v1" | "seed" {
  if (format === "auto") return isSeedFile(bytes) ? "seed" : "v1";
  return format;
}

/**
 * A seed file's rows. Bad lines are skipped: the first 100 are returned with
 * their problem, all are counted. A file none of whose lines can be read is
 * refused like a bad CSV v1 file (nothing stored).
 */
export function readSeedFile(
  bytes: Uint8Array,
  options: SeedParseOptions,
): { rows: MetricRow[]; skipped: SeedRowProblem[]; skippedCount: number } {
  const parsed = parseSeedCsv(bytes, options);
  if (parsed.lines === 0) {
    throw new CsvValidationError("empty", "file has a header but no data rows", 2, null);
  }
  if (parsed.rows.length === 0) {
    const first = parsed.skipped[0]!;
    throw new CsvValidationError(
      "consistency",
      `none of the file's ${parsed.lines} lines can be read; the first: ${first.message}`,
      first.line,
      first.column,
    );
  }
  return { rows: parsed.rows, skipped: parsed.skipped, skippedCount: parsed.skippedCount };
}

/** "line 3, column disk_info_json: …" */
export function describeSeedProblem(p: SeedRowProblem): string {
  return p.column === null
    ? `line ${p.line}: ${p.message}`
    : `line ${p.line}, column ${p.column}: ${p.message}`;
}

/**
 * Raw file names. A seed file is kept byte for byte as received; its name
 * records that it is one and the zone its times were read in, so that
 * `central rebuild` reads it exactly as the upload did:
 * `<upload_id>.csv` (CSV v1) or `<upload_id>.seed.<zone, URI-encoded>.csv`.
 */
export function rawFileName(uploadId: string, seedTimeZone: string | null): string {
  return seedTimeZone === null
    ? `${uploadId}.csv`
    : `${uploadId}.seed.${encodeURIComponent(seedTimeZone)}.csv`;
}

export function parseRawFileName(name: string): { uploadId: string; seedTimeZone: string | null } | null {
  if (!name.endsWith(".csv")) return null;
  const m = /^([^.]+)\.seed\.([^/\\]+)\.csv$/.exec(name);
  if (m !== null) {
    try {
      return { uploadId: m[1]!, seedTimeZone: decodeURIComponent(m[2]!) };
    } catch {
      return null;
    }
  }
  const uploadId = name.slice(0, -4);
  return uploadId === "" ? null : { uploadId, seedTimeZone: null };
}
