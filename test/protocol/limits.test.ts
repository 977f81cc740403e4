/**
 * The size limits of a metrics file's lines and of echoed input
 * (src/protocol/limits.ts), at their exact boundaries, for bytes and text
 * input, LF and CRLF, with and without a BOM.
 */
import { describe, expect, it } from "vitest";
import {
  CsvValidationError,
  clipEcho,
  FirstLineGuard,
  MAX_COLUMNS,
  MAX_HEADER_BYTES,
  MAX_LINE_BYTES,
  parseMetricsCsv,
  withoutTrailingBlankLines,
} from "../../src/protocol/index.js";

const HEADER =
  "timestamp,server,cpu_percent,mem_total_bytes,mem_used_bytes,mem_available_bytes,disk_mount,disk_total_bytes,disk_used_bytes,disk_free_bytes";
const ROW = "2026-11-23T10:00:00Z,web-01,12.5,8000,3000,5000,/,1000,400,500";
const NOW = Date.UTC(2026, 10, 25);

function refusal(input: string | Uint8Array): CsvValidationError {
  try {
    parseMetricsCsv(input, { now: NOW });
  } catch (err) {
    expect(err).toBeInstanceOf(CsvValidationError);
    return err as CsvValidationError;
  }
  throw new Error("expected a CsvValidationError");
}
const bytes = (s: string) => new TextEncoder().encode(s);

/** The header padded with an unknown column to exactly `size` bytes. */
function headerOf(size: number): string {
  const pad = size - HEADER.length - ",x".length;
  return `${HEADER},x${"y".repeat(pad)}`;
}

describe("header line length", () => {
  it.each([
    ["LF", "\n", ""],
    ["CRLF", "\r\n", ""],
    ["LF with a BOM", "\n", "\uFEFF"],
  ])("accepts %s at exactly MAX_HEADER_BYTES and refuses one byte more", (_name, eol, bom) => {
    // The padding is one extra column, so the row has one more field.
    const ok = `${bom}${headerOf(MAX_HEADER_BYTES)}${eol}${ROW},z${eol}`;
    expect(parseMetricsCsv(bytes(ok), { now: NOW }).rows).toHaveLength(1);
    const e = refusal(bytes(`${bom}${headerOf(MAX_HEADER_BYTES + 1)}${eol}${ROW},z${eol}`));
    expect({ reason: e.reason, line: e.line }).toEqual({ reason: "header_too_long", line: 1 });
  });

  it("refuses a header without any line end as soon as it passes the limit, for text input too", () => {
    expect(refusal(bytes(",".repeat(1_000_000))).reason).toBe("header_too_long");
    expect(refusal(",".repeat(1_000_000)).reason).toBe("header_too_long");
    // Counted in UTF-8 bytes, not characters: 1,366 three-byte characters are 4,098 bytes.
    expect(refusal(`${HEADER},${"€".repeat(1366)}\n${ROW},x\n`).reason).toBe("header_too_long");
  });

  it("answers a 16M-comma header in little time with a short message", () => {
    const t0 = performance.now();
    const e = refusal(new Uint8Array(16_000_000).fill(44));
    expect(performance.now() - t0).toBeLessThan(500);
    expect(e.describe().length).toBeLessThan(200);
  });
});

describe("column count", () => {
  it("accepts MAX_COLUMNS columns and refuses one more", () => {
    const extra = (n: number) => Array.from({ length: n }, (_, i) => `x${i}`);
    const cols = (n: number) => [...HEADER.split(","), ...extra(n - 10)];
    const file = (n: number) => `${cols(n).join(",")}\n${ROW}${",".repeat(n - 10)}\n`;
    expect(parseMetricsCsv(file(MAX_COLUMNS), { now: NOW }).rows).toHaveLength(1);
    const e = refusal(file(MAX_COLUMNS + 1));
    expect({ reason: e.reason, line: e.line }).toEqual({ reason: "too_many_columns", line: 1 });
  });

  it("names at most MAX_COLUMNS clipped columns when a required one is missing", () => {
    const cols = Array.from({ length: MAX_COLUMNS }, (_, i) => `${"c".repeat(60)}${i}`);
    const e = refusal(`${cols.join(",")}\n`);
    expect(e.reason).toBe("header");
    expect(e.message.length).toBeLessThan(MAX_COLUMNS * 80);
    expect(e.message).toContain("… (62 characters)");
  });
});

