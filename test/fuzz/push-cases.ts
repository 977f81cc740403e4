/**
 * The properties of the push inputs (POST /v1/metrics, /api/v1/telegraf,
 * /api/v1/collectd), run by otlp.test.ts: valid payloads of each format
 * (web-01, recent times) with hostile values put in at random places, keys
 * deleted, bytes damaged, truncated or random, sent plain or gzip; and
 * hostile envelopes (media types, encodings, corrupt gzip and bombs, tokens).
 * Each answer must keep the suite's property (harness.ts) and look like the
 * route's own answer.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { expect } from "vitest";
import { hostmetricsFixture, otlpJsonToProtobuf } from "../central/interop/otlp-encode.js";
import { telegrafBatch } from "../central/interop/telegraf-payload.js";
import { hostileString } from "./arbitraries.js";
import { byteDamage, gzipWith } from "./csv-files.js";
import { type Exchange, type FuzzRun, fuzzParams } from "./harness.js";

type Json = unknown;

/** Hostile JSON values: wrong types, extreme numbers, hostile strings, nesting, prototype keys. */
const hostileJson: fc.Arbitrary<Json> = fc.oneof(
  hostileString(),
  fc.constantFrom(
    null,
    true,
    0,
    -1,
    -0,
    0.5,
    1e308,
    -1e308,
    2 ** 53 + 1,
    2 ** 64,
    "18446744073709551616",
    "-9223372036854775809",
    "1e400",
    "NaN",
    "Infinity",
    "",
    [],
    {},
    [[[[[[[[[[]]]]]]]]]],
    { __proto__: { polluted: true } },
    JSON.parse('{"__proto__": {"polluted": 1}, "constructor": {"prototype": {}}}') as Json,
    "x".repeat(100_000),
  ),
  fc.double(),
  fc.integer(),
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String),
  fc.array(fc.oneof(fc.integer(), hostileString(8), fc.constant(null)), { maxLength: 5 }),
);

/** A mutation of a JSON document: set a hostile value or delete the key at the n-th place. */
type Edit = { at: number; op: "set" | "delete"; value: Json };
const edits = fc.array(
  fc.record({
    at: fc.nat(),
    op: fc.constantFrom<"set" | "delete">("set", "set", "delete"),
    value: hostileJson,
  }),
  { minLength: 1, maxLength: 4 },
);

function applyEdits(doc: Json, list: readonly Edit[]): Json {
  const root = { doc: structuredClone(doc) } as Record<string, Json>;
  for (const e of list) {
    const places: [Record<string, Json> | Json[], string | number][] = [];
    const walk = (v: Json) => {
      if (Array.isArray(v)) {
        v.forEach((item, i) => {
          places.push([v, i]);
          walk(item);
        });
      } else if (typeof v === "object" && v !== null) {
        for (const k of Object.keys(v)) {
          places.push([v as Record<string, Json>, k]);
          walk((v as Record<string, Json>)[k]);
        }
      }
    };
    walk(root.doc);
    if (places.length === 0) {
      root.doc = e.value;
      continue;
    }
    const [parent, key] = places[e.at % places.length]!;
    if (e.op === "delete" && !Array.isArray(parent)) delete (parent as Record<string, Json>)[key as string];
    else (parent as Record<string | number, Json>)[key] = e.value;
  }
  return root.doc;
}

/** How a body travels: plain, or gzip (whole or damaged). */
const travel = fc.oneof(
  { weight: 3, arbitrary: fc.constant<"plain">("plain") },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      "none",
      "none",
      "truncate",
      "flip",
      "trailing",
      "two-members",
      "crc",
    ) as fc.Arbitrary<"none" | "truncate" | "flip" | "trailing" | "two-members" | "crc">,
  },
);

function request(
  url: string,
  token: string,
  contentType: string,
  body: Buffer,
  how: "plain" | "none" | "truncate" | "flip" | "trailing" | "two-members" | "crc",
) {
  const headers: Record<string, string> = { authorization: `Bearer ${token}`, "content-type": contentType };
  if (how === "plain") return { method: "POST", url, headers, body };
  return {
    method: "POST",
    url,
    headers: { ...headers, "content-encoding": "gzip" },
    body: gzipWith(body, how),
  };
}

/** What every answer of a push route must look like: a result or an error body in its encoding. */
function expectCleanPushAnswer(x: Exchange, protobuf: boolean): void {
  const { answer } = x;
  if (answer.status === 0) return; // a known finding, already recorded by the run
  const type = String(answer.headers["content-type"] ?? "");
  if (protobuf && answer.status !== 404) {
    expect(type).toBe("application/x-protobuf");
    return;
  }
  const json = JSON.parse(answer.body.toString("utf8")) as Record<string, unknown>;
  if (answer.status >= 400) {
    expect(typeof json.error).toBe("string");
    expect(typeof json.reason).toBe("string");
  } else if (!protobuf && x.request.url === "/v1/metrics") {
    expect(Object.keys(json).every((k) => k === "partialSuccess")).toBe(true);
  } else {
    expect(json).toMatchObject({ samples: expect.any(Number), inserted: expect.any(Number) });
  }
}

const recent = (minutesAgo: number) => Date.now() - minutesAgo * 60_000;

