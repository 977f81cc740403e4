/**
 * Generators of hostile input shared by the fuzz files: characters and
 * bytes that break parsers (control characters, NUL, invalid UTF-8, BOMs,
 * bidi overrides, lone surrogates), numbers (huge, NaN/Infinity, signs,
 * exponents, other digit systems), timestamps (negative, far past, far
 * future, impossible dates, odd offsets), CSV v1 files built from them, gzip
 * of all of it (valid and corrupt) and multipart bodies.
 */
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { CANONICAL_COLUMNS, csvField } from "../../src/protocol/index.js";

const DAY = 86_400_000;

/** Characters that parsers, loggers and HTML trip over. */
export const HOSTILE_CHARS = [
  "\u0000",
  "\u0001",
  "\u0007",
  "\b",
  "\t",
  "\n",
  "\r",
  "\u000b",
  "\u000c",
  "\u001b",
  "\u007f",
  "\u0085",
  "\u00a0",
  "\u00ff",
  "\u2028",
  "\u2029",
  "\u202e",
  "\u200b",
  "\ufeff",
  "\ufffd",
  "\uffff",
  "\ud800",
  "\udfff",
  "\u{1f4a9}",
  '"',
  "'",
  ",",
  ";",
  "=",
  "&",
  "%",
  "+",
  "#",
  "?",
  "/",
  "\\",
  "<",
  ">",
  "`",
  "$",
  "{",
  "}",
  "[",
  "]",
  "|",
  " ",
  ".",
  "..",
  "../",
  "%00",
  "%0d%0a",
  "%ZZ",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a template placeholder as text is the point
  "${x}",
  "{{x}}",
  "<script>",
  "é",
  "Ω",
  "中",
] as const;

export const hostileChar = fc.constantFrom(...HOSTILE_CHARS);

/** Short hostile strings: generated ones mixing plain and hostile characters, and classics. */
export const hostileString = (maxLength = 40): fc.Arbitrary<string> =>
  fc.oneof(
    {
      weight: 3,
      arbitrary: fc.string({ unit: fc.oneof(hostileChar, fc.string({ maxLength: 1 })), maxLength }),
    },
    { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength }) },
    { weight: 1, arbitrary: fc.string({ maxLength }) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        "",
        " ",
        "null",
        "undefined",
        "NaN",
        "true",
        "[]",
        "{}",
        "__proto__",
        "constructor",
        "prototype",
        "CON",
        "NUL",
        "COM1",
        "LPT9",
        "../../etc/passwd",
        "..\\..\\windows",
        "/etc/passwd",
        "C:\\",
        "\\\\server\\share",
        "web-01\u0000",
        "web-01 ",
        " web-01",
        "WEB-01",
        "web-01.",
        "web-01/..",
        "x".repeat(65),
        "x".repeat(300),
        "%",
        "%%",
        "%u0000",
        "'; DROP TABLE samples; --",
        '" OR 1=1 --',
        "<img src=x onerror=alert(1)>",
        "javascript:alert(1)",
        "\u202egnp.exe",
        "e\u0301",
        "🙂".repeat(20),
      ),
    },
  );

/** Invalid UTF-8 sequences: lone continuation, truncated, overlong, surrogates, above U+10FFFF, 0xFF. */
export const INVALID_UTF8: readonly number[][] = [
  [0x80],
  [0xbf],
  [0xc0, 0xaf],
  [0xc1, 0xbf],
  [0xc3],
  [0xe2, 0x82],
  [0xe0, 0x80, 0xaf],
  [0xed, 0xa0, 0x80],
  [0xed, 0xbf, 0xbf],
  [0xf0, 0x80, 0x80, 0xaf],
  [0xf4, 0x90, 0x80, 0x80],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
  [0xfe],
  [0xff],
  [0xff, 0xfe],
  [0xfe, 0xff],
];
export const invalidUtf8 = fc.constantFrom(...INVALID_UTF8).map((b) => Buffer.from(b));

