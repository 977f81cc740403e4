/**
 * Generators of hostile input shared by the fuzz files: characters and
 * bytes that break parsers (control characters, NUL, invalid UTF-8, BOMs,
 * bidi overrides, lone surrogates), numbers (huge, NaN/Infinity, signs,
 * exponents, other digit systems), timestamps (negative, far past, far
 * future, impossible dates, odd offsets) and query-string values.
 */
import fc from "fast-check";

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
