import { existsSync, readdirSync } from "node:fs";
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAgentToken, createViewerToken } from "../../../src/central/auth/tokens.js";
import {
  CANONICAL_COLUMNS,
  csvField,
  type MetricRow,
  serializeMetricsCsv,
} from "../../../src/protocol/index.js";
import { utcMidnightDaysAgo } from "../../helpers/clock.js";
import { countRows, makeTestCentral, row, type TestCentral } from "./fixtures.js";

/**
 * Thousands of generated hostile inputs against the real app (inject): each
 * must answer 4xx (400 with the exact line and column for a bad field),
 * store nothing, and leave the process serving.
 */

const BYTE_COLUMNS = [
  "mem_total_bytes",
  "mem_used_bytes",
  "mem_available_bytes",
  "disk_total_bytes",
  "disk_used_bytes",
  "disk_free_bytes",
] as const;

const BAD_BYTES = [
  "",
  "NaN",
  "Infinity",
  "-1",
  "1e3",
  "1.5",
  "0x10",
  " 1",
  "abc",
  "99999999999999999999",
  "+1",
  "١٢",
];
const BAD_PERCENT = ["", "NaN", "-0.1", "100.1", "1e2", "abc", "Infinity", "50%", ".5"];
const BAD_TIMESTAMP = [
  "",
  "2026-11-23",
  "2026-11-23T10:00:00",
  "1999-12-31T23:59:59Z",
  "2999-01-01T00:00:00Z",
  "2026-02-30T00:00:00Z",
  "2026-11-23T25:00:00Z",
  "garbage",
  "1732000000",
];
const BAD_SERVER = [
  "",
  "../x",
  "a/b",
  "CON",
  "nul.txt",
  "LPT1",
  ".hidden",
  "x".repeat(65),
  "with space",
  "x\u0000y",
  "/abs",
  "C:\\x",
  "web-01.",
];
const BAD_MOUNT = ["", "\u0001", "a\u007fb", "x".repeat(1025)];

const badValuesFor = (column: string): string[] => {
  if ((BYTE_COLUMNS as readonly string[]).includes(column)) return BAD_BYTES;
  if (column === "cpu_percent" || column === "cpu_peak_percent")
    return BAD_PERCENT.filter((v) => !(column === "cpu_peak_percent" && v === ""));
  if (column === "timestamp") return BAD_TIMESTAMP;
  if (column === "server") return BAD_SERVER;
  if (column === "disk_mount") return BAD_MOUNT;
  return ["0", "-5", "abc"]; // interval_seconds
};

const MUTABLE_COLUMNS = CANONICAL_COLUMNS.filter((c) => c !== "interval_seconds");

function baseRows(n: number): MetricRow[] {
  const rows: MetricRow[] = [];
  for (let i = 0; i < n; i++) {
    rows.push(
      row(
        "web-01",
        new Date(utcMidnightDaysAgo(14) + i * 60_000).toISOString(), // recent: inside the ingest horizon
        i % 2 ? "/data" : "/",
      ),
    );
  }
  return rows;
}

function filesUnder(dir: string): number {
  if (!existsSync(dir)) return 0;
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).length;
}

