import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { Writable } from "node:stream";
import { gzipSync } from "node:zlib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createAgentToken, createViewerToken } from "../../../src/central/auth/tokens.js";
import { createIngestService } from "../../../src/central/central-process.js";
import { createApiApp } from "../../../src/central/http/app.js";
import { recentShift } from "../../helpers/clock.js";
import { countRows, csvFor, makeTestCentral, type TestCentral } from "./fixtures.js";

const HEADER =
  "timestamp,server,cpu_percent,mem_total_bytes,mem_used_bytes,mem_available_bytes,disk_mount,disk_total_bytes,disk_used_bytes,disk_free_bytes";
// The data's dates are last week's (real clock): a fixed date would fall behind the ingest horizon one day.
const at = recentShift("2026-11-23");
const DAY = at("2026-11-23");
const GOOD_LINE = `${DAY}T10:00:00Z,web-01,12.5,1000,400,600,/,5000,1000,4000`;

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name));
}

describe("POST /api/v1/metrics", () => {
  let c: TestCentral;
  let token: string;

  beforeEach(async () => {
    c = await makeTestCentral();
    token = await createAgentToken(c.store, "web-01");
  });
  afterEach(async () => {
    await c.cleanup();
  });

  const post = (body: string | Buffer, headers: Record<string, string> = {}) =>
    c.app.inject({
      method: "POST",
      url: "/api/v1/metrics",
      headers: { authorization: `Bearer ${token}`, "content-type": "text/csv", ...headers },
      payload: body,
    });

  it("stores a text/csv upload: 201, raw file byte-identical, rows and upload record committed", async () => {
    const csv = csvFor("web-01", at("2026-11-23T10:00:00Z"), 10);
    const res = await post(csv);
    expect(res.statusCode).toBe(201);
    const body = res.json();
    expect(body).toEqual({ upload_id: expect.any(String), rows: 20, duplicates: 0 });

    const files = filesUnder(c.config.paths.receivedMetrics);
    expect(files).toHaveLength(1);
    const today = new Date().toISOString().slice(0, 10);
    expect(path.relative(c.dir, files[0]!)).toBe(
      path.join("received_metrics", "web-01", today, `${body.upload_id}.csv`),
    );
    expect(readFileSync(files[0]!, "utf8")).toBe(csv);

    expect(countRows(c.store, "samples")).toBe(20);
    const upload = c.store.db.prepare("SELECT * FROM uploads").get() as Record<string, unknown>;
    expect(upload).toMatchObject({
      upload_id: body.upload_id,
      server: "web-01",
      rows: 20,
      inserted: 20,
      ts_min: Date.parse(at("2026-11-23T10:00:00Z")),
      ts_max: Date.parse(at("2026-11-23T10:45:00Z")),
      raw_path: `received_metrics/web-01/${today}/${body.upload_id}.csv`,
    });
  });

  it("is idempotent: a replayed file answers 201 with the first upload id; overlapping files count duplicates", async () => {
    const first = await post(csvFor("web-01", at("2026-11-23T10:00:00Z"), 10));
    expect(first.statusCode).toBe(201);
    const replay = await post(csvFor("web-01", at("2026-11-23T10:00:00Z"), 10));
    expect(replay.statusCode).toBe(201);
    expect(replay.json()).toEqual({ upload_id: first.json().upload_id, rows: 20, duplicates: 20 });
    expect(filesUnder(c.config.paths.receivedMetrics)).toHaveLength(1);

    // Starts 5 samples later: 5 timestamps × 2 mounts overlap.
    const overlap = await post(csvFor("web-01", at("2026-11-23T10:25:00Z"), 10));
    expect(overlap.statusCode).toBe(201);
    expect(overlap.json()).toMatchObject({ rows: 20, duplicates: 10 });
    expect(countRows(c.store, "samples")).toBe(30);
    expect(c.store.db.prepare("SELECT SUM(inserted) FROM uploads").pluck().get()).toBe(30);
  });

  it("accepts gzip (Content-Encoding), application/octet-stream and multipart field 'file' (also gzipped)", async () => {
    const gz = await post(gzipSync(csvFor("web-01", at("2026-11-20T00:00:00Z"), 3)), {
      "content-encoding": "gzip",
    });
    expect(gz.statusCode).toBe(201);
    const octet = await post(csvFor("web-01", at("2026-11-21T00:00:00Z"), 3), {
      "content-type": "application/octet-stream",
    });
    expect(octet.statusCode).toBe(201);

    const boundary = "----srvutilboundary";
    const multipartBody = (field: string, content: Buffer) =>
      Buffer.concat([
        Buffer.from(
          `--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="x.csv"\r\nContent-Type: text/csv\r\n\r\n`,
        ),
        content,
        Buffer.from(`\r\n--${boundary}--\r\n`),
      ]);
    const mp = await post(
      multipartBody("file", Buffer.from(csvFor("web-01", at("2026-11-22T00:00:00Z"), 3))),
      {
        "content-type": `multipart/form-data; boundary=${boundary}`,
      },
    );
    expect(mp.statusCode).toBe(201);
    const mpGz = await post(
      multipartBody("file", gzipSync(csvFor("web-01", at("2026-11-19T00:00:00Z"), 3))),
      {
        "content-type": `multipart/form-data; boundary=${boundary}`,
      },
    );
    expect(mpGz.statusCode).toBe(201);
    const wrongField = await post(
      multipartBody("upload", Buffer.from(csvFor("web-01", at("2026-11-18T00:00:00Z"), 3))),
      {
        "content-type": `multipart/form-data; boundary=${boundary}`,
      },
    );
    expect(wrongField.statusCode).toBe(400);
    expect(wrongField.json().error).toContain("field 'file'");
    expect(countRows(c.store, "samples")).toBe(4 * 6);
    // Raw files are stored decompressed, so gzip and plain replays are recognised alike.
    for (const f of filesUnder(c.config.paths.receivedMetrics)) {
      expect(readFileSync(f, "utf8").startsWith("timestamp,")).toBe(true);
    }
  });

  const badFiles: [string, string, number | null, string | null][] = [
    ["empty file", "", 1, null],
    ["header only", `${HEADER}\n`, 2, null],
    [
      "missing column",
      `${HEADER.replace(",cpu_percent", "")}\n${GOOD_LINE.replace(",12.5", "")}\n`,
      1,
      "cpu_percent",
    ],
    ["bad number", `${HEADER}\n${GOOD_LINE.replace("12.5", "abc")}\n`, 2, "cpu_percent"],
    ["NaN", `${HEADER}\n${GOOD_LINE.replace("12.5", "NaN")}\n`, 2, "cpu_percent"],
    [
      "Infinity bytes",
      `${HEADER}\n${GOOD_LINE.replace(",1000,400", ",Infinity,400")}\n`,
      2,
      "mem_total_bytes",
    ],
    ["exponent", `${HEADER}\n${GOOD_LINE.replace(",1000,400", ",1e3,400")}\n`, 2, "mem_total_bytes"],
    [
      "negative bytes",
      `${HEADER}\n${GOOD_LINE.replace(",5000,1000", ",-5000,1000")}\n`,
      2,
      "disk_total_bytes",
    ],
    [
      "used > total",
      `${HEADER}\n${GOOD_LINE.replace(",5000,1000,4000", ",5000,6000,4000")}\n`,
      2,
      "disk_used_bytes",
    ],
    ["bad server name", `${HEADER}\n${GOOD_LINE.replace("web-01", "../etc")}\n`, 2, "server"],
    ["device server name", `${HEADER}\n${GOOD_LINE.replace("web-01", "CON")}\n`, 2, "server"],
    [
      "bad timestamp",
      `${HEADER}\n${GOOD_LINE.replace(`${DAY}T10:00:00Z`, `${DAY} 10:00`)}\n`,
      2,
      "timestamp",
    ],
    ["before 2000", `${HEADER}\n${GOOD_LINE.replace(DAY, "1999-12-31")}\n`, 2, "timestamp"],
    ["far future", `${HEADER}\n${GOOD_LINE.replace(DAY, "2099-01-01")}\n`, 2, "timestamp"],
    [
      "third row bad",
      `${HEADER}\n${GOOD_LINE}\n${GOOD_LINE.replace(",/,", ",/a,")}\n${GOOD_LINE.replace(",/,", ",/b,").replace("600", "x")}\n`,
      4,
      "mem_available_bytes",
    ],
  ];

  it.each(badFiles)(
    "refuses %s with 400, line and column, and stores nothing",
    async (_name, csv, line, column) => {
      const res = await post(csv);
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ line, column, error: expect.any(String) });
      expect(countRows(c.store, "samples")).toBe(0);
      expect(countRows(c.store, "uploads")).toBe(0);
      expect(filesUnder(c.config.paths.receivedMetrics)).toEqual([]);
    },
  );

  it("refuses invalid UTF-8 with 400 naming the line", async () => {
    const bytes = Buffer.concat([
      Buffer.from(`${HEADER}\n${GOOD_LINE.replace(",/,", ",/")}`),
      Buffer.from([0xff]),
      Buffer.from(",5000,1000,4000\n"),
    ]);
    const res = await post(bytes);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ line: 2, reason: "encoding" });
  });

  it("answers 401 for missing, malformed, unknown, wrong-secret, revoked and viewer tokens", async () => {
    const csv = csvFor("web-01", at("2026-11-23T10:00:00Z"), 1);
    const viewer = await createViewerToken(c.store, "ops");
    const wrongSecret = token.slice(0, -4) + (token.endsWith("0000") ? "1111" : "0000");
    const unknownId = `srvu_000000000000_${token.split("_")[2]}`;
    for (const authorization of [
      undefined,
      "Basic abc",
      `Bearer ${token}x`,
      `Bearer ${unknownId}`,
      `Bearer ${wrongSecret}`,
      `Bearer ${viewer}`,
    ]) {
      const res = await c.app.inject({
        method: "POST",
        url: "/api/v1/metrics",
        headers: { "content-type": "text/csv", ...(authorization ? { authorization } : {}) },
        payload: csv,
      });
      expect(res.statusCode, authorization).toBe(401);
      expect(res.headers["www-authenticate"]).toContain("Bearer");
    }
    await c.store.tokens.revokeAll("agent", "web-01", Date.now());
    expect((await post(csv)).statusCode).toBe(401);
    expect(countRows(c.store, "samples")).toBe(0);
  });

  it("takes a revocation on the very next upload although active tokens are cached, storing nothing of it", async () => {
    const lookups = { n: 0 };
    const find = c.store.tokens.find.bind(c.store.tokens);
    c.store.tokens.find = (role, id) => {
      lookups.n++;
      return find(role, id);
    };
    for (let i = 0; i < 3; i++) {
      expect((await post(csvFor("web-01", at(`2026-11-23T1${i}:00:00Z`), 1))).statusCode).toBe(201);
    }
    // The cache answered the second and third upload: only the first asked the store.
    expect(lookups.n).toBe(1);
    const before = {
      samples: countRows(c.store, "samples"),
      files: filesUnder(c.config.paths.receivedMetrics),
    };
    // Revoked behind the app's back (as the CLI or another instance does): no cache is told.
    await c.store.tokens.revokeAll("agent", "web-01", Date.now());
    const refused = await post(csvFor("web-01", at("2026-11-23T15:00:00Z"), 1));
    expect(refused.statusCode).toBe(401);
    expect(refused.headers["www-authenticate"]).toContain("Bearer");
    expect(refused.json()).toMatchObject({ error: expect.stringContaining("valid agent token") });
    // A replay of a file stored before the revocation is refused too.
    expect((await post(csvFor("web-01", at("2026-11-23T10:00:00Z"), 1))).statusCode).toBe(401);
    expect(countRows(c.store, "samples")).toBe(before.samples);
    expect(filesUnder(c.config.paths.receivedMetrics)).toEqual(before.files);
    // The refusal dropped the token from the cache: the next attempt asks the store again.
    const n = lookups.n;
    expect((await post(csvFor("web-01", at("2026-11-23T16:00:00Z"), 1))).statusCode).toBe(401);
    expect(lookups.n).toBe(n + 1);
  });

  it("answers 403 when a row names another server than the token's, storing nothing", async () => {
    const csv = `${HEADER}\n${GOOD_LINE}\n${GOOD_LINE.replace("web-01", "db-01")}\n`;
    const res = await post(csv);
    expect(res.statusCode).toBe(403);
    expect(res.json().error).toContain("db-01");
    expect(countRows(c.store, "samples")).toBe(0);
    expect(filesUnder(c.config.paths.receivedMetrics)).toEqual([]);
  });

  it("answers 415 for other content types, charsets and encodings", async () => {
    const csv = csvFor("web-01", at("2026-11-23T10:00:00Z"), 1);
    expect((await post(csv, { "content-type": "application/json" })).statusCode).toBe(415);
    expect((await post(csv, { "content-type": "text/csv; charset=latin1" })).statusCode).toBe(415);
    expect((await post(csv, { "content-encoding": "br" })).statusCode).toBe(415);
    expect((await post(csv, { "content-type": "text/csv; charset=utf-8" })).statusCode).toBe(201);
  });
});

