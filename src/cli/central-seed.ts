import { FILE_FORMATS, type FileFormat } from "../central/ingest/seed/format.js";
import { usageError } from "../errors.js";

/** `central import --format … --source-tz …`, checked before anything is opened. */
export function importFileOptions(opts: { format: string; sourceTz?: string }): {
  format: FileFormat;
  sourceTimeZone?: string;
} {
  const format = FILE_FORMATS.find((f) => f === opts.format);
  if (format === undefined) {
    throw usageError(`--format: expected ${FILE_FORMATS.join(", ")}, got '${opts.format}'`);
  }
  if (opts.sourceTz === undefined) return { format };
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: opts.sourceTz });
  } catch {
    throw usageError(`--source-tz: '${opts.sourceTz}' is not an IANA time zone name such as Europe/Berlin`);
  }
  return { format, sourceTimeZone: opts.sourceTz };
}
