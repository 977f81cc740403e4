/**
 * The properties of POST /api/v1/metrics, shared by the SQLite run
 * (upload.test.ts) and the smaller PostgreSQL run (upload-postgres.test.ts).
 */
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { expect } from "vitest";
import { hostileString, invalidUtf8 } from "./arbitraries.js";
import {
  BOUNDARY,
  CSV_COLUMNS,
  csvShape,
  hostileCsv,
  multipartBody,
  serializeModel,
  type Transport,
  transport,
  uploadRequest,
  validCsvModel,
} from "./csv-files.js";
import { type Exchange, type FuzzRun, fuzzParams } from "./harness.js";

const UPLOAD = "/api/v1/metrics";

const bombs = new Map<number, Buffer>();
/** gzip of `cap + over` commas (about 1/1000 of that on the wire), made once per size. */
function gzipBomb(cap: number, over: number): Buffer {
  const size = cap + over;
  let bomb = bombs.get(size);
  if (bomb === undefined) {
    bomb = gzipSync(Buffer.alloc(size, 0x2c), { level: 9 });
    bombs.set(size, bomb);
  }
  return bomb;
}

/** What every answer of the upload route must look like, accepted or refused. */
export function expectCleanUploadAnswer(run: FuzzRun, x: Exchange): void {
  const { answer, before, after } = x;
  if (answer.status === 0) return; // a known finding, already recorded by the run
  const json = JSON.parse(answer.body.toString("utf8")) as Record<string, unknown>;
  if (answer.status === 201) {
    expect(json).toEqual({
      upload_id: expect.any(String),
      rows: expect.any(Number),
      duplicates: expect.any(Number),
    });
    const rows = json.rows as number;
    const duplicates = json.duplicates as number;
    expect(rows).toBeGreaterThan(0);
    expect(after.samples! - before.samples!, "rows stored = rows - duplicates").toBe(rows - duplicates);
    const newUploads = after.uploads! - before.uploads!;
    expect([0, 1]).toContain(newUploads);
    // The raw copy goes with the upload record, in received_metrics/ or in the database.
    const newRaw =
      run.c.kind === "sqlite"
        ? after.received_metrics_files! - before.received_metrics_files!
        : after.raw_uploads! - before.raw_uploads!;
    expect(newRaw, "one raw copy per stored upload").toBe(newUploads);
  } else {
    expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(typeof json.error).toBe("string");
    expect(typeof json.reason).toBe("string");
  }
}

/** Property 1: CSV v1 files built from valid ones with hostile fields and structure, over every transport. */
export async function csvMutations(run: FuzzRun, numRuns: number, label: string): Promise<void> {
  await fc.assert(
    fc.asyncProperty(hostileCsv, transport, fc.nat(), async (file, t, at) => {
      const { headers, body } = uploadRequest(file, t, run.c.agentToken, at);
      const x = await run.exchange({ method: "POST", url: UPLOAD, headers, body });
      expectCleanUploadAnswer(run, x);
      // A damaged gzip stream is never taken for a file.
      if (t.kind === "gzip" && (t.damage === "truncate" || t.damage === "flip")) {
        expect(x.answer.status, "damaged gzip").toBeGreaterThanOrEqual(400);
      }
    }),
    fuzzParams(label, numRuns),
  );
}