describe("limits", () => {
  let c: TestCentral;
  let token: string;
  afterEach(async () => {
    await c.cleanup();
  });

  it("answers 413 above the body limit, and for a gzip bomb, storing nothing", async () => {
    c = await makeTestCentral({ maxBodyBytes: 64 * 1024 });
    token = await createAgentToken(c.store, "web-01");
    const big = csvFor("web-01", at("2026-11-01T00:00:00Z"), 400); // ~100 KiB
    const headers = { authorization: `Bearer ${token}`, "content-type": "text/csv" };
    const plain = await c.app.inject({ method: "POST", url: "/api/v1/metrics", headers, payload: big });
    expect(plain.statusCode).toBe(413);
    // 64 MiB of line ends compress to ~64 KiB; the cap stops decompression at 64 KiB. (Line
    // ends, so that the first line is short: zeros are refused sooner, as a header too long.)
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024, "\n"), { level: 9 });
    expect(bomb.length).toBeLessThan(64 * 1024);
    const res = await c.app.inject({
      method: "POST",
      url: "/api/v1/metrics",
      headers: { ...headers, "content-encoding": "gzip" },
      payload: bomb,
    });
    expect(res.statusCode).toBe(413);
    expect(res.json().error).toContain("SRVUTIL_MAX_BODY_BYTES");
    const zeros = await c.app.inject({
      method: "POST",
      url: "/api/v1/metrics",
      headers: { ...headers, "content-encoding": "gzip" },
      payload: gzipSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 }),
    });
    expect(zeros.statusCode).toBe(400);
    expect(zeros.json()).toMatchObject({ reason: "header_too_long", code: "SRVUTIL_E_HEADER_TOO_LONG" });
    const ok = await c.app.inject({
      method: "POST",
      url: "/api/v1/metrics",
      headers: { ...headers, "content-encoding": "gzip" },
      payload: gzipSync(csvFor("web-01", at("2026-11-01T00:00:00Z"), 10)),
    });
    expect(ok.statusCode).toBe(201);
    expect(countRows(c.store, "uploads")).toBe(1);
  });

  it("answers 429 with Retry-After once a token's burst is spent; other tokens are unaffected", async () => {
    // The limiter's clock stands still unless the test moves it: a slow machine cannot refill the bucket.
    let now = 1_764_000_000_000;
    c = await makeTestCentral({ rateLimit: { perSecond: 0.5, burst: 2, now: () => now } });
    token = await createAgentToken(c.store, "web-01");
    const other = await createAgentToken(c.store, "web-02");
    const send = (t: string, server: string, i: number) =>
      c.app.inject({
        method: "POST",
        url: "/api/v1/metrics",
        headers: { authorization: `Bearer ${t}`, "content-type": "text/csv" },
        payload: csvFor(server, at(`2026-11-2${i}T00:00:00Z`), 1),
      });
    expect((await send(token, "web-01", 1)).statusCode).toBe(201);
    expect((await send(token, "web-01", 2)).statusCode).toBe(201);
    const limited = await send(token, "web-01", 3);
    expect(limited.statusCode).toBe(429);
    expect(limited.headers["retry-after"]).toBe("2"); // one token at 0.5/s
    expect((await send(other, "web-02", 3)).statusCode).toBe(201);
    now += 1_999;
    expect((await send(token, "web-01", 4)).statusCode).toBe(429);
    now += 1;
    expect((await send(token, "web-01", 4)).statusCode).toBe(201);
  });
});

