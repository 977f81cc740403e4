/**
 * CSV v1 files built from valid ones and damaged (hostile fields, columns
 * duplicated, missing, unknown or reordered, line ends, BOMs, bytes), and how
 * they travel: raw, gzip (valid or corrupt), multipart.
 */
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { CANONICAL_COLUMNS, csvField } from "../../src/protocol/index.js";
import { hostileNumberText, hostileString, hostileTimestamp, invalidUtf8 } from "./arbitraries.js";

const DAY = 86_400_000;

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
