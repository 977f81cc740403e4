/**
 * The properties of the seed bridge, POST /upload_metrics, shared by the
 * SQLite run (seed-bridge.test.ts) and the PostgreSQL pass (postgres.test.ts).
 */
import fc from "fast-check";
import { expect } from "vitest";
import { SEED_HEADER } from "../../src/central/ingest/seed/parse-seed.js";
import { lastDstChanges } from "../helpers/clock.js";
import { hostileNumberText, hostileString, invalidUtf8 } from "./arbitraries.js";
import { BOUNDARY, type MultipartPart, multipartBody } from "./csv-files.js";
import { type Exchange, type FuzzRun, fuzzParams } from "./harness.js";
import type { FuzzRequest } from "./transport.js";

export const BRIDGE = "/upload_metrics";

/** Local wall-clock text of `ms` in Europe/Berlin (the central's SRVUTIL_REPORT_TZ), as the seed agent writes it. */
function seedTime(ms: number): string {
  const parts = new Intl.DateTimeFormat("sv-SE", {
    timeZone: "Europe/Berlin",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hourCycle: "h23",
  }).format(new Date(ms));
  return parts.replace("T", " ");
}

const csvQuote = (v: string) => (/[",\r\n]/.test(v) || v !== v.trim() ? `"${v.replaceAll('"', '""')}"` : v);

let minute = 0;
/** Seed lines of web-01, 20 minutes apart, ending two days ago minus a counter (so files differ). */
function seedLines(n: number): string[][] {
  minute++;
  const end = Date.now() - 2 * 86_400_000 - (minute % 20_000) * 60_000;
  return Array.from({ length: n }, (_, i) => [
    seedTime(end - (n - i) * 20 * 60_000),
    "web-01",
    "3.1",
    "7.91",
    "3.03",
    "4.88",
    "38.3",
    JSON.stringify([
      { device: "C:\\", mountpoint: "C:\\", total_gb: 223.0, used_gb: 128.56, free_gb: 94.44 },
      { device: "/dev/sda1", mountpoint: "/data", total_gb: 100, used_gb: 10, free_gb: 90 },
    ]),
  ]);
}

const seedNumber = fc.oneof(hostileNumberText, fc.double({ noNaN: true }).map(String));

/** disk_info_json values that break the partition contract in every way JSON allows, and some it does not. */
const hostileDisks: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    "",
    "[]",
    "{}",
    "null",
    "[null]",
    "[1]",
    '[""]',
    "[[]]",
    '[{"mountpoint": "/"}]',
    '[{"mountpoint": "/", "total_gb": NaN, "used_gb": 1, "free_gb": 1}]',
    '[{"mountpoint": "/", "total_gb": 1e400, "used_gb": 1, "free_gb": 1}]',
    '[{"mountpoint": "/", "total_gb": 1e300, "used_gb": 1, "free_gb": 1}]',
    '[{"mountpoint": "/", "total_gb": -1, "used_gb": 1, "free_gb": 1}]',
    '[{"mountpoint": "/", "total_gb": 10, "used_gb": 11, "free_gb": 1}]',
    '[{"mountpoint": "/", "total_gb": "10", "used_gb": 1, "free_gb": 1}]',
    '[{"mountpoint": "/", "total_gb": 10, "used_gb": 1, "free_gb": 1}, {"mountpoint": "/", "total_gb": 10, "used_gb": 1, "free_gb": 1}]',
    '[{"mountpoint": "\\u0000", "total_gb": 10, "used_gb": 1, "free_gb": 1}]',
    '[{"mountpoint": "\\ud800", "total_gb": 10, "used_gb": 1, "free_gb": 1}]',
    '[{"__proto__": {"mountpoint": "/x"}, "mountpoint": "/", "total_gb": 10, "used_gb": 1, "free_gb": 1}]',
    '[{"mountpoint": "/", "total_gb": 10, "used_gb": 1, "free_gb": 1, "mountpoint": "/y"}]',
    "[".repeat(5000) + "]".repeat(5000),
    '{"mountpoint": "/", "total_gb": 10, "used_gb": 1, "free_gb": 1}',
  ),
  fc
    .record({
      mountpoint: fc.oneof(
        hostileString(40),
        fc.integer({ min: 1, max: 3000 }).map((n) => `/${"m".repeat(n)}`),
      ),
      total_gb: fc.oneof(fc.double(), fc.integer(), fc.constant(1e300)),
      used_gb: fc.oneof(fc.double(), fc.integer()),
      free_gb: fc.oneof(fc.double(), fc.integer()),
    })
    .map((p) => JSON.stringify([p])),
  fc
    .integer({ min: 2, max: 3000 })
    .map((n) =>
      JSON.stringify(
        Array.from({ length: n }, (_, i) => ({ mountpoint: `/m${i}`, total_gb: 10, used_gb: 1, free_gb: 9 })),
      ),
    ),
);

