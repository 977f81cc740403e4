/**
 * What the fuzz suite found, and its size:
 *
 * 1. Found outside the other parts of issue 24, fixed, each held here by a
 *    direct test that fails without its fix (the fuzz properties find them
 *    again too):
 *
 * - a multipart body that ends before its closing boundary gave a 500
 *   (busboy's "Unexpected end of multipart data" reached the error handler
 *   as an internal error) on POST /api/v1/metrics and POST /upload_metrics;
 * - one that ends inside the file part was never answered: the parser had
 *   already destroyed the file stream, and the body reader waited for an
 *   'end' that never came (the request hung until the client gave up);
 * - `limit=1e400` or `limit=Infinity` on the samples route passed the
 *   schema's coercion as Infinity, lifting the 100,000-row cap of a page;
 * - on PostgreSQL, a NUL character in a name that reached a query made
 *   PostgreSQL refuse the query: 500 on token revocation, user removal, an
 *   archived report's file (`?group=`), the seed bridge's server_name and
 *   the sign-in form's user name (the throttle's key and the user lookup).
 *   Names that no token, user or group can have are no longer looked up,
 *   and a sign-in user name with a control character is a 400 before any
 *   query;
 * - redactSecrets, which every automation.log line goes through, took
 *   quadratic time in a long run of letters: a refused seed-bridge upload
 *   with a 70 KB server_name held the event loop for 19 s.
 *
 * 2. KNOWN_FINDINGS (known-findings.ts): found in the parts other branches
 *    fix. Each entry's probe must still show it; once a probe stops
 *    reproducing, its fix has landed and the entry is deleted.
 *
 * 3. The budget: the fuzz files' inputs add up to at least 10,000.
 */
import { readdirSync } from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { redactSecrets } from "../../src/central/automation-log.js";
import { newToken } from "../../src/central/dashboard/sessions.js";
import { ADMIN, REPORT_WEEK, seed } from "../central/dashboard/harness.js";
import { findTestPostgres } from "../helpers/postgres.js";
import { enc } from "./arbitraries.js";
import { type FuzzCentral, startFuzzCentral } from "./central.js";
import { BOUNDARY, multipartBody, serializeModel, validCsvModel } from "./csv-files.js";
import { newSession } from "./dashboard-cases.js";
import { budgetOf, checkExchange, FUZZ_BUDGET, fuzzParams } from "./harness.js";
import { KNOWN_FINDINGS } from "./known-findings.js";
import { bridgeForm } from "./seed-cases.js";
import { rawRequest, viaSocket } from "./transport.js";

const PG = await findTestPostgres();

/** One central per backend for the whole file (the dashboard's data seeded), as few starts as possible. */
const centrals: { sqlite?: FuzzCentral; postgres?: FuzzCentral } = {};
beforeAll(async () => {
  centrals.sqlite = await startFuzzCentral({ kind: "sqlite" });
  await seed(centrals.sqlite.store);
  if (PG.skipReason === undefined) {
    centrals.postgres = await startFuzzCentral({ kind: "postgres", url: PG.url });
    await seed(centrals.postgres.store);
  }
});
afterAll(async () => {
  await centrals.sqlite?.close();
  await centrals.postgres?.close();
});