/** Number texts that must never pass for a number of bytes or a percentage, and some that must. */
export const hostileNumberText: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    "",
    "NaN",
    "nan",
    "Infinity",
    "-Infinity",
    "inf",
    "1e308",
    "1e309",
    "1e-320",
    "-0",
    "+0",
    "0",
    "00",
    "0.0",
    "100",
    "100.0",
    "100.0000000000001",
    "99.99999999999999999999",
    "9007199254740991",
    "9007199254740992",
    "9007199254740993",
    "18446744073709551616",
    "9".repeat(400),
    `0.${"0".repeat(400)}1`,
    "0x10",
    "0b101",
    "0o17",
    "1_000",
    "1,000",
    "1.000,5",
    "١٢٣",
    "１２３",
    "²",
    " 1",
    "1 ",
    "\t1",
    "1\u0000",
    "+1",
    "-1",
    ".5",
    "5.",
    "1.2.3",
    "1e3",
    "1E3",
    "--1",
    "null",
    "true",
    "[1]",
    "{}",
  ),
  fc.double().map(String),
  fc.double({ noNaN: true, min: -1e21, max: 1e21 }).map((d) => d.toFixed(3)),
  fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }).map(String),
  fc.integer({ min: 0, max: 2_000_000_000 }).map(String),
  fc.nat({ max: 100 }).map(String),
);