const BERLIN_DST = lastDstChanges("Europe/Berlin")!;
const seedTimeText: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    "",
    "2026-02-30 10:00:00",
    // Berlin's last skipped and repeated hours, recent enough for the ingest horizon to let them in.
    BERLIN_DST.skipped,
    BERLIN_DST.repeated,
    "1999-12-31 23:59:59",
    "0000-01-01 00:00:00",
    "9999-12-31 23:59:59",
    "2026-01-01T00:00:00Z",
    "2026-01-01 24:00:00",
    "2026-01-01 00:00:60",
    "2026-1-1 0:0:0",
    "1732000000",
  ),
  fc.integer({ min: -2, max: 500 }).map((days) => seedTime(Date.now() - days * 86_400_000)),
  hostileString(30),
);

type LineMutation = (lines: string[][]) => void;
const lineMutation: fc.Arbitrary<LineMutation> = fc.oneof(
  fc.tuple(fc.nat(), fc.integer({ min: 2, max: 6 }), seedNumber).map(
    ([r, col, v]): LineMutation =>
      (lines) => {
        if (lines.length > 0) lines[r % lines.length]![col] = v;
      },
  ),
  fc.tuple(fc.nat(), hostileDisks).map(
    ([r, v]): LineMutation =>
      (lines) => {
        if (lines.length > 0) lines[r % lines.length]![7] = v;
      },
  ),
  fc.tuple(fc.nat(), seedTimeText).map(
    ([r, v]): LineMutation =>
      (lines) => {
        if (lines.length > 0) lines[r % lines.length]![0] = v;
      },
  ),
  fc.tuple(fc.nat(), fc.oneof(hostileString(70), fc.constantFrom("web-02", "WEB-01", "web-01 "))).map(
    ([r, v]): LineMutation =>
      (lines) => {
        if (lines.length > 0) lines[r % lines.length]![1] = v;
      },
  ),
  fc.tuple(fc.nat(), fc.constantFrom("short", "long", "repeat", "empty")).map(
    ([r, how]): LineMutation =>
      (lines) => {
        if (lines.length === 0) return;
        const i = r % lines.length;
        if (how === "short") lines[i]!.splice(3);
        else if (how === "long") lines[i]!.push("x", "y");
        else if (how === "repeat") lines.splice(i, 0, [...lines[i]!]);
        else lines.splice(i, 0, [""]);
      },
  ),
  // Many bad lines after good ones: every one is skipped and named somewhere.
  fc.integer({ min: 10, max: 3000 }).map(
    (n): LineMutation =>
      (lines) => {
        for (let i = 0; i < n; i++) lines.push(["garbage", "web-01", "x", "1", "1", "1", "1", "[]"]);
      },
  ),
);