describe("line length", () => {
  it("accepts a line of exactly MAX_LINE_BYTES and refuses one byte more, naming its line", () => {
    const header = `${HEADER},note`;
    const row = (size: number) => `${ROW},${"n".repeat(size - ROW.length - 1)}`;
    expect(row(MAX_LINE_BYTES)).toHaveLength(MAX_LINE_BYTES);
    const ok = `${header}\r\n${ROW},a\r\n${row(MAX_LINE_BYTES)}\r\n`;
    expect(parseMetricsCsv(bytes(ok), { now: NOW }).rows).toHaveLength(2);
    const e = refusal(bytes(`${header}\n${ROW},a\n${row(MAX_LINE_BYTES + 1)}\n${ROW},b\n`));
    expect({ reason: e.reason, line: e.line }).toEqual({ reason: "line_too_long", line: 3 });
    // The last line, without a line end.
    expect(refusal(bytes(`${header}\n${row(MAX_LINE_BYTES + 1)}`)).line).toBe(2);
  });
});

describe("trailing blank lines", () => {
  it("are trimmed, keeping the last line's own line end", () => {
    expect(withoutTrailingBlankLines("a\nb\n\n\r\n\n")).toBe("a\nb\n");
    expect(withoutTrailingBlankLines("a\r\n\r\n")).toBe("a\r\n");
    expect(withoutTrailingBlankLines("a\r\r\n\n")).toBe("a\r\r\n");
    expect(withoutTrailingBlankLines("a")).toBe("a");
    expect(withoutTrailingBlankLines("a\n")).toBe("a\n");
    expect(withoutTrailingBlankLines("\n\n")).toBe("\n");
  });

  it("16 MiB of them after a row cost a single pass; a blank line before a row is refused where it is", () => {
    const head = bytes(`${HEADER}\n${ROW}\n`);
    const file = new Uint8Array(head.length + 16 * 1024 * 1024).fill(10);
    file.set(head);
    const t0 = performance.now();
    expect(parseMetricsCsv(file, { now: NOW }).rows).toHaveLength(1);
    expect(performance.now() - t0).toBeLessThan(2000);
    const e = refusal(`${HEADER}\n${ROW}\n\n\n${ROW}\n`);
    expect({ reason: e.reason, line: e.line }).toEqual({ reason: "syntax", line: 3 });
  });
});

describe("clipEcho", () => {
  it("keeps short text and clips long text with an ellipsis and its length", () => {
    expect(clipEcho("abc")).toBe("abc");
    expect(clipEcho("x".repeat(40))).toBe("x".repeat(40));
    expect(clipEcho("x".repeat(1_000_000))).toBe(`${"x".repeat(40)}… (1000000 characters)`);
    expect(clipEcho("abcdef", 3)).toBe("abc… (6 characters)");
    // Never half a surrogate pair.
    expect(clipEcho(`${"x".repeat(39)}😀😀`)).toBe(`${"x".repeat(39)}… (43 characters)`);
  });

  it("bounds what a refusal quotes of a huge field", () => {
    const e = refusal(
      `${HEADER}\n2026-11-23T10:00:00Z,web-01,${"9".repeat(60_000)},8000,3000,5000,/,1000,400,500\n`,
    );
    expect(e.reason).toBe("number");
    expect(e.message.length).toBeLessThan(200);
    expect(e.message).toContain("(60000 characters)");
  });
});

describe("FirstLineGuard", () => {
  it("refuses once the first line passes the limit, whatever the chunking; never for a short first line", () => {
    const g = new FirstLineGuard();
    let err: CsvValidationError | null = null;
    for (let i = 0; i < 100 && err === null; i++) err = g.next(new Uint8Array(100).fill(44));
    expect(err?.reason).toBe("header_too_long");

    const ok = new FirstLineGuard();
    expect(ok.next(bytes(`${HEADER}\n`))).toBeNull();
    expect(ok.next(new Uint8Array(1_000_000).fill(44))).toBeNull();
  });

  it("leaves a gzip stream to the decompressed side", () => {
    const g = new FirstLineGuard();
    expect(g.next(new Uint8Array([0x1f, 0x8b, ...new Uint8Array(10_000)]))).toBeNull();
  });
});