/** Property 2: bytes and text that are not a CSV v1 file at all, or a header followed by junk. */
export async function arbitraryBodies(run: FuzzRun, numRuns: number, label: string): Promise<void> {
  const header = Buffer.from(`${CSV_COLUMNS.join(",")}\n`);
  const body = fc.oneof(
    fc.uint8Array({ maxLength: 600 }).map((b) => Buffer.from(b)),
    hostileString(400).map((s) => Buffer.from(s)),
    fc.uint8Array({ maxLength: 600 }).map((b) => Buffer.concat([header, Buffer.from(b)])),
    fc
      .array(
        fc.oneof(
          hostileString(8),
          invalidUtf8.map((b) => b.toString("latin1")),
        ),
        { maxLength: 120 },
      )
      .map((parts) => Buffer.concat([header, Buffer.from(parts.join(","), "latin1")])),
    fc.constantFrom(
      Buffer.alloc(0),
      Buffer.from("\ufeff"),
      Buffer.from("\n\n\n"),
      header,
      Buffer.from(`${CSV_COLUMNS.join(",")}\r\n\r\n`),
      Buffer.from([0x1f, 0x8b]),
      Buffer.from([0x1f, 0x8b, 0x08, 0x00]),
    ),
  );
  await fc.assert(
    fc.asyncProperty(body, transport, fc.nat(), async (file, t, at) => {
      const { headers, body: payload } = uploadRequest(file, t, run.c.agentToken, at);
      const x = await run.exchange({ method: "POST", url: UPLOAD, headers, body: payload });
      expectCleanUploadAnswer(run, x);
      expect(x.answer.status, "junk is never stored").toBeGreaterThanOrEqual(400);
    }),
    fuzzParams(label, numRuns),
  );
}

/**
 * Property 3: the envelope around a (valid or hostile) file: content types,
 * charsets, encodings, corrupt gzip, broken multipart, tokens, methods, URLs.
 */