describe("fuzz findings, fixed", () => {
  let c: FuzzCentral;
  beforeAll(() => {
    c = centrals.sqlite!;
  });

  const csv = () =>
    Buffer.from(
      serializeModel(validCsvModel(6), { lineEnd: "\n", bom: false, quoteAll: false, trailingNewline: true }),
    );
  const routes = () => [
    { url: "/api/v1/metrics", headers: { authorization: `Bearer ${c.agentToken}` }, fields: [] },
    { url: "/upload_metrics", headers: {}, fields: [{ name: "server_name", body: "web-01" }] },
  ];

  it("a multipart body cut off before any part or boundary end is a 400, not a 500", async () => {
    for (const route of routes()) {
      for (const body of ["-", `--${BOUNDARY}`, `--${BOUNDARY}\r\n`, `--${BOUNDARY}\r\nContent-Disp`]) {
        const before = await c.stored();
        const res = await c.app.inject({
          method: "POST",
          url: route.url,
          headers: { ...route.headers, "content-type": `multipart/form-data; boundary=${BOUNDARY}` },
          payload: body,
        });
        expect(res.statusCode, `${route.url} ${JSON.stringify(body)}`).toBe(400);
        expect(res.body).toContain("malformed multipart/form-data body");
        expect(await c.stored()).toEqual(before);
      }
    }
  });

  it("a multipart body that ends inside the file is answered 400 at once, and stores nothing", async () => {
    for (const route of routes()) {
      const whole = multipartBody([...route.fields, { name: "file", filename: "m.csv", body: csv() }]);
      // Up to the middle of the file's content: no closing boundary follows.
      const cut = whole.subarray(0, whole.lastIndexOf(`--${BOUNDARY}--`) - 40);
      const headers = { ...route.headers, "content-type": `multipart/form-data; boundary=${BOUNDARY}` };
      const before = await c.stored();
      // In one piece (inject): the parser tears the file stream down before the route reads it.
      const res = await Promise.race([
        c.app.inject({ method: "POST", url: route.url, headers, payload: cut }),
        new Promise<null>((resolve) => setTimeout(() => resolve(null), 3_000)),
      ]);
      expect(res, `${route.url}: no answer within 3 s`).not.toBeNull();
      expect(res!.statusCode, route.url).toBe(400);
      expect(res!.body).toMatch(/could not read (request body|uploaded file)/);
      // Over HTTP the same body is answered the same way.
      const started = performance.now();
      const answer = await viaSocket(
        c.port,
        rawRequest("POST", route.url, Object.entries(headers), cut),
        5_000,
      );
      expect(answer.status, route.url).toBe(400);
      expect(performance.now() - started).toBeLessThan(3_000);
      expect(await c.stored()).toEqual(before);
    }
  });

  it("the samples route refuses a limit that is not a whole number up to 100,000, Infinity included", async () => {
    const range = `from=${enc("2000-01-01T00:00:00Z")}&to=${enc("2100-01-01T00:00:00Z")}`;
    await c.app.inject({
      method: "POST",
      url: "/api/v1/metrics",
      headers: { authorization: `Bearer ${c.agentToken}`, "content-type": "text/csv" },
      payload: csv(),
    });
    for (const limit of ["1e400", "Infinity", "1e309", "100001"]) {
      const res = await c.app.inject({
        url: `/api/v1/servers/web-01/samples?${range}&limit=${limit}`,
        headers: { authorization: `Bearer ${c.viewerToken}` },
      });
      expect(res.statusCode, `limit=${limit}`).toBe(400);
      expect(res.json().reason).toBe("bad_request");
    }
    const ok = await c.app.inject({
      url: `/api/v1/servers/web-01/samples?${range}&limit=100000`,
      headers: { authorization: `Bearer ${c.viewerToken}` },
    });
    expect(ok.statusCode).toBe(200);
    expect(ok.json().samples.length).toBeGreaterThan(0);
  });
});