function isoWithOffset(ms: number, offsetMinutes: number): string | null {
  const d = new Date(ms + offsetMinutes * 60_000);
  if (Number.isNaN(d.getTime())) return null;
  const iso = d.toISOString().slice(0, -1);
  const sign = offsetMinutes < 0 ? "-" : "+";
  const abs = Math.abs(offsetMinutes);
  return `${iso}${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
}

/**
 * Timestamps of every age relative to the real clock (6 weeks, 6 months, 12
 * and 14 months back, future), at the extremes of Date, impossible ones, and
 * text that only looks like one.
 */
export const hostileTimestamp: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .tuple(
        fc.constantFrom(-1, 0, 1, 3, 42, 182, 365, 426, 800, 9000, -2, -400),
        fc.integer({ min: 0, max: DAY - 1 }),
        fc.constantFrom(0, 0, 60, -300, 330, 840, -720, 1439, -1439),
      )
      .map(([days, within, offset]) => {
        const ms = Date.now() - days * DAY - within;
        return (offset === 0 ? new Date(ms).toISOString() : isoWithOffset(ms, offset)) ?? "";
      }),
  },
  {
    weight: 2,
    arbitrary: fc
      .integer({ min: -8_640_000_000_000_000, max: 8_640_000_000_000_000 })
      .map((ms) => new Date(ms).toISOString()),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      "",
      "0",
      "-1",
      "1732000000",
      "1732000000000",
      "NaN",
      "Infinity",
      "1970-01-01T00:00:00Z",
      "1999-12-31T23:59:59.999Z",
      "2000-01-01T00:00:00Z",
      "0000-01-01T00:00:00Z",
      "-000001-01-01T00:00:00Z",
      "+275760-09-13T00:00:00Z",
      "+275760-09-13T00:00:00.001Z",
      "9999-12-31T23:59:59Z",
      "2026-02-29T00:00:00Z",
      "2024-02-29T24:00:00Z",
      "2026-01-01T23:59:60Z",
      "2026-13-01T00:00:00Z",
      "2026-01-32T00:00:00Z",
      "2026-01-01T00:00:00+99:99",
      "2026-01-01T00:00:00+24:00",
      "2026-01-01T00:00:00-00:00",
      "2026-01-01T00:00:00+0100",
      "2026-01-01T00:00:00z",
      "2026-01-01t00:00:00Z",
      "2026-01-01 00:00:00Z",
      "2026-01-01T00:00:00",
      "2026-01-01",
      "2026-W01",
      "2026-01-01T00:00:00.123456789123456789Z",
      `2026-01-01T00:00:00.${"9".repeat(500)}Z`,
      "2026-01-01T00:00:00Z\u0000",
      "２０２６-01-01T00:00:00Z",
      "2026-01-01T00:00:00Z ",
    ),
  },
);

export const CSV_COLUMNS: readonly string[] = CANONICAL_COLUMNS;

/** A CSV v1 file as a model: header names, rows of field texts. Mutated, then serialized. */
export interface CsvModel {
  header: string[];
  rows: string[][];
}

let uniqueMinute = 0;
/** A valid file of web-01 (`n` rows, two mounts), at recent real-clock minutes that differ per call. */
export function validCsvModel(n: number, server = "web-01", startMs?: number): CsvModel {
  uniqueMinute++;
  const start = startMs ?? Math.floor(Date.now() / 60_000) * 60_000 - (uniqueMinute % 40_000) * 60_000 - DAY;
  const rows: string[][] = [];
  for (let i = 0; i < n; i++) {
    const ts = new Date(start - Math.floor(i / 2) * 60_000).toISOString();
    rows.push([
      ts,
      server,
      "12.5",
      "40",
      "60",
      "8000000000",
      "3000000000",
      "5000000000",
      i % 2 === 0 ? "/" : "/data",
      "100000000000",
      "40000000000",
      "55000000000",
    ]);
  }
  return { header: [...CSV_COLUMNS], rows };
}

/** One structural or field mutation of a CSV model. */
export type CsvMutation = (m: CsvModel) => void;

const pick = <T>(xs: readonly T[], i: number): T => xs[Math.abs(i) % xs.length]!;

export const csvMutation: fc.Arbitrary<CsvMutation> = fc.oneof(
  // A field of a row becomes a hostile value fitting its column's kind (or not).
  fc.tuple(fc.nat(), fc.nat(), fc.oneof(hostileNumberText, hostileTimestamp, hostileString(60))).map(
    ([r, col, value]): CsvMutation =>
      (m) => {
        if (m.rows.length === 0) return;
        const row = pick(m.rows, r);
        row[Math.abs(col) % Math.max(1, row.length)] = value;
      },
  ),
  fc.tuple(fc.nat(), fc.nat(), hostileTimestamp).map(
    ([r, _c, value]): CsvMutation =>
      (m) => {
        const i = m.header.indexOf("timestamp");
        if (m.rows.length > 0 && i >= 0) pick(m.rows, r)[i] = value;
      },
  ),
  fc.tuple(fc.nat(), fc.constantFrom(5, 6, 7, 9, 10, 11, 2, 3, 4), hostileNumberText).map(
    ([r, col, value]): CsvMutation =>
      (m) => {
        if (m.rows.length > 0) pick(m.rows, r)[col] = value;
      },
  ),
  // Every row's value in one column: a whole file of huge or odd numbers, mounts, servers.
  fc.tuple(fc.nat(), fc.oneof(hostileNumberText, hostileString(30))).map(
    ([col, value]): CsvMutation =>
      (m) => {
        const c = Math.abs(col) % Math.max(1, m.header.length);
        for (const row of m.rows) row[c] = value;
      },
  ),
  // Duplicated column (with its values), dropped column, unknown columns, shuffled order.
  fc.nat().map(
    (col): CsvMutation =>
      (m) => {
        const c = Math.abs(col) % Math.max(1, m.header.length);
        m.header.push(m.header[c] ?? "timestamp");
        for (const row of m.rows) row.push(row[c] ?? "");
      },
  ),
  fc.nat().map(
    (col): CsvMutation =>
      (m) => {
        const c = Math.abs(col) % Math.max(1, m.header.length);
        m.header.splice(c, 1);
        for (const row of m.rows) row.splice(c, 1);
      },
  ),
  fc.tuple(hostileString(30), hostileString(30)).map(
    ([name, value]): CsvMutation =>
      (m) => {
        m.header.push(name);
        for (const row of m.rows) row.push(value);
      },
  ),
  fc.array(fc.nat(), { minLength: 2, maxLength: 12 }).map(
    (order): CsvMutation =>
      (m) => {
        for (let i = 0; i < order.length; i++) {
          const a = i % Math.max(1, m.header.length);
          const b = order[i]! % Math.max(1, m.header.length);
          [m.header[a], m.header[b]] = [m.header[b]!, m.header[a]!];
          for (const row of m.rows) [row[a], row[b]] = [row[b]!, row[a]!];
        }
      },
  ),
  // Header names changed: case, spaces, BOM inside, quotes.
  fc.tuple(fc.nat(), fc.constantFrom("upper", "space", "bom", "nul", "empty")).map(
    ([col, how]): CsvMutation =>
      (m) => {
        const c = Math.abs(col) % Math.max(1, m.header.length);
        const h = m.header[c] ?? "";
        m.header[c] =
          how === "upper"
            ? h.toUpperCase()
            : how === "space"
              ? ` ${h} `
              : how === "bom"
                ? `\ufeff${h}`
                : how === "nul"
                  ? `${h}\u0000`
                  : "";
      },
  ),
  // Rows: a repeated row (a duplicate), a short row, a long row, a blank row, a row of another server.
  fc.tuple(fc.nat(), fc.constantFrom("repeat", "short", "long", "blank", "other-server")).map(
    ([r, how]): CsvMutation =>
      (m) => {
        if (m.rows.length === 0) return;
        const i = Math.abs(r) % m.rows.length;
        const row = m.rows[i]!;
        if (how === "repeat") m.rows.splice(i, 0, [...row]);
        else if (how === "short") row.splice(Math.max(1, row.length - 3));
        else if (how === "long") row.push("extra", "fields");
        else if (how === "blank") m.rows.splice(i, 0, []);
        else {
          const s = m.header.indexOf("server");
          if (s >= 0) row[s] = "web-02";
        }
      },
  ),
);

export interface CsvShape {
  lineEnd: "\n" | "\r\n" | "\r" | "mixed";
  bom: boolean;
  quoteAll: boolean;
  trailingNewline: boolean;
}

export const csvShape: fc.Arbitrary<CsvShape> = fc.record({
  lineEnd: fc.constantFrom("\n", "\n", "\r\n", "\r", "mixed"),
  bom: fc.boolean(),
  quoteAll: fc.boolean(),
  trailingNewline: fc.boolean(),
});

export function serializeModel(m: CsvModel, shape: CsvShape): string {
  // A mutation may leave a row shorter than the header: a missing field is an empty one.
  const field = (v: string | undefined) =>
    shape.quoteAll ? `"${(v ?? "").replaceAll('"', '""')}"` : csvField(v ?? "");
  const lines = [m.header, ...m.rows].map((fields) => fields.map(field).join(","));
  let out = "";
  lines.forEach((line, i) => {
    if (i > 0) out += shape.lineEnd === "mixed" ? (i % 2 ? "\r\n" : "\n") : shape.lineEnd;
    out += line;
  });
  if (shape.trailingNewline) out += shape.lineEnd === "mixed" ? "\n" : shape.lineEnd;
  return (shape.bom ? "\ufeff" : "") + out;
}