const seedFile: fc.Arbitrary<Buffer> = fc
  .tuple(
    fc.integer({ min: 0, max: 30 }),
    fc.array(lineMutation, { maxLength: 3 }),
    fc.constantFrom("\n", "\r\n", "\r"),
    fc.oneof(
      { weight: 6, arbitrary: fc.constant("exact") },
      { weight: 4, arbitrary: fc.constantFrom("bom", "v1", "upper", "extra-column", "none") },
    ),
    fc.oneof(
      { weight: 4, arbitrary: fc.constant(null) },
      { weight: 1, arbitrary: fc.tuple(fc.nat(), invalidUtf8) },
      { weight: 1, arbitrary: fc.tuple(fc.nat(), fc.constantFrom(Buffer.from([0]), Buffer.from('"'))) },
    ),
  )
  .map(([n, mutations, eol, header, damage]) => {
    const lines = seedLines(n);
    for (const m of mutations) m(lines);
    const head =
      header === "exact"
        ? SEED_HEADER
        : header === "bom"
          ? `\ufeff${SEED_HEADER}`
          : header === "v1"
            ? "timestamp,server,cpu_percent"
            : header === "upper"
              ? SEED_HEADER.toUpperCase()
              : header === "extra-column"
                ? `${SEED_HEADER},extra`
                : null;
    const text =
      [...(head === null ? [] : [head]), ...lines.map((l) => l.map(csvQuote).join(","))].join(eol) + eol;
    let bytes = Buffer.from(text);
    if (damage !== null) {
      const [at, bad] = damage;
      const i = at % (bytes.length + 1);
      bytes = Buffer.concat([bytes.subarray(0, i), bad, bytes.subarray(i)]);
    }
    return bytes;
  });

export function bridgeForm(
  parts: MultipartPart[],
  contentType = `multipart/form-data; boundary=${BOUNDARY}`,
): FuzzRequest {
  return {
    method: "POST",
    url: BRIDGE,
    headers: { "content-type": contentType },
    body: multipartBody(parts),
  };
}

/** Answers are the seed's short plain text; a 200 stored the raw file and at least one row. */
export function expectCleanBridgeAnswer(run: FuzzRun, x: Exchange): void {
  if (x.answer.status === 0) return; // a known finding, already recorded by the run
  expect(String(x.answer.headers["content-type"])).toMatch(/^text\/plain/);
  const text = x.answer.body.toString("utf8");
  if (x.answer.status === 200) {
    expect(text).toMatch(/^File (received and saved|already received) /);
    if (text.startsWith("File received")) {
      expect(x.after.uploads! - x.before.uploads!).toBe(1);
      const raw = run.c.kind === "sqlite" ? "received_metrics_files" : "raw_uploads";
      expect(x.after[raw]! - x.before[raw]!).toBe(1);
      expect(x.after.samples!).toBeGreaterThanOrEqual(x.before.samples!);
    } else {
      expect(x.after).toEqual(x.before);
    }
  } else {
    expect(x.answer.status).toBeGreaterThanOrEqual(400);
    expect(text.length).toBeGreaterThan(0);
  }
}

/** Seed files with hostile lines, for an enrolled, another enrolled and an unknown server. */
export async function seedLineFiles(run: FuzzRun, numRuns: number, label: string): Promise<void> {
  await fc.assert(
    fc.asyncProperty(
      seedFile,
      fc.constantFrom("web-01", "web-01", "web-01", "web-01", "web-01", "web-02", "web-99"),
      async (file, server) => {
        const x = await run.exchange(
          bridgeForm([
            { name: "server_name", body: server },
            { name: "file", filename: `${server}_metrics.csv`, contentType: "text/csv", body: file },
          ]),
        );
        expectCleanBridgeAnswer(run, x);
        // Only an enrolled server can store anything, and only its own lines. An unknown
        // server's file may be refused for its bytes (400/413, checked as it arrives) before
        // its name (403): either way it is refused and nothing is stored.
        if (server === "web-99") {
          expect([400, 403, 413]).toContain(x.answer.status);
          expect(x.after).toEqual(x.before);
        }
      },
    ),
    fuzzParams(label, numRuns),
  );
}

const formServerName = fc.oneof(
  { weight: 3, arbitrary: fc.constant("web-01") },
  { weight: 2, arbitrary: hostileString(80) },
  { weight: 1, arbitrary: fc.integer({ min: 100, max: 200_000 }).map((n) => "w".repeat(n)) },
);