describe.each([
  ["sqlite", undefined],
  ["postgres", PG.skipReason],
] as const)("names no token, user or group can have are not looked up (%s)", (kind, skipReason) => {
  let c: FuzzCentral | undefined;
  beforeAll(() => {
    c = centrals[kind];
  });
  beforeEach((ctx) => {
    if (skipReason !== undefined) ctx.skip(skipReason);
  });

  const FORM = "application/x-www-form-urlencoded";
  const NAMES = ["a\u0000b", "\u0000", "web-01\u0000", "x".repeat(300)];

  it("revoking tokens and removing users of such a name: 200, nothing changed", async () => {
    for (const name of NAMES) {
      for (const [url, extra] of [
        ["/admin/tokens/revoke", { role: "agent" }],
        ["/admin/tokens/revoke", { role: "viewer" }],
        ["/admin/users/remove", {}],
      ] as const) {
        const s = await newSession(c!, ADMIN.name);
        const before = await c!.stored();
        const res = await c!.app.inject({
          method: "POST",
          url,
          headers: { cookie: s.cookie, "content-type": FORM },
          payload: new URLSearchParams({ _csrf: s.csrf, name, ...extra }).toString(),
        });
        expect(res.statusCode, `${url} ${JSON.stringify(name.slice(0, 20))}`).toBe(200);
        expect(res.body).toMatch(/Revoked 0 (agent|viewer) token|No user /);
        expect(await c!.stored()).toEqual(before);
      }
    }
  });

  it("signing in with a control character in the user name: 400 before any query, never signed in", async () => {
    // "alice" is a real user and the password is hers: the name with a control character is still refused.
    const names = [
      "a\u0000b",
      "\u0000",
      `${ADMIN.name}\u0000`,
      `\u0000${ADMIN.name}`,
      `${ADMIN.name}\u0001`,
      "al\u007fice",
    ];
    for (const username of names) {
      const before = await c!.stored();
      const login = newToken();
      const res = await c!.app.inject({
        method: "POST",
        url: "/login",
        headers: { "content-type": FORM, cookie: `srvutil_login=${login}` },
        payload: new URLSearchParams({
          _csrf: login,
          username,
          password: ADMIN.password,
          next: "/",
        }).toString(),
      });
      expect(res.statusCode, JSON.stringify(username)).toBe(400);
      expect(res.body).toContain("A user name has no control characters.");
      expect(res.cookies.map((k) => k.name)).not.toContain("srvutil_session");
      expect(await c!.stored()).toEqual(before);
    }
    // The same form with the plain name signs in: the 400s came from the name alone.
    const login = newToken();
    const ok = await c!.app.inject({
      method: "POST",
      url: "/login",
      headers: { "content-type": FORM, cookie: `srvutil_login=${login}` },
      payload: new URLSearchParams({
        _csrf: login,
        username: ADMIN.name,
        password: ADMIN.password,
        next: "/",
      }).toString(),
    });
    expect(ok.statusCode).toBe(303);
    expect(ok.cookies.map((k) => k.name)).toContain("srvutil_session");
  });

  it("an archived report's file for such a group: 404", async () => {
    const s = await newSession(c!, ADMIN.name);
    for (const group of NAMES) {
      const res = await c!.app.inject({
        url: `/reports/${REPORT_WEEK}/report.json?group=${encodeURIComponent(group)}`,
        headers: { cookie: s.cookie },
      });
      expect(res.statusCode, JSON.stringify(group.slice(0, 20))).toBe(404);
    }
    const ok = await c!.app.inject({
      url: `/reports/${REPORT_WEEK}/report.json`,
      headers: { cookie: s.cookie },
    });
    expect(ok.statusCode).toBe(200);
  });

  it("the seed bridge with such a server_name: 403 not enrolled, nothing stored", async () => {
    for (const name of NAMES) {
      const before = await c!.stored();
      const x = bridgeForm([
        { name: "server_name", body: name },
        { name: "file", filename: "m.csv", body: "anything" },
      ]);
      const res = await c!.app.inject({
        method: "POST",
        url: x.url,
        headers: x.headers as Record<string, string>,
        payload: x.body,
      });
      expect(res.statusCode, JSON.stringify(name.slice(0, 20))).toBe(403);
      expect(res.body).toContain("is not enrolled");
      expect(await c!.stored()).toEqual(before);
    }
  });
});