describe("hostile input (property-based)", () => {
  let c: TestCentral;
  let token: string;
  let viewer: string;
  beforeAll(async () => {
    c = await makeTestCentral({ maxBodyBytes: 256 * 1024 });
    token = await createAgentToken(c.store, "web-01");
    await createAgentToken(c.store, "web-02");
    viewer = await createViewerToken(c.store, "ops");
  });
  afterAll(async () => {
    await c.cleanup();
  });

  const upload = (payload: string | Buffer, headers: Record<string, string> = {}) =>
    c.app.inject({
      method: "POST",
      url: "/api/v1/metrics",
      headers: { authorization: `Bearer ${token}`, "content-type": "text/csv", ...headers },
      payload,
    });

  it("names the exact line and column of one bad field anywhere in a file (1,500 files)", async () => {
    const columnValue = fc
      .constantFrom(...MUTABLE_COLUMNS)
      .chain((column) => fc.tuple(fc.constant(column), fc.constantFrom(...badValuesFor(column))));
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 30 }),
        fc.nat(),
        columnValue,
        fc.boolean(),
        async (n, rowPick, [column, value], gzip) => {
          const rows = baseRows(n);
          const lines = serializeMetricsCsv(rows).split("\n");
          const header = lines[0]!.split(",");
          const target = 1 + (rowPick % n);
          const fields = lines[target]!.split(",");
          fields[header.indexOf(column)] = csvField(value);
          lines[target] = fields.join(",");
          const csv = lines.join("\n");
          const res = await upload(gzip ? gzipSync(csv) : csv, gzip ? { "content-encoding": "gzip" } : {});
          expect(res.statusCode, `${column}=${JSON.stringify(value)}`).toBe(400);
          const body = res.json();
          expect(body.line).toBe(target + 1);
          expect(body.column).toBe(column);
          expect(body.error).toContain(`line ${target + 1}`);
        },
      ),
      { numRuns: 1500 },
    );
    expect(countRows(c.store, "samples")).toBe(0);
  });

  it("refuses arbitrary text and bytes with a 4xx naming a line (1,000 bodies)", async () => {
    const header = `${CANONICAL_COLUMNS.join(",")}\n`;
    const body = fc.oneof(
      fc.string({ maxLength: 400 }),
      fc.string({ unit: "binary", maxLength: 400 }).map((s) => header + s),
      fc.uint8Array({ maxLength: 400 }).map((b) => Buffer.from(b)),
      fc
        .array(fc.constantFrom(",", '"', "\n", "\r", "a", "1", "Z", "web-01", "\u00ff", "\ufeff"), {
          maxLength: 200,
        })
        .map((parts) => header + parts.join("")),
    );
    await fc.assert(
      fc.asyncProperty(body, async (payload) => {
        const res = await upload(payload);
        expect(res.statusCode).toBeGreaterThanOrEqual(400);
        expect(res.statusCode).toBeLessThan(500);
        const json = res.json();
        expect(typeof json.error).toBe("string");
        if (res.statusCode === 400) expect(json.line === null || Number.isInteger(json.line)).toBe(true);
        if (json.reason !== "bad_gzip" && res.statusCode === 400) expect(json.line).toBeGreaterThanOrEqual(1);
      }),
      { numRuns: 1000 },
    );
    expect(countRows(c.store, "samples")).toBe(0);
  });

  it("answers 4xx, never 2xx or 5xx, to requests with at least one hostile part (800 requests)", async () => {
    const valid = serializeMetricsCsv(baseRows(4));
    const defect = fc.constantFrom(
      "no-auth",
      "bad-auth",
      "viewer-auth",
      "other-server-token",
      "content-type",
      "encoding",
      "fake-gzip",
      "too-large",
      "bomb",
      "multipart-empty",
      "method",
    );
    const otherToken = createAgentToken(c.store, "web-03");
    await fc.assert(
      fc.asyncProperty(defect, fc.string({ maxLength: 60 }), async (kind, noise) => {
        let headers: Record<string, string> = {
          authorization: `Bearer ${token}`,
          "content-type": "text/csv",
        };
        let payload: string | Buffer = valid;
        let method: "POST" | "PUT" | "GET" = "POST";
        switch (kind) {
          case "no-auth":
            headers = { "content-type": "text/csv" };
            break;
          case "bad-auth":
            headers.authorization = `Bearer ${noise}`;
            break;
          case "viewer-auth":
            headers.authorization = `Bearer ${viewer}`;
            break;
          case "other-server-token":
            headers.authorization = `Bearer ${await otherToken}`;
            break;
          case "content-type":
            headers["content-type"] = fc.sample(
              fc.constantFrom(
                "application/json",
                "text/plain",
                "image/png",
                "application/x-www-form-urlencoded",
                "text/csv; charset=utf-16",
              ),
              1,
            )[0]!;
            break;
          case "encoding":
            headers["content-encoding"] = fc.sample(
              fc.constantFrom("br", "deflate", "compress", `x-${noise.replace(/[^a-z]/g, "")}z`),
              1,
            )[0]!;
            break;
          case "fake-gzip":
            headers["content-encoding"] = "gzip";
            payload = `not gzip ${noise}`;
            break;
          case "too-large":
            payload = valid + "#".repeat(300 * 1024);
            break;
          case "bomb":
            headers["content-encoding"] = "gzip";
            payload = gzipSync(Buffer.alloc(4 * 1024 * 1024, 0x41));
            break;
          case "multipart-empty":
            headers["content-type"] = "multipart/form-data; boundary=xyz";
            payload = `--xyz--\r\n${noise}`;
            break;
          case "method":
            method = fc.sample(fc.constantFrom("PUT" as const, "GET" as const), 1)[0]!;
            break;
        }
        const res = await c.app.inject({
          method,
          url: "/api/v1/metrics",
          headers,
          payload: method === "GET" ? undefined : payload,
        });
        expect(res.statusCode, kind).toBeGreaterThanOrEqual(400);
        expect(res.statusCode, kind).toBeLessThan(500);
        expect(typeof res.json().error).toBe("string");
      }),
      { numRuns: 800 },
    );
    expect(countRows(c.store, "samples")).toBe(0);
    expect(countRows(c.store, "uploads")).toBe(0);
    expect(filesUnder(c.config.paths.receivedMetrics)).toBe(0);
  });

  it("still serves after all of it", async () => {
    expect((await c.app.inject("/healthz")).statusCode).toBe(200);
    const res = await upload(serializeMetricsCsv(baseRows(3)));
    expect(res.statusCode).toBe(201);
    expect(countRows(c.store, "samples")).toBe(3);
  });
});