/** OTLP/JSON and protobuf: hostile values in the hostmetrics shape of web-01. */
export async function otlpBodies(
  run: FuzzRun,
  numRuns: number,
  label: string,
  protobuf: boolean,
): Promise<void> {
  const boot = recent(60 * 24);
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 600 }),
      edits,
      byteDamage,
      travel,
      async (ago, list, damage, how) => {
        const doc = hostmetricsFixture(recent(ago), boot) as { resourceMetrics: { resource: Json }[] };
        for (const rm of doc.resourceMetrics) {
          rm.resource = { attributes: [{ key: "host.name", value: { stringValue: "web-01" } }] };
        }
        const edited = applyEdits(doc, list) as Record<string, unknown>;
        let body: Buffer;
        if (protobuf) {
          try {
            body = otlpJsonToProtobuf(edited);
          } catch {
            // A value the encoder cannot write as its field's type: send the bytes of the valid one instead.
            body = otlpJsonToProtobuf(doc);
          }
        } else body = Buffer.from(JSON.stringify(edited));
        const type = protobuf ? "application/x-protobuf" : "application/json";
        const x = await run.exchange(request("/v1/metrics", run.c.agentToken, type, damage(body), how));
        expectCleanPushAnswer(x, protobuf);
      },
    ),
    fuzzParams(label, numRuns),
  );
}

/** Random bytes as protobuf: never a 5xx, never stored. */
export const randomProtobuf = fc.uint8Array({ maxLength: 2048 }).map((b) => Buffer.from(b));

export async function telegrafBodies(run: FuzzRun, numRuns: number, label: string): Promise<void> {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 600 }),
      edits,
      byteDamage,
      travel,
      fc.constantFrom("text/plain; charset=utf-8", "application/json"),
      async (ago, list, damage, how, type) => {
        const batch = applyEdits(telegrafBatch("web-01", Math.floor(recent(ago) / 1000)), list);
        const body = damage(Buffer.from(JSON.stringify(batch)));
        const x = await run.exchange(request("/api/v1/telegraf", run.c.agentToken, type, body, how));
        expectCleanPushAnswer(x, false);
      },
    ),
    fuzzParams(label, numRuns),
  );
}

const COLLECTD_FIXTURE = path.join(import.meta.dirname, "../fixtures/interop/collectd-5.12.json");

export async function collectdBodies(run: FuzzRun, numRuns: number, label: string): Promise<void> {
  const real = JSON.parse(readFileSync(COLLECTD_FIXTURE, "utf8")) as { time: number }[];
  const first = Math.min(...real.map((v) => v.time));
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 600 }),
      edits,
      byteDamage,
      travel,
      async (ago, list, damage, how) => {
        const shift = recent(ago) / 1000 - first;
        const body = real.map((v) => ({ ...v, host: "web-01", time: v.time + shift }));
        const edited = applyEdits(body, list);
        const x = await run.exchange(
          request(
            "/api/v1/collectd",
            run.c.agentToken,
            "application/json",
            damage(Buffer.from(JSON.stringify(edited))),
            how,
          ),
        );
        expectCleanPushAnswer(x, false);
      },
    ),
    fuzzParams(label, numRuns),
  );
}

const PUSH_URLS = ["/v1/metrics", "/api/v1/telegraf", "/api/v1/collectd"] as const;

/** Hostile envelopes: media types, encodings, bombs, tokens, random bytes, methods. */
export async function pushEnvelopes(
  run: FuzzRun,
  numRuns: number,
  label: string,
  maxBodyBytes: number,
): Promise<void> {
  const bomb = gzipSync(Buffer.alloc(maxBodyBytes + 1024, 0x7b), { level: 9 });
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...PUSH_URLS),
      fc.constantFrom(
        "application/x-protobuf",
        "application/json",
        "text/plain",
        "application/json; charset=latin1",
        "application/x-protobuf;proto=io.prometheus.write.v2.Request",
        "text/csv",
        "multipart/form-data; boundary=x",
        "application/x-www-form-urlencoded",
        "",
        "*/*",
        "application/",
      ),
      fc.constantFrom("", "gzip", "x-gzip", "br", "deflate", "gzip, gzip", "identity"),
      fc.oneof(
        fc.constant("agent"),
        fc.constant("other"),
        fc.constant("viewer"),
        fc.constant("none"),
        fc.constant("basic"),
        hostileString(80),
      ),
      fc.oneof(
        randomProtobuf,
        fc.constant(bomb),
        fc.constant(Buffer.alloc(0)),
        hostileString(200).map((s) => Buffer.from(s)),
      ),
      fc.constantFrom("POST", "POST", "POST", "PUT", "GET"),
      async (url, type, encoding, who, body, method) => {
        const c = run.c;
        const tokens: Record<string, string> = {
          agent: `Bearer ${c.agentToken}`,
          other: `Bearer ${c.otherAgentToken}`,
          viewer: `Bearer ${c.viewerToken}`,
          basic: `Basic ${Buffer.from(`x:${c.agentToken}`).toString("base64")}`,
        };
        const headers: Record<string, string> = {};
        if (type !== "") headers["content-type"] = type;
        if (encoding !== "") headers["content-encoding"] = encoding;
        if (who !== "none") headers.authorization = tokens[who] ?? who.replace(/[\r\n]/g, " ");
        const x = await run.exchange({ method, url, headers, ...(method === "GET" ? {} : { body }) });
        if (x.answer.status === 0) return;
        // Authentication comes before anything else is looked at.
        if (method === "POST" && !["agent", "basic", "other"].includes(who))
          expect(x.answer.status).toBe(401);
        // No other method has a route here (the root's CSV parser may refuse the body first).
        if (method !== "POST") expect(x.answer.status).toBeGreaterThanOrEqual(400);
      },
    ),
    fuzzParams(label, numRuns),
  );
}