describe("operations and read API", () => {
  let c: TestCentral;
  let agent: string;
  let viewer: string;
  beforeEach(async () => {
    c = await makeTestCentral();
    agent = await createAgentToken(c.store, "web-01");
    viewer = await createViewerToken(c.store, "dashboard");
    const res = await c.app.inject({
      method: "POST",
      url: "/api/v1/metrics",
      headers: { authorization: `Bearer ${agent}`, "content-type": "text/csv" },
      payload: csvFor("web-01", at("2026-11-23T10:00:00Z"), 6),
    });
    expect(res.statusCode).toBe(201);
    await c.app.inject({
      method: "POST",
      url: "/api/v1/metrics",
      headers: { authorization: `Bearer ${agent}`, "content-type": "text/csv" },
      payload: "nonsense\n",
    });
  });
  afterEach(async () => {
    await c.cleanup();
  });

  it("serves /healthz, /readyz, Prometheus /metrics and the OpenAPI document", async () => {
    expect((await c.app.inject("/healthz")).json()).toEqual({ status: "ok" });
    expect((await c.app.inject("/readyz")).statusCode).toBe(200);
    const metrics = await c.app.inject("/metrics");
    expect(metrics.headers["content-type"]).toContain("text/plain");
    expect(metrics.body).toMatch(/srvutil_uploads_total\{result="accepted"\} 1/);
    expect(metrics.body).toMatch(/srvutil_rows_total\{kind="inserted"\} 12/);
    expect(metrics.body).toMatch(/srvutil_rejections_total\{reason="header"\} 1/);
    expect(metrics.body).toMatch(/srvutil_upload_duration_seconds_count\{status="201"\} 1/);
    const doc = (await c.app.inject("/api/v1/openapi.json")).json();
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        "/api/v1/metrics",
        "/api/v1/servers",
        "/api/v1/servers/{name}/samples",
        "/healthz",
      ]),
    );
    expect(Object.keys(doc.paths["/api/v1/metrics"].post.responses)).toEqual(
      expect.arrayContaining(["201", "400", "401", "403", "413", "415", "429"]),
    );
    expect(doc.paths["/api/v1/metrics"].post.requestBody.content["text/csv"]).toBeDefined();
  });

  it("answers /readyz 503 when the database is gone", async () => {
    await c.store.close();
    expect((await c.app.inject("/readyz")).statusCode).toBe(503);
  });

  it("lists servers and pages samples for a viewer token, refuses agent tokens", async () => {
    const auth = { authorization: `Bearer ${viewer}` };
    expect(
      (await c.app.inject({ url: "/api/v1/servers", headers: { authorization: `Bearer ${agent}` } }))
        .statusCode,
    ).toBe(401);
    expect((await c.app.inject({ url: "/api/v1/servers" })).statusCode).toBe(401);
    const servers = await c.app.inject({ url: "/api/v1/servers", headers: auth });
    expect(servers.json()).toEqual({
      servers: [
        {
          name: "web-01",
          first_seen: at("2026-11-23T10:00:00Z"),
          last_seen: at("2026-11-23T10:25:00Z"),
          rows: 12,
          // Uploaded by inject, whose User-Agent is not an agent's: the agent input, release unknown.
          input: "agent",
          agent: expect.objectContaining({ version: null, os: null, outdated: false }),
          tags: {},
        },
      ],
    });
    const page = await c.app.inject({
      url: at("/api/v1/servers/web-01/samples?from=2026-11-23T10:05:00Z&to=2026-11-23T10:25:00Z&limit=5"),
      headers: auth,
    });
    expect(page.statusCode).toBe(200);
    const body = page.json();
    // 5 rows would split 10:10 (two mounts): the page stops after 10:05's pair.
    expect(
      body.samples.map((s: { timestamp: string; disk_mount: string }) => `${s.timestamp} ${s.disk_mount}`),
    ).toEqual([
      at("2026-11-23T10:05:00Z /"),
      at("2026-11-23T10:05:00Z /data"),
      at("2026-11-23T10:10:00Z /"),
      at("2026-11-23T10:10:00Z /data"),
    ]);
    expect(body.next_from).toBe(at("2026-11-23T10:15:00Z"));
    const rest = await c.app.inject({
      url: `/api/v1/servers/web-01/samples?from=${body.next_from}&to=${at("2026-11-23T10:25:00Z")}`,
      headers: auth,
    });
    expect(rest.json().samples).toHaveLength(4);
    expect(rest.json().next_from).toBeNull();
    expect(
      (
        await c.app.inject({
          url: at("/api/v1/servers/db-09/samples?from=2026-11-23T10:05:00Z&to=2026-11-24T00:00:00Z"),
          headers: auth,
        })
      ).statusCode,
    ).toBe(404);
    expect(
      (
        await c.app.inject({
          url: at("/api/v1/servers/web-01/samples?from=yesterday&to=2026-11-24T00:00:00Z"),
          headers: auth,
        })
      ).statusCode,
    ).toBe(400);
  });
});

