import { describe, expect, it } from "vitest";
import { ParsePool, WORKER_PARSE_MIN_BYTES } from "../../../src/central/ingest/parse-pool.js";
import { CsvValidationError, parseMetricsCsv } from "../../../src/protocol/index.js";
import { csvFor } from "./fixtures.js";

describe("ParsePool", () => {
  it("parses large files on worker threads with the same rows and the same errors as inline", async () => {
    let inlineCalls = 0;
    const pool = new ParsePool(2, (bytes, options) => {
      inlineCalls++;
      return parseMetricsCsv(bytes, options).rows;
    });
    try {
      const csv = csvFor("web-01", "2026-10-01T00:00:00Z", 1500, ["/", "/data", "C:"]);
      const big = Buffer.from(csv);
      expect(big.length).toBeGreaterThan(WORKER_PARSE_MIN_BYTES);
      const options = { now: Date.parse("2026-11-25T00:00:00Z"), maxRows: 1_000_000 };
      const [a, b] = await Promise.all([pool.parse(big, options), pool.parse(big, options)]);
      expect(inlineCalls).toBe(0);
      const expected = parseMetricsCsv(big, options).rows;
      expect(a).toEqual(expected);
      expect(b).toEqual(expected);

      const lines = csv.split("\n");
      lines[4000] = lines[4000]!.replace(/,(\/|\/data|C:),/, ",bad\u0001,");
      const bad = Buffer.from(lines.join("\n"));
      const err = await pool.parse(bad, options).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CsvValidationError);
      expect(err).toMatchObject({ line: 4001, column: "disk_mount", reason: "mount" });
      expect(inlineCalls).toBe(0);

      const small = Buffer.from(csvFor("web-01", "2026-11-01T00:00:00Z", 2));
      expect(await pool.parse(small, options)).toHaveLength(4);
      expect(inlineCalls).toBe(1); // small files stay inline
    } finally {
      await pool.close();
    }
  });

  it("falls back to inline parsing when the worker cannot load the parser", async () => {
    let inlineCalls = 0;
    const pool = new ParsePool(
      1,
      (bytes, options) => {
        inlineCalls++;
        return parseMetricsCsv(bytes, options).rows;
      },
      "file:///nonexistent/protocol/index.js",
    );
    try {
      const big = Buffer.from(csvFor("web-01", "2026-10-01T00:00:00Z", 1500, ["/", "/data", "C:"]));
      const rows = await pool.parse(big, { now: Date.parse("2026-11-25T00:00:00Z") });
      expect(rows).toHaveLength(4500);
      expect(inlineCalls).toBe(1);
    } finally {
      await pool.close();
    }
  });
});