/** Byte-level damage after serialization: invalid UTF-8, NUL, stray quotes, truncation. */
export const byteDamage: fc.Arbitrary<(b: Buffer) => Buffer> = fc.oneof(
  fc.constant((b: Buffer) => b),
  fc.constant((b: Buffer) => b),
  fc.tuple(fc.nat(), invalidUtf8).map(([at, bad]) => (b: Buffer) => {
    const i = at % (b.length + 1);
    return Buffer.concat([b.subarray(0, i), bad, b.subarray(i)]);
  }),
  fc
    .tuple(fc.nat(), fc.constantFrom(0x00, 0x22, 0x0d, 0x0a, 0x2c, 0x1a, 0x7f))
    .map(([at, byte]) => (b: Buffer) => {
      const i = at % (b.length + 1);
      return Buffer.concat([b.subarray(0, i), Buffer.from([byte]), b.subarray(i)]);
    }),
  fc.nat().map((at) => (b: Buffer) => b.subarray(0, at % (b.length + 1))),
  fc.constant((b: Buffer) => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf]), b])),
  fc.constant((b: Buffer) => Buffer.from(b.toString("utf8"), "utf16le")),
);

export const hostileCsv: fc.Arbitrary<Buffer> = fc
  .tuple(
    fc.integer({ min: 0, max: 24 }),
    fc.array(csvMutation, { minLength: 0, maxLength: 4 }),
    csvShape,
    byteDamage,
  )
  .map(([n, mutations, shape, damage]) => {
    const model = validCsvModel(n);
    for (const mutate of mutations) mutate(model);
    return damage(Buffer.from(serializeModel(model, shape), "utf8"));
  });

/** How the file travels: raw text/csv, octet-stream, gzip (whole or damaged), multipart (plain or gzip). */
export type Transport =
  | { kind: "raw"; contentType: string }
  | {
      kind: "gzip";
      contentType: string;
      encoding: string;
      damage: "none" | "truncate" | "flip" | "trailing" | "two-members" | "crc";
    }
  | { kind: "multipart"; gzipFile: boolean };

export const transport: fc.Arbitrary<Transport> = fc.oneof(
  fc
    .constantFrom("text/csv", "application/octet-stream", "text/csv; charset=utf-8")
    .map((contentType): Transport => ({ kind: "raw", contentType })),
  fc
    .record({
      contentType: fc.constantFrom("text/csv", "application/octet-stream"),
      encoding: fc.constantFrom("gzip", "x-gzip", "GZIP", " gzip "),
      damage: fc.constantFrom("none", "none", "none", "truncate", "flip", "trailing", "two-members", "crc"),
    })
    .map((r): Transport => ({ kind: "gzip", ...r }) as Transport),
  fc.boolean().map((gzipFile): Transport => ({ kind: "multipart", gzipFile })),
);

