import { InputError } from "../errors.js";

/**
 * A metrics file that breaks the CSV v1 contract. `line` is the 1-based
 * physical line of the file, `column` the header name of the offending field
 * (or null when the problem is not tied to one field), `field` its 1-based
 * position in the row.
 */
export class CsvValidationError extends InputError {
  declare readonly reason: CsvErrorReason;
  constructor(
    reason: CsvErrorReason,
    message: string,
    readonly line: number | null,
    readonly column: string | null,
    readonly field: number | null = null,
  ) {
    super(message, { reason });
  }

  /** "line 3, column cpu_percent: …" — what a person reads. */
  describe(): string {
    const where: string[] = [];
    if (this.line !== null) where.push(`line ${this.line}`);
    if (this.column !== null) where.push(`column ${this.column}`);
    return where.length > 0 ? `${where.join(", ")}: ${this.message}` : this.message;
  }
}

/**
 * Why a file is refused; the `reason` of the API's error answer, whose
 * stable code is SRVUTIL_E_ and the reason in capitals (src/errors.ts).
 */
export type CsvErrorReason =
  | "empty"
  | "encoding"
  | "syntax"
  | "header"
  | "field_count"
  | "timestamp"
  | "server"
  | "number"
  | "mount"
  | "consistency"
  | "too_many_rows"
  /** The first line is longer than MAX_HEADER_BYTES (limits.ts). */
  | "header_too_long"
  /** The header has more than MAX_COLUMNS columns. */
  | "too_many_columns"
  /** A line after the header is longer than MAX_LINE_BYTES. */
  | "line_too_long"
  /** A seed file has more than MAX_SKIPPED_LINES lines that cannot be read. */
  | "too_many_bad_lines";
