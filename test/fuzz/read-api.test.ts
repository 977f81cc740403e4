/**
 * Fuzz: the read API and the other JSON routes (issue 24, point 5): query
 * strings and path parameters of GET /api/v1/servers/{name}/samples, bodies
 * (hostile JSON and others) and methods on every API route, and hostile
 * Authorization headers on the routes that take tokens. A 4xx or a clean
 * 2xx; a 200 of the samples route keeps to its contract (its server, at most
 * `limit` rows); nothing is stored.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { enc, hostileNumberText, hostileString, hostileTimestamp, queryValue } from "./arbitraries.js";
import { type FuzzCentral, startFuzzCentral } from "./central.js";
import { serializeModel, validCsvModel } from "./csv-files.js";
import { budgetOf, FUZZ_BUDGET, FuzzRun, fuzzParams } from "./harness.js";

const RUNS = FUZZ_BUDGET["read-api.test.ts"];

describe("fuzz: read API, JSON routes and tokens", () => {
  let c: FuzzCentral;
  let run: FuzzRun;
  /** First and last timestamp of what web-01 holds. */
  let span: { from: string; to: string };
  beforeAll(async () => {
    c = await startFuzzCentral({ kind: "sqlite" });
    // Data to read: three files of web-01, so 200s with rows and pages happen.
    for (let i = 0; i < 3; i++) {
      const csv = serializeModel(validCsvModel(40), {
        lineEnd: "\n",
        bom: false,
        quoteAll: false,
        trailingNewline: true,
      });
      const res = await c.app.inject({
        method: "POST",
        url: "/api/v1/metrics",
        headers: { authorization: `Bearer ${c.agentToken}`, "content-type": "text/csv" },
        payload: csv,
      });
      expect(res.statusCode).toBe(201);
    }
    const listed = await c.app.inject({
      url: "/api/v1/servers",
      headers: { authorization: `Bearer ${c.viewerToken}` },
    });
    const web01 = (listed.json().servers as { name: string; first_seen: string; last_seen: string }[]).find(
      (s) => s.name === "web-01",
    )!;
    span = { from: web01.first_seen, to: new Date(Date.parse(web01.last_seen) + 1000).toISOString() };
    run = new FuzzRun(c, "read API");
  });
  afterAll(async () => {
    await c?.close();
  });

  it(`samples: hostile names, from, to, limit and extra parameters (${RUNS.samples})`, async () => {
    const name = fc.oneof(
      { weight: 5, arbitrary: fc.constant("web-01") },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          "web-02",
          "WEB-01",
          "web-01.",
          "..",
          "%2e%2e",
          "%2F",
          "a%00b",
          "%ZZ",
          "%C3",
          "con",
        ),
      },
      { weight: 3, arbitrary: hostileString(70).map(enc) },
      { weight: 1, arbitrary: fc.integer({ min: 65, max: 5000 }).map((n) => "x".repeat(n)) },
    );
    // Mostly a valid range, so that names and limits reach the handler; each part hostile now and then.
    const timestamp = (valid: string) =>
      fc.oneof(
        { weight: 6, arbitrary: fc.constant(enc(valid)) },
        { weight: 2, arbitrary: hostileTimestamp.map(enc) },
        { weight: 1, arbitrary: queryValue },
      );
    const limit = fc.oneof(
      {
        weight: 2,
        arbitrary: fc.constantFrom("1", "2", "100000", "Infinity", "1e400", "1e5", "-0", "0x10", " 3"),
      },
      { weight: 3, arbitrary: hostileNumberText.map(enc) },
      { weight: 1, arbitrary: queryValue },
    );
    const extra = fc.tuple(
      fc.constantFrom("offset", "__proto__", "constructor", "from[]", "to[0]", "limit", "from", ""),
      fc.oneof(hostileNumberText.map(enc), queryValue),
    );
    const query = fc
      .record({
        from: fc.option(timestamp(span.from), { freq: 8 }),
        to: fc.option(timestamp(span.to), { freq: 8 }),
        limit: fc.option(limit, { freq: 3 }),
        bareLimit: fc.boolean(),
        extras: fc.array(extra, { maxLength: 3 }),
        sep: fc.constantFrom("&", "&", "&", ";", "&&"),
        reverse: fc.boolean(),
      })
      .map((q) => {
        const params: string[] = [];
        if (q.from !== null) params.push(`from=${q.from}`);
        if (q.to !== null) params.push(`to=${q.to}`);
        if (q.limit !== null) params.push(q.bareLimit && q.limit === "1" ? "limit" : `limit=${q.limit}`);
        for (const [k, v] of q.extras) params.push(`${k}=${v}`);
        if (q.reverse) params.reverse();
        return params.join(q.sep);
      });
    const auth = fc.constantFrom("viewer", "viewer", "viewer", "viewer", "agent", "none");
    await fc.assert(
      fc.asyncProperty(name, query, auth, async (n, q, a) => {
        const headers: Record<string, string> = {};
        if (a === "viewer") headers.authorization = `Bearer ${c.viewerToken}`;
        if (a === "agent") headers.authorization = `Bearer ${c.agentToken}`;
        const x = await run.exchange({ method: "GET", url: `/api/v1/servers/${n}/samples?${q}`, headers });
        if (x.answer.status === 0) return;
        const json = JSON.parse(x.answer.body.toString("utf8")) as Record<string, unknown>;
        if (a !== "viewer") expect(x.answer.status, "only a viewer token reads").not.toBe(200);
        if (x.answer.status === 200) {
          const samples = json.samples as { server: string }[];
          expect(json.server).toBe("web-01");
          expect(samples.every((s) => s.server === "web-01")).toBe(true);
          // A page holds at most `limit` rows, and `limit` at most 100,000 (default 10,000).
          const limit = new URLSearchParams(q.replaceAll(";", "&")).getAll("limit");
          const asked = limit.length === 1 ? Number(limit[0]) : 10_000;
          expect(
            Number.isSafeInteger(asked) && asked >= 1 && asked <= 100_000,
            `limit=${limit[0]} answered 200`,
          ).toBe(true);
          expect(samples.length).toBeLessThanOrEqual(asked);
          expect(json.next_from === null || typeof json.next_from === "string").toBe(true);
        }
      }),
      fuzzParams("read-api/samples", RUNS.samples),
    );
  }, 120_000);

  it(`every API route with every method and hostile bodies (${RUNS.routes})`, async () => {
    const route = fc.constantFrom(
      "/api/v1/servers",
      "/api/v1/servers/",
      "/api/v1/servers/web-01",
      `/api/v1/servers/web-01/samples?from=${enc("2026-01-01T00:00:00Z")}&to=${enc("2027-01-01T00:00:00Z")}`,
      "/api/v1/agent/whoami",
      "/api/v1/metrics",
      "/api/v1/openapi.json",
      "/healthz",
      "/readyz",
      "/metrics",
      "/upload_metrics",
      "/api",
      "/api/v1",
    );
    const method = fc.constantFrom("GET", "GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD");
    const json = fc.oneof(
      fc.constantFrom(
        "",
        "{}",
        "[]",
        "null",
        "{",
        '{"a":',
        '{"__proto__":{"admin":true}}',
        '{"constructor":{"prototype":{"x":1}}}',
        '{"a":1,"a":2}',
        "1e400",
        "\ufeff{}",
        '"\\ud800"',
        '{"from":"2026-01-01T00:00:00Z","to":"2027-01-01T00:00:00Z","limit":1e400}',
        "[".repeat(20_000) + "]".repeat(20_000),
        `{"x":"${"a".repeat(200_000)}"}`,
      ),
      fc.json(),
      fc.jsonValue().map((v) => JSON.stringify(v)),
      hostileString(200),
    );
    const contentType = fc.constantFrom(
      undefined,
      "application/json",
      "application/json; charset=utf-16",
      "application/merge-patch+json",
      "application/x-www-form-urlencoded",
      "text/plain",
      "text/csv",
      "multipart/form-data; boundary=x",
    );
    const auth = fc.constantFrom("viewer", "agent", "none");
    await fc.assert(
      fc.asyncProperty(route, method, json, contentType, auth, async (r, m, body, type, a) => {
        const headers: Record<string, string> = {};
        if (type !== undefined) headers["content-type"] = type;
        if (a === "viewer") headers.authorization = `Bearer ${c.viewerToken}`;
        if (a === "agent") headers.authorization = `Bearer ${c.agentToken}`;
        const sendsBody = m !== "GET" && m !== "HEAD";
        await run.exchange({ method: m, url: r, headers, ...(sendsBody ? { body } : {}) });
      }),
      fuzzParams("read-api/routes", RUNS.routes),
    );
  }, 120_000);

  it(`hostile Authorization headers on the routes that take tokens (${RUNS.auth})`, async () => {
    const mutated = (token: string) =>
      fc.oneof(
        fc.nat().map((i) => {
          const at = 5 + (i % (token.length - 5));
          return `${token.slice(0, at)}${token[at] === "0" ? "1" : "0"}${token.slice(at + 1)}`;
        }),
        fc.nat().map((i) => token.slice(0, i % token.length)),
        hostileString(20).map((s) => token + s),
        fc.constant(token.toUpperCase()),
        fc.constant(token.replace(/^srv[uv]/, (p) => (p === "srvu" ? "srvv" : "srvu"))),
        fc.nat().map((i) => `${token.slice(0, i % token.length)}\u0000${token.slice(i % token.length)}`),
        fc.constant(`${token.slice(0, 17)}${"é".repeat(64)}`),
      );
    const header = fc.oneof(
      fc.constantFrom("viewer", "agent").chain((who) => {
        const token = who === "viewer" ? c.viewerToken : c.agentToken;
        return mutated(token).map((t) => ({ who, value: `Bearer ${t}`, exact: t === token }));
      }),
      fc
        .constantFrom(
          "",
          "Bearer",
          "Bearer ",
          "Bearer  ",
          "bearer x",
          "Basic dXNlcjpwYXNz",
          "Digest username=x",
          "Bearer srvv_000000000000_",
          `Bearer srvv_${"0".repeat(12)}_${"0".repeat(64)}`,
          `Bearer ${"A".repeat(16_000)}`,
          "Bearer a b c",
          "Bearer \t\t",
        )
        .map((value) => ({ who: "none", value, exact: false })),
      hostileString(120).map((value) => ({ who: "none", value, exact: false })),
    );
    const target = fc.constantFrom(
      { url: "/api/v1/servers", role: "viewer" },
      {
        url: `/api/v1/servers/web-01/samples?from=${enc(span.from)}&to=${enc(span.to)}&limit=5`,
        role: "viewer",
      },
      { url: "/api/v1/agent/whoami", role: "agent" },
    );
    await fc.assert(
      fc.asyncProperty(header, target, async (h, t) => {
        const x = await run.exchange({ method: "GET", url: t.url, headers: { authorization: h.value } });
        if (!(h.exact && h.who === t.role)) {
          // 429: the failed-authentication limit per client address (SRVUTIL_AUTH_FAILURES_PER_MINUTE).
          expect([400, 401, 429], `${JSON.stringify(h.value.slice(0, 80))} must not authenticate`).toContain(
            x.answer.status,
          );
        }
      }),
      fuzzParams("read-api/auth", RUNS.auth),
    );
  }, 120_000);

  it("still serves, sent its budget, kept memory bounded, left no unhandled rejection", async () => {
    await run.finish(budgetOf("read-api.test.ts"));
  });
});
