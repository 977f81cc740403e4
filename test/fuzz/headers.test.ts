/**
 * Fuzz: headers and request lines over real loopback HTTP (issue 24, point
 * 5). Raw bytes on a socket, so what node's HTTP parser lets through reaches
 * the app exactly as a hostile client sent it: huge values, control
 * characters and NUL, obs-text and invalid UTF-8, duplicated and conflicting
 * fields, thousands of headers, in every field the central reads (tokens,
 * content type and encoding, cookies, Origin, Sec-Fetch-Site, forwarding
 * headers, Expect, Transfer-Encoding) and in the request target. Every
 * request gets an HTTP answer: a 4xx or a clean 2xx/3xx.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newToken, SESSION_COOKIE, SESSION_IDLE_MS, sha256 } from "../../src/central/dashboard/sessions.js";
import { SEED_HEADER } from "../../src/central/ingest/seed/parse-seed.js";
import { ADMIN, seed } from "../central/dashboard/harness.js";
import { HOSTILE_CHARS, INVALID_UTF8 } from "./arbitraries.js";
import { type FuzzCentral, startFuzzCentral } from "./central.js";
import { BOUNDARY, multipartBody, serializeModel, validCsvModel } from "./csv-files.js";
import { budgetOf, FUZZ_BUDGET, FuzzRun, fuzzParams } from "./harness.js";
import { rawRequest, viaSocket } from "./transport.js";

const RUNS = FUZZ_BUDGET["headers.test.ts"];

type Header = [string | Buffer, string | Buffer];
interface Target {
  name: string;
  method: string;
  path: string;
  headers: Header[];
  body: Buffer;
}

/** Header values as bytes: huge, control characters, NUL, obs-text, invalid UTF-8, encodings. */
const hostileValue: fc.Arbitrary<Buffer> = fc.oneof(
  fc.constantFrom(...HOSTILE_CHARS).map((ch) => Buffer.from(`a${ch}b`)),
  fc.uint8Array({ minLength: 1, maxLength: 80 }).map((b) => Buffer.from(b)),
  fc.uint8Array({ minLength: 1, maxLength: 40 }).map((b) => Buffer.from(Array.from(b, (x) => 0x80 | x))),
  fc
    .constantFrom(...INVALID_UTF8)
    .map((b) => Buffer.concat([Buffer.from("x"), Buffer.from(b), Buffer.from("y")])),
  fc.constantFrom(0, 1, 8, 11, 12, 27, 127).map((c) => Buffer.from([0x61, c, 0x62])),
  fc.constantFrom(
    Buffer.from(""),
    Buffer.from(" "),
    Buffer.from("\t"),
    Buffer.from("a\rb"),
    Buffer.from("=?UTF-8?B?w6k=?="),
    Buffer.from("%C3%A9%00"),
    Buffer.from("\u00e9", "latin1"),
    Buffer.from("\u00e9", "utf8"),
    Buffer.from("\ufeffvalue"),
    Buffer.from("value\u0000"),
  ),
  // Long values: most under node's 16 KiB header limit (reaching the app), some over it (431).
  fc.integer({ min: 1_000, max: 12_000 }).map((n) => Buffer.alloc(n, 0x41)),
  fc.integer({ min: 100, max: 3_000 }).map((n) => Buffer.from("a,".repeat(n))),
  fc.constant(Buffer.alloc(20_000, 0x41)),
);