/** The parts of a bridge form, each of which may be missing, repeated, renamed or hostile. */
const partList = fc.record({
  serverFirst: fc.boolean(),
  server: fc.option(formServerName, { nil: undefined }),
  secondServer: fc.option(formServerName, { nil: undefined }),
  file: fc.option(seedFile, { nil: undefined }),
  secondFile: fc.boolean(),
  filename: fc.oneof(fc.constant("m.csv"), fc.constant(""), hostileString(60), fc.constant(undefined)),
  fieldName: fc.constantFrom("file", "file", "file", "File", "files", "file[]", ""),
  extraFields: fc.integer({ min: 0, max: 25 }),
  partHeaders: fc.array(
    fc.constantFrom(
      "Content-Transfer-Encoding: base64",
      "Content-Type: application/gzip",
      "Content-Type: text/csv; charset=utf-16",
      "Content-Length: 5",
      `X-Junk: ${"j".repeat(2000)}`,
    ),
    { maxLength: 2 },
  ),
  contentType: fc.constantFrom(
    `multipart/form-data; boundary=${BOUNDARY}`,
    `multipart/form-data; boundary=${BOUNDARY}`,
    `multipart/form-data; boundary=${BOUNDARY}`,
    "multipart/form-data",
    "multipart/form-data; boundary=other",
    `multipart/mixed; boundary=${BOUNDARY}`,
    "application/x-www-form-urlencoded",
    "text/csv",
    "application/json",
    "",
  ),
  cut: fc.option(fc.nat(), { nil: undefined }),
  encoding: fc.constantFrom(undefined, undefined, "gzip", "br"),
});

/** Hostile forms: fields missing, repeated, hostile, many parts, broken multipart, wrong types. */
export async function seedForms(run: FuzzRun, numRuns: number, label: string): Promise<void> {
  await fc.assert(
    fc.asyncProperty(partList, async (p) => {
      const parts: MultipartPart[] = [];
      const serverParts: MultipartPart[] = [];
      if (p.server !== undefined) serverParts.push({ name: "server_name", body: p.server });
      if (p.secondServer !== undefined) serverParts.push({ name: "server_name", body: p.secondServer });
      const fileParts: MultipartPart[] = [];
      if (p.file !== undefined) {
        fileParts.push({
          name: p.fieldName,
          ...(p.filename === undefined ? {} : { filename: p.filename }),
          body: p.file,
          extraHeaders: p.partHeaders,
        });
        if (p.secondFile) fileParts.push({ name: "file", filename: "second.csv", body: p.file });
      }
      for (let i = 0; i < p.extraFields; i++) parts.push({ name: `extra${i}`, body: "x" });
      parts.push(...(p.serverFirst ? [...serverParts, ...fileParts] : [...fileParts, ...serverParts]));
      let body = multipartBody(parts);
      if (p.cut !== undefined) body = body.subarray(0, p.cut % (body.length + 1));
      const headers: Record<string, string> = {};
      if (p.contentType !== "") headers["content-type"] = p.contentType;
      if (p.encoding !== undefined) headers["content-encoding"] = p.encoding;
      const x = await run.exchange({ method: "POST", url: BRIDGE, headers, body });
      expectCleanBridgeAnswer(run, x);
      if (p.server !== "web-01" || p.file === undefined || p.fieldName !== "file") {
        expect(x.answer.status, "no enrolled server name or no file: nothing stored").not.toBe(200);
      }
    }),
    fuzzParams(label, numRuns),
  );
}

const junk = fc.oneof(
  fc.uint8Array({ maxLength: 800 }).map((b) => Buffer.from(b)),
  hostileString(400).map((s) => Buffer.from(s)),
  fc
    .uint8Array({ maxLength: 800 })
    .map((b) => Buffer.concat([Buffer.from(`${SEED_HEADER}\n`), Buffer.from(b)])),
  fc.constantFrom(
    Buffer.alloc(0),
    Buffer.from(SEED_HEADER),
    Buffer.from(`${SEED_HEADER}\n`),
    Buffer.from("\ufeff"),
  ),
);

/** File bytes that are not a seed file at all. */
export async function seedJunk(run: FuzzRun, numRuns: number, label: string): Promise<void> {
  await fc.assert(
    fc.asyncProperty(junk, async (file) => {
      const x = await run.exchange(
        bridgeForm([
          { name: "server_name", body: "web-01" },
          { name: "file", filename: "m.csv", body: file },
        ]),
      );
      expectCleanBridgeAnswer(run, x);
    }),
    fuzzParams(label, numRuns),
  );
}