describe("secrets in logs", () => {
  it("never writes a token to the fastify log, even at trace level and on errors", async () => {
    const c = await makeTestCentral();
    let logged = "";
    const sink = new Writable({
      write(chunk, _enc, cb) {
        logged += chunk.toString();
        cb();
      },
    });
    const app = await createApiApp({
      store: c.store,
      ingest: createIngestService(c.config, c.store, null),
      maxBodyBytes: c.config.maxBodyBytes,
      rateLimit: { perSecond: 0, burst: 1 },
      logger: { level: "trace", stream: sink },
    });
    try {
      const token = await createAgentToken(c.store, "web-01");
      for (const payload of [csvFor("web-01", at("2026-11-23T10:00:00Z"), 1), "bad\n"]) {
        await app.inject({
          method: "POST",
          url: "/api/v1/metrics",
          headers: { authorization: `Bearer ${token}`, "content-type": "text/csv" },
          payload,
        });
      }
      await c.store.close(); // the next upload fails with a 500, which is logged with the request
      const failed = await app.inject({
        method: "POST",
        url: "/api/v1/metrics",
        headers: { authorization: `Bearer ${token}`, "content-type": "text/csv" },
        payload: csvFor("web-01", at("2026-11-24T10:00:00Z"), 1),
      });
      expect(failed.statusCode).toBe(500);
      expect(logged).toContain("request failed");
      expect(logged).not.toContain(token.split("_")[2]!);
    } finally {
      await app.close();
      await c.cleanup().catch(() => {});
    }
  });
});