/** Fields the central or node reads, with plausible and hostile values of their own. */
const KNOWN_FIELDS: Record<string, string[]> = {
  authorization: ["Bearer", "Bearer srvu_x_y", "Basic Og==", `Bearer ${"x".repeat(200)}`],
  "content-type": [
    "text/csv",
    "multipart/form-data",
    "multipart/form-data; boundary=",
    "application/json",
    "text/csv; charset=utf-16",
    "*/*",
  ],
  "content-encoding": ["gzip", "br", "gzip, gzip", "identity", "x-gzip"],
  "content-length": ["0", "-1", "1e3", "99999999999999999999", "5, 5", " 5"],
  "transfer-encoding": ["chunked", "gzip, chunked", "identity", "chunked, chunked", "xchunked"],
  cookie: [
    `${SESSION_COOKIE}=x`,
    "srvutil_login=",
    "a=b; a=c",
    "%ff=%fe",
    `${SESSION_COOKIE}=${"a".repeat(43)}`,
  ],
  origin: ["null", "https://evil.example", "http://127.0.0.1", "file://", "http://127.0.0.1:1"],
  "sec-fetch-site": ["cross-site", "same-site", "same-origin", "none", "CROSS-SITE"],
  "x-forwarded-for": ["10.0.0.1", "127.0.0.1, 10.0.0.1", "::1", "garbage", "1.2.3.4, 5.6.7.8, 9.10.11.12"],
  forwarded: ["for=10.0.0.1", 'for="[::1]"', "for=unknown;proto=https", "garbage"],
  "x-forwarded-proto": ["https", "http", "gopher", "https, http"],
  "x-forwarded-host": ["evil.example", "127.0.0.1:1"],
  host: ["evil.example", "127.0.0.1:99999", "[::1]", ""],
  expect: ["100-continue", "200-ok", "100-continue, 100-continue"],
  upgrade: ["websocket", "h2c"],
  connection: ["keep-alive", "upgrade", "close, upgrade"],
  accept: ["*/*", "text/html;q=abc", "application/json"],
  "accept-encoding": ["gzip, br", "*", "identity;q=0"],
  range: ["bytes=0-0", "bytes=-1", "bytes=1-0"],
  "if-none-match": ["*", '"x"'],
  "user-agent": ["python-requests/2.31", ""],
  referer: ["https://evil.example/", "javascript:alert(1)"],
  te: ["trailers", "gzip"],
};

const headerName: fc.Arbitrary<string | Buffer> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...Object.keys(KNOWN_FIELDS)) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      "X-Custom",
      "X-Very-Long-" + "n".repeat(2_000),
      "Bad Header",
      "Bad:Header",
      "Bad\u0000",
      "Ünicode",
      "",
      "Content-Length ",
      " Authorization",
    ),
  },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 20 }).map((b) => Buffer.from(b)) },
);

/** A field the central reads, with one of its own odd values or a hostile one; added beside or instead of the original. */
const fieldMutation = fc
  .tuple(headerName, fc.boolean(), fc.boolean())
  .chain(([name, replace, own]) =>
    (own && typeof name === "string" && KNOWN_FIELDS[name] !== undefined
      ? fc.constantFrom(...KNOWN_FIELDS[name]!).map((v) => Buffer.from(v))
      : hostileValue
    ).map((value) => ({ kind: "field" as const, name, value, replace })),
  );

const mutation = fc.oneof(
  { weight: 6, arbitrary: fieldMutation },
  // Many headers (node keeps the first 2,000; above about 1,000 of these the 16 KiB limit answers 431).
  { weight: 1, arbitrary: fc.integer({ min: 50, max: 1_500 }).map((n) => ({ kind: "many" as const, n })) },
);