export async function envelopes(run: FuzzRun, numRuns: number, label: string): Promise<void> {
  const c = run.c;
  const contentType = fc.oneof(
    // "auto": the type that fits the payload (multipart for multipart bodies), so the body's own defects are reached.
    { weight: 3, arbitrary: fc.constant("auto") },
    fc.constantFrom(
      undefined,
      "",
      "text/csv",
      "TEXT/CSV",
      "text/csv; charset=utf-8",
      "text/csv; charset=UTF-16",
      "text/csv; charset=latin1",
      'text/csv; charset="utf-8"',
      "text/csv; charset=",
      "text/csv;;;",
      "text/csv, application/json",
      "text/plain",
      "application/json",
      "application/x-www-form-urlencoded",
      "application/octet-stream",
      "multipart/form-data",
      "multipart/form-data; boundary=",
      `multipart/form-data; boundary=${BOUNDARY}`,
      `multipart/form-data; boundary=${"b".repeat(300)}`,
      "multipart/mixed; boundary=x",
      "*/*",
      "text/*",
      "csv",
    ),
    hostileString(60),
  );
  const encoding = fc.constantFrom(
    undefined,
    "",
    "identity",
    "gzip",
    "x-gzip",
    "gzip, gzip",
    "identity, gzip",
    "deflate",
    "br",
    "compress",
    "zstd",
    "gzip\u0000",
    "*",
  );
  const auth = fc.oneof(
    { weight: 6, arbitrary: fc.constant("agent") },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        "none",
        "other-agent",
        "viewer",
        "revoked-shape",
        "basic",
        "lowercase-bearer",
        "two-tokens",
      ),
    },
    { weight: 1, arbitrary: hostileString(80).map((s) => `raw:${s}`) },
  );
  const payload = fc.oneof(
    fc.constant("valid"),
    fc.constant("valid-gzip"),
    fc.constant("hostile-gzip"),
    fc.constant("gzip-of-invalid-utf8"),
    fc.constant("corrupt-gzip"),
    fc.constant("gzip-bomb"),
    fc.constant("empty-gzip"),
    fc.constant("multipart-valid"),
    fc.constant("multipart-no-file"),
    fc.constant("multipart-two-files"),
    fc.constant("multipart-wrong-field"),
    fc.constant("multipart-truncated"),
    fc.constant("multipart-junk"),
    fc.constant("multipart-many-fields"),
    fc.constant("empty"),
  );
  const method = fc.constantFrom(
    "POST",
    "POST",
    "POST",
    "POST",
    "PUT",
    "PATCH",
    "DELETE",
    "GET",
    "HEAD",
    "OPTIONS",
  );
  const url = fc.constantFrom(
    UPLOAD,
    UPLOAD,
    UPLOAD,
    `${UPLOAD}/`,
    `${UPLOAD}?x=1`,
    `${UPLOAD}?${"a=1&".repeat(500)}`,
    "/API/V1/METRICS",
    `/api/v1/./metrics`,
    `/api/v1/metrics%00`,
    "/api/v1/metrics/..",
    "/api/v2/metrics",
  );
  await fc.assert(
    fc.asyncProperty(
      fc.record({ contentType, encoding, auth, payload, method, url }),
      hostileCsv,
      fc.nat(),
      async (e, hostile, at) => {
        const valid = Buffer.from(
          serializeModel(validCsvModel(4), {
            lineEnd: "\n",
            bom: false,
            quoteAll: false,
            trailingNewline: true,
          }),
        );
        let body: Buffer;
        switch (e.payload) {
          case "valid":
            body = valid;
            break;
          case "valid-gzip":
            body = gzipSync(valid);
            break;
          case "hostile-gzip":
            body = gzipSync(hostile);
            break;
          case "gzip-of-invalid-utf8":
            body = gzipSync(Buffer.concat([valid, Buffer.from([0xff, 0xfe, 0xc3])]));
            break;
          case "corrupt-gzip":
            body = Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08, 0x00]), hostile.subarray(0, 64)]);
            break;
          case "gzip-bomb":
            // Past the cap once inflated (by one byte, or fourfold); the reader must stop at the cap.
            body = gzipBomb(c.config.maxBodyBytes, at % 2 === 0 ? 1 : 3 * c.config.maxBodyBytes);
            break;
          case "empty-gzip":
            body = gzipSync(Buffer.alloc(0));
            break;
          case "multipart-valid":
            body = multipartBody([{ name: "file", filename: "m.csv", body: valid }]);
            break;
          case "multipart-no-file":
            body = multipartBody([{ name: "server", body: "web-01" }]);
            break;
          case "multipart-two-files":
            body = multipartBody([
              { name: "file", filename: "a.csv", body: valid },
              { name: "file", filename: "b.csv", body: hostile },
            ]);
            break;
          case "multipart-wrong-field":
            body = multipartBody([{ name: "upload", filename: "m.csv", body: valid }]);
            break;
          case "multipart-truncated":
            body = multipartBody(
              [{ name: "file", filename: "m.csv", body: valid }],
              BOUNDARY,
              false,
            ).subarray(0, 40 + (at % 200));
            break;
          case "multipart-junk":
            body = Buffer.concat([Buffer.from("preamble\r\n"), hostile, Buffer.from(`\r\n--${BOUNDARY}--`)]);
            break;
          case "multipart-many-fields":
            body = multipartBody([
              ...Array.from({ length: 30 }, (_, i) => ({ name: `f${i}`, body: "x" })),
              { name: "file", filename: "m.csv", body: valid },
            ]);
            break;
          default:
            body = Buffer.alloc(0);
        }
        const headers: Record<string, string> = {};
        if (e.contentType === "auto") {
          headers["content-type"] = e.payload.startsWith("multipart")
            ? `multipart/form-data; boundary=${BOUNDARY}`
            : "text/csv";
        } else if (e.contentType !== undefined) headers["content-type"] = e.contentType;
        if (e.encoding !== undefined) headers["content-encoding"] = e.encoding;
        switch (e.auth) {
          case "agent":
            headers.authorization = `Bearer ${c.agentToken}`;
            break;
          case "none":
            break;
          case "other-agent":
            headers.authorization = `Bearer ${c.otherAgentToken}`;
            break;
          case "viewer":
            headers.authorization = `Bearer ${c.viewerToken}`;
            break;
          case "revoked-shape":
            headers.authorization = `Bearer srvu_000000000000_${"0".repeat(64)}`;
            break;
          case "basic":
            headers.authorization = `Basic ${Buffer.from(`web-01:${c.agentToken}`).toString("base64")}`;
            break;
          case "lowercase-bearer":
            headers.authorization = `bearer ${c.agentToken}`;
            break;
          case "two-tokens":
            headers.authorization = `Bearer ${c.agentToken} Bearer ${c.agentToken}`;
            break;
          default:
            headers.authorization = e.auth.slice(4);
        }
        const send = e.method === "GET" || e.method === "HEAD" ? undefined : body;
        const x = await run.exchange({
          method: e.method,
          url: e.url,
          headers,
          ...(send === undefined ? {} : { body: send }),
        });
        if (x.answer.status !== 0 && e.method !== "HEAD" && e.method !== "OPTIONS")
          expectCleanUploadAnswer(run, x);
        // Only the agent's own token on the upload route can store anything.
        const canStore = e.auth === "agent" || e.auth === "lowercase-bearer";
        if (!canStore || e.method !== "POST")
          expect(x.answer.status, "no valid token or method").not.toBe(201);
      },
    ),
    fuzzParams(label, numRuns),
  );
}

