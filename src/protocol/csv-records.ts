import { CsvValidationError } from "./csv-error.js";

/** One CSV record with the physical line it starts on. */
export interface CsvRecord {
  line: number;
  fields: string[];
}

/**
 * Splits RFC 4180 text into records. Lines without a quote take a fast path
 * (a plain split); quoted fields may contain commas, doubled quotes and line
 * breaks. Accepts LF and CRLF line ends.
 */
export function* csvRecords(text: string): Generator<CsvRecord> {
  const n = text.length;
  let pos = 0;
  let line = 1;
  // Position of the next quote at or after `pos`, searched again only once
  // passed: searching from every line would be quadratic on quote-free files.
  let quote = text.indexOf('"');
  while (pos < n) {
    let nl = text.indexOf("\n", pos);
    if (nl === -1) nl = n;
    let end = nl;
    if (end > pos && text.charCodeAt(end - 1) === 13) end--;
    if (quote !== -1 && quote < pos) quote = text.indexOf('"', pos);
    if (quote === -1 || quote >= nl) {
      const raw = text.slice(pos, end);
      if (raw.indexOf("\r") !== -1) {
        throw new CsvValidationError("syntax", "stray carriage return inside a line", line, null);
      }
      yield { line, fields: raw === "" ? [] : raw.split(",") };
      pos = nl + 1;
      line++;
      continue;
    }
    // Slow path: a record with quoted fields, possibly spanning lines.
    const startLine = line;
    const fields: string[] = [];
    let field = "";
    let i = pos;
    let fieldStart = true;
    for (;;) {
      if (i >= n) {
        fields.push(field);
        pos = n;
        break;
      }
      const ch = text.charCodeAt(i);
      if (fieldStart && ch === 34) {
        // Quoted field.
        i++;
        let closed = false;
        while (i < n) {
          const q = text.indexOf('"', i);
          if (q === -1) break;
          const chunk = text.slice(i, q);
          for (let k = 0; k < chunk.length; k++) if (chunk.charCodeAt(k) === 10) line++;
          field += chunk;
          if (text.charCodeAt(q + 1) === 34) {
            field += '"';
            i = q + 2;
            continue;
          }
          i = q + 1;
          closed = true;
          break;
        }
        if (!closed) {
          throw new CsvValidationError(
            "syntax",
            "quoted field is never closed",
            startLine,
            null,
            fields.length + 1,
          );
        }
        fieldStart = false;
        const next = text.charCodeAt(i);
        if (i >= n || next === 44 || next === 10 || (next === 13 && text.charCodeAt(i + 1) === 10)) continue;
        throw new CsvValidationError(
          "syntax",
          "unexpected character after a closing quote (quotes inside a field must be doubled)",
          line,
          null,
          fields.length + 1,
        );
      }
      if (ch === 44) {
        fields.push(field);
        field = "";
        fieldStart = true;
        i++;
        continue;
      }
      if (ch === 10 || (ch === 13 && text.charCodeAt(i + 1) === 10)) {
        fields.push(field);
        pos = ch === 10 ? i + 1 : i + 2;
        line++;
        break;
      }
      if (ch === 34) {
        throw new CsvValidationError(
          "syntax",
          "quote inside an unquoted field (quote the whole field and double the quote)",
          line,
          null,
          fields.length + 1,
        );
      }
      if (ch === 13)
        throw new CsvValidationError("syntax", "stray carriage return inside a line", line, null);
      field += text[i];
      fieldStart = false;
      i++;
    }
    yield { line: startLine, fields };
  }
}

/**
 * `text` without the blank lines at its end (the line end of its last line
 * stays, so that line reads exactly as before). Trailing blank lines are
 * allowed, but reading them one record at a time cost seconds for a body of
 * 16M line ends; and with them gone, a blank record a reader meets is known
 * to lie in the middle of the file.
 */
export function withoutTrailingBlankLines(text: string): string {
  let end = text.length;
  let lastBreak = -1;
  for (;;) {
    if (end > 0 && text.charCodeAt(end - 1) === 10) {
      end--;
      if (end > 0 && text.charCodeAt(end - 1) === 13) end--;
      lastBreak = end;
    } else break;
  }
  if (lastBreak === -1) return text;
  // Keep the line end right after the content: LF or CRLF, as it was.
  const keep = text.charCodeAt(lastBreak) === 13 ? lastBreak + 2 : lastBreak + 1;
  return keep >= text.length ? text : text.slice(0, keep);
}