describe("fuzz: headers and request lines over loopback HTTP", () => {
  let c: FuzzCentral;
  let run: FuzzRun;
  let targets: Target[];
  beforeAll(async () => {
    c = await startFuzzCentral({ kind: "sqlite" });
    await seed(c.store);
    const id = newToken();
    const csrf = newToken();
    await c.store.users.createSession({
      idHash: sha256(id),
      user: ADMIN.name,
      csrfToken: csrf,
      createdAt: Date.now(),
      expiresAt: Date.now() + SESSION_IDLE_MS,
    });
    const session = `${SESSION_COOKIE}=${id}`;
    // One file each, sent again and again: after the first, uploads are replays and cost nothing to store.
    const csv = Buffer.from(
      serializeModel(validCsvModel(4), { lineEnd: "\n", bom: false, quoteAll: false, trailingNewline: true }),
    );
    const seedLine = `${new Date(Date.now() - 3 * 86_400_000).toISOString().slice(0, 19).replace("T", " ")},web-01,3.1,7.91,3.03,4.88,38.3,"[{""mountpoint"": ""/"", ""total_gb"": 10, ""used_gb"": 1, ""free_gb"": 9}]"`;
    const seedForm = multipartBody([
      { name: "server_name", body: "web-01" },
      { name: "file", filename: "web-01.csv", body: `${SEED_HEADER}\n${seedLine}\n` },
    ]);
    const login = newToken();
    targets = [
      { name: "health", method: "GET", path: "/healthz", headers: [], body: Buffer.alloc(0) },
      { name: "fleet", method: "GET", path: "/", headers: [["Cookie", session]], body: Buffer.alloc(0) },
      {
        name: "login page",
        method: "GET",
        path: "/login?next=%2Freports",
        headers: [],
        body: Buffer.alloc(0),
      },
      {
        name: "server page",
        method: "GET",
        path: "/servers/web-01?range=24h",
        headers: [["Cookie", session]],
        body: Buffer.alloc(0),
      },
      {
        name: "read API",
        method: "GET",
        path: "/api/v1/servers",
        headers: [["Authorization", `Bearer ${c.viewerToken}`]],
        body: Buffer.alloc(0),
      },
      {
        name: "upload",
        method: "POST",
        path: "/api/v1/metrics",
        headers: [
          ["Authorization", `Bearer ${c.agentToken}`],
          ["Content-Type", "text/csv"],
        ],
        body: csv,
      },
      {
        name: "seed bridge",
        method: "POST",
        path: "/upload_metrics",
        headers: [["Content-Type", `multipart/form-data; boundary=${BOUNDARY}`]],
        body: seedForm,
      },
      {
        name: "admin form",
        method: "POST",
        path: "/admin/tokens",
        headers: [
          ["Cookie", session],
          ["Content-Type", "application/x-www-form-urlencoded"],
        ],
        body: Buffer.from(`_csrf=${csrf}&role=viewer&name=`),
      },
      {
        name: "sign-in",
        method: "POST",
        path: "/login",
        headers: [
          ["Cookie", `srvutil_login=${login}`],
          ["Content-Type", "application/x-www-form-urlencoded"],
        ],
        body: Buffer.from(`_csrf=${login}&username=nobody&password=x`),
      },
    ];
    // Each target as it is: answered, and not a 5xx (the base the mutations start from).
    for (const t of targets) {
      const a = await viaSocket(c.port, rawRequest(t.method, t.path, t.headers, t.body));
      expect(a.status, t.name).toBeLessThan(500);
    }
    run = new FuzzRun(c, "headers");
  });
  afterAll(async () => {
    await c?.close();
  });

  it(`hostile headers on every kind of request (${RUNS.headers})`, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat(),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        async (pick, mutations) => {
          const t = targets[pick % targets.length]!;
          let headers: Header[] = [...t.headers];
          for (const m of mutations) {
            if (m.kind === "many") {
              for (let i = 0; i < m.n; i++) headers.push([`X-Fuzz-${i}`, "v"]);
              continue;
            }
            const name = m.name.toString("latin1").toLowerCase();
            if (m.replace) headers = headers.filter(([n]) => n.toString("latin1").toLowerCase() !== name);
            headers.push([m.name, m.value]);
          }
          const raw = rawRequest(t.method, t.path, headers, t.body);
          await run.exchange(
            {
              method: t.method,
              url: t.path,
              headers: Object.fromEntries(
                headers.map(([n, v]) => [n.toString("latin1"), v.toString("latin1")]),
              ),
              body: t.body,
            },
            () => viaSocket(c.port, raw),
          );
        },
      ),
      fuzzParams("headers/fields", RUNS.headers),
    );
  }, 180_000);

  it(`hostile request targets and request lines (${RUNS.targets})`, async () => {
    const target = fc.oneof(
      fc.constantFrom(
        "/",
        "*",
        "http://evil.example/",
        "//evil.example/",
        "/%00",
        "/..%2f..%2fetc%2fpasswd",
        "/servers/..%2F..%2F",
        "/servers/%ZZ",
        "/reports/2026-W10/%2e%2e%2fpackage.json",
        "/assets/..%5c..%5cpackage.json",
        "/api/v1/servers/web-01/samples?from=%ZZ&to=%",
        `/?${"a=1&".repeat(3_000)}`,
        `/${"a".repeat(20_000)}`,
        "/login?next=%0d%0aSet-Cookie:x=y",
      ),
      fc
        .uint8Array({ minLength: 1, maxLength: 60 })
        .map((b) => Buffer.concat([Buffer.from("/"), Buffer.from(b)])),
      fc.constantFrom(...HOSTILE_CHARS).map((ch) => Buffer.from(`/servers/${ch}?range=${ch}`)),
    );
    const method = fc.constantFrom(
      "GET",
      "GET",
      "POST",
      "HEAD",
      "OPTIONS",
      "DELETE",
      "PATCH",
      "TRACE",
      "PROPFIND",
      "get",
      "G\u0000T",
      "",
    );
    await fc.assert(
      fc.asyncProperty(method, target, async (m, t) => {
        const raw = rawRequest(m, t, []);
        await run.exchange(
          { method: m || "(empty)", url: Buffer.isBuffer(t) ? t.toString("latin1") : t },
          () => viaSocket(c.port, raw),
        );
      }),
      fuzzParams("headers/targets", RUNS.targets),
    );
  }, 180_000);

  it("still serves, sent its budget, kept memory bounded, left no unhandled rejection", async () => {
    await run.finish(budgetOf("headers.test.ts"));
  });
});