describe("redactSecrets in linear time", () => {
  /** The expression before the fix: the same matches, tried at every position. */
  const QUADRATIC = /([A-Za-z][A-Za-z0-9+.-]*:\/\/(?:[^:/@\s"\\]|\\.)*:)(?:[^@\s/"\\]|\\.)+@/g;

  it("redacts exactly what the former expression redacted (5,000 generated strings)", () => {
    const piece = fc.constantFrom(
      "a",
      "Z",
      "9",
      "+",
      ".",
      "-",
      ":",
      "/",
      "@",
      " ",
      '"',
      "\\",
      "smtp://",
      "u:p@",
      "h",
      "://",
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 40 }), (parts) => {
        const text = parts.join("");
        expect(redactSecrets(text)).toBe(text.replace(QUADRATIC, "$1***@"));
      }),
      fuzzParams("regressions/redact-secrets", 5_000),
    );
    expect(redactSecrets("x 9smtp://user:pw@host")).toBe("x 9smtp://user:***@host");
  });

  // Sizes the former expression needed seconds for (so that without the fix the test fails rather than hangs).
  it("takes milliseconds, not seconds, for long runs of letters", () => {
    for (const text of [
      "w".repeat(30_000),
      "w9".repeat(15_000),
      `smtp://${"u".repeat(15_000)}:${"p".repeat(15_000)}`,
    ]) {
      const started = performance.now();
      redactSecrets(text);
      expect(performance.now() - started, text.slice(0, 10)).toBeLessThan(250);
    }
  });

  it("a seed-bridge upload with a 60 KB server_name is refused at once", async () => {
    const x = bridgeForm([
      { name: "server_name", body: "w".repeat(60_000) },
      { name: "file", filename: "m.csv", body: "anything" },
    ]);
    const started = performance.now();
    const res = await centrals.sqlite!.app.inject({
      method: "POST",
      url: x.url,
      headers: x.headers as Record<string, string>,
      payload: x.body,
    });
    expect(res.statusCode).toBe(403);
    expect(performance.now() - started).toBeLessThan(2_000);
  }, 30_000);
});

describe("KNOWN_FINDINGS still reproduce (delete an entry once its fix lands)", () => {
  // One test over the whole list, so that the check stays in place while the list is empty.
  it(`every entry's probe still shows it (${KNOWN_FINDINGS.length} open)`, async (ctx) => {
    for (const finding of KNOWN_FINDINGS) {
      if (finding.probe.backend === "postgres" && PG.skipReason !== undefined) ctx.skip(PG.skipReason);
      const c = centrals[finding.probe.backend]!;
      const request = finding.probe.request(c);
      const { answer, violations } = await checkExchange(c, request);
      expect(
        violations.length > 0 && finding.matches(request, answer, violations),
        `KNOWN_FINDINGS "${finding.id}" (issue 24, point ${finding.issuePoint}) no longer reproduces (answer ${answer?.status}, violations ${JSON.stringify(violations)}): ` +
          `the fix of point ${finding.issuePoint} has landed; delete the entry from test/fuzz/known-findings.ts`,
      ).toBe(true);
    }
    expect(new Set(KNOWN_FINDINGS.map((f) => f.id)).size).toBe(KNOWN_FINDINGS.length);
  });
});

describe("fuzz budget", () => {
  it("adds up to at least 10,000 generated inputs", () => {
    const files = Object.keys(FUZZ_BUDGET) as (keyof typeof FUZZ_BUDGET)[];
    const total = files.reduce((sum, f) => sum + budgetOf(f), 0);
    console.info(
      `[fuzz] budget: ${total} inputs in ${files.length} files (${files.map((f) => `${f} ${budgetOf(f)}`).join(", ")})`,
    );
    expect(total).toBeGreaterThanOrEqual(10_000);
  });

  it("names exactly the fuzz files there are", () => {
    const here = readdirSync(path.dirname(new URL(import.meta.url).pathname))
      .filter((f) => f.endsWith(".test.ts") && f !== path.basename(new URL(import.meta.url).pathname))
      .sort();
    expect(here).toEqual(Object.keys(FUZZ_BUDGET).sort());
  });
});