/**
 * Property 4: size: long lines, many lines, many and long columns, a huge
 * header. Each is refused or stored within the caps, in bounded time.
 */
export async function sizes(run: FuzzRun, numRuns: number, label: string): Promise<void> {
  const shape = fc.oneof(
    fc.record({
      kind: fc.constant("long-field" as const),
      n: fc.integer({ min: 2_000, max: 1_000_000 }),
      col: fc.nat(11),
    }),
    fc.record({
      kind: fc.constant("many-lines" as const),
      n: fc.integer({ min: 1_000, max: 10_000 }),
      col: fc.nat(11),
    }),
    fc.record({
      kind: fc.constant("many-columns" as const),
      n: fc.integer({ min: 1_000, max: 100_000 }),
      col: fc.nat(11),
    }),
    fc.record({
      kind: fc.constant("long-header-name" as const),
      n: fc.integer({ min: 10_000, max: 1_000_000 }),
      col: fc.nat(11),
    }),
    fc.record({
      kind: fc.constant("many-mounts" as const),
      n: fc.integer({ min: 100, max: 3_000 }),
      col: fc.nat(11),
    }),
    // A header without a required column, made of many names or of commas only: the refusal names what it found.
    fc.record({
      kind: fc.constant("many-columns-missing" as const),
      n: fc.integer({ min: 1_000, max: 100_000 }),
      col: fc.nat(11),
    }),
    fc.record({
      kind: fc.constant("comma-header" as const),
      n: fc.integer({ min: 1_000, max: 1_000_000 }),
      col: fc.nat(11),
    }),
  );
  await fc.assert(
    fc.asyncProperty(shape, transport, csvShape, async (s, t, lineShape) => {
      const model = validCsvModel(s.kind === "many-lines" ? s.n : 4);
      if (s.kind === "long-field") model.rows[0]![s.col] = "9".repeat(s.n);
      if (s.kind === "many-columns" || s.kind === "many-columns-missing") {
        for (let i = 0; i < s.n; i++) model.header.push(`x${i}`);
        for (const row of model.rows) for (let i = 0; i < s.n; i++) row.push("");
      }
      if (s.kind === "many-columns-missing") model.header[1 + (s.col % 10)] = "not_a_column";
      if (s.kind === "long-header-name") model.header.push("h".repeat(s.n));
      if (s.kind === "long-header-name") for (const row of model.rows) row.push("");
      if (s.kind === "many-mounts") {
        const first = model.rows[0]!;
        model.rows = Array.from({ length: s.n }, (_, i) => {
          const r = [...first];
          r[8] = `/mnt/fuzz${i}`;
          return r;
        });
      }
      const file =
        s.kind === "comma-header"
          ? Buffer.from(`${",".repeat(s.n)}\n`)
          : Buffer.from(serializeModel(model, lineShape));
      const started = performance.now();

      const { headers, body } = uploadRequest(file, t as Transport, run.c.agentToken);
      const x = await run.exchange({ method: "POST", url: UPLOAD, headers, body });
      expectCleanUploadAnswer(run, x);
      expect(performance.now() - started, `${s.kind} ${s.n}: answered in bounded time`).toBeLessThan(15_000);
    }),
    fuzzParams(label, numRuns),
  );
}