/** gzip of `bytes`, valid or damaged in one way. */
export function gzipWith(
  bytes: Buffer,
  damage: Extract<Transport, { kind: "gzip" }>["damage"],
  at = 7,
): Buffer {
  const gz = gzipSync(bytes);
  switch (damage) {
    case "none":
      return gz;
    case "truncate":
      return gz.subarray(0, Math.max(2, gz.length - 1 - (at % Math.max(1, gz.length - 2))));
    case "flip": {
      const copy = Buffer.from(gz);
      const i = 10 + (at % Math.max(1, copy.length - 18));
      copy[i] = copy[i]! ^ 0xff;
      return copy;
    }
    case "trailing":
      return Buffer.concat([gz, Buffer.from("trailing garbage\u0000")]);
    case "two-members":
      return Buffer.concat([gz, gzipSync(bytes)]);
    case "crc": {
      const copy = Buffer.from(gz);
      copy[copy.length - 8] = copy[copy.length - 8]! ^ 0x01;
      return copy;
    }
  }
}

export const BOUNDARY = "----srvutilfuzz7MA4YWxkTrZu0gW";

export interface MultipartPart {
  name: string;
  filename?: string;
  contentType?: string;
  body: Buffer | string;
  /** Extra raw header lines of the part. */
  extraHeaders?: string[];
}

export function multipartBody(parts: readonly MultipartPart[], boundary = BOUNDARY, end = true): Buffer {
  const out: Buffer[] = [];
  for (const p of parts) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"`;
    if (p.filename !== undefined) head += `; filename="${p.filename}"`;
    head += "\r\n";
    if (p.contentType !== undefined) head += `Content-Type: ${p.contentType}\r\n`;
    for (const h of p.extraHeaders ?? []) head += `${h}\r\n`;
    out.push(
      Buffer.from(`${head}\r\n`),
      Buffer.isBuffer(p.body) ? p.body : Buffer.from(p.body),
      Buffer.from("\r\n"),
    );
  }
  if (end) out.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(out);
}

/** Headers and body of an upload of `file` over `t`, with the agent's token. */
export function uploadRequest(
  file: Buffer,
  t: Transport,
  token: string,
  gzipAt = 7,
): { headers: Record<string, string>; body: Buffer } {
  const auth = { authorization: `Bearer ${token}` };
  switch (t.kind) {
    case "raw":
      return { headers: { ...auth, "content-type": t.contentType }, body: file };
    case "gzip":
      return {
        headers: { ...auth, "content-type": t.contentType, "content-encoding": t.encoding },
        body: gzipWith(file, t.damage, gzipAt),
      };
    case "multipart":
      return {
        headers: { ...auth, "content-type": `multipart/form-data; boundary=${BOUNDARY}` },
        body: multipartBody([
          {
            name: "file",
            filename: t.gzipFile ? "metrics.csv.gz" : "metrics.csv",
            contentType: "text/csv",
            body: t.gzipFile ? gzipSync(file) : file,
          },
        ]),
      };
  }
}

/** A query-string value, percent-encoded as a browser or curl would send it. */
export const enc = (s: string): string => {
  try {
    return encodeURIComponent(s);
  } catch {
    // A lone surrogate cannot be encoded as UTF-8: send its replacement, as browsers do.
    return encodeURIComponent(s.replace(/[\ud800-\udfff]/g, "\ufffd"));
  }
};

/** Hostile query-string values, also as raw (not re-encoded) fragments: bad escapes, arrays, huge. */
export const queryValue: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: hostileString(60).map(enc) },
  { weight: 2, arbitrary: hostileTimestamp.map(enc) },
  { weight: 2, arbitrary: hostileNumberText.map(enc) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      "%",
      "%2",
      "%ZZ",
      "%C3",
      "%C3%28",
      "%ED%A0%80",
      "%FF",
      "%00",
      "%0D%0A",
      "a%",
      "+",
      "%2B",
    ),
  },
  { weight: 1, arbitrary: fc.integer({ min: 3_000, max: 40_000 }).map((n) => "x".repeat(n)) },
);
