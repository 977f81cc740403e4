import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type MetricRow,
  parseMetricsCsv,
  parseMetricsCsvGeneral,
  serializeMetricsCsv,
} from "../../src/protocol/index.js";
import { parseCanonicalMetricsCsv } from "../../src/protocol/parse-fast.js";

/**
 * The fast path may only ever say "same rows as the general parser" or "not
 * mine" (null). These tests hold it to that on generated files, on files
 * mutated byte by byte, and on the edge cases of each field.
 */

const NOW = Date.UTC(2026, 10, 25, 12);
const OPTIONS = { now: NOW, maxFutureSkewMs: 86_400_000, maxRows: 1000 };
const LIMITS = {
  maxRows: OPTIONS.maxRows,
  minTimestamp: Date.UTC(2000, 0, 1),
  maxTimestamp: NOW + OPTIONS.maxFutureSkewMs,
};

const enc = (s: string) => new TextEncoder().encode(s);

/** What the general parser says: rows, or the error it raises. */
function general(bytes: Uint8Array): MetricRow[] | Error {
  try {
    return parseMetricsCsvGeneral(bytes, OPTIONS).rows;
  } catch (err) {
    return err as Error;
  }
}

/** Percentages as the agent writes them (two decimals), and now and then any double. */
const percentArb = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 10_000 }).map((v) => v / 100) },
  { weight: 1, arbitrary: fc.double({ min: 0, max: 100, noNaN: true }) },
);

const rowArb = fc
  .record({
    ts: fc.integer({ min: Date.UTC(2000, 0, 1), max: NOW + 86_400_000 }),
    server: fc.constantFrom("web-01", "db_2.example", "A", "x".repeat(64)),
    cpu: percentArb,
    peak: fc.option(percentArb, { nil: null }),
    interval: fc.option(
      fc.oneof(
        fc.integer({ min: 1, max: 366 * 86400 }),
        fc.integer({ min: 1, max: 10_000_000 }).map((v) => v / 1000),
      ),
      { nil: null },
    ),
    memTotal: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    memUsedShare: fc.double({ min: 0, max: 1, noNaN: true }),
    memAvailShare: fc.double({ min: 0, max: 1, noNaN: true }),
    mount: fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom("/", "/data", "C:\\", "/mnt/with space") },
      { weight: 1, arbitrary: fc.constantFrom(" lead", "ünï", "a,b", 'q"x') },
      { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 20 }) },
    ),
    diskTotal: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    diskUsedShare: fc.double({ min: 0, max: 1, noNaN: true }),
    diskFreeShare: fc.double({ min: 0, max: 1, noNaN: true }),
  })
  .map(
    (r): MetricRow => ({
      timestamp: r.ts,
      server: r.server,
      cpuPercent: r.cpu,
      cpuPeakPercent: r.peak,
      intervalSeconds: r.interval,
      memTotalBytes: r.memTotal,
      memUsedBytes: Math.floor(r.memTotal * r.memUsedShare),
      memAvailableBytes: Math.floor(r.memTotal * r.memAvailShare),
      diskMount: r.mount,
      diskTotalBytes: r.diskTotal,
      diskUsedBytes: Math.floor(r.diskTotal * r.diskUsedShare),
      diskFreeBytes: Math.floor(r.diskTotal * r.diskFreeShare),
    }),
  );

/** Bytes worth inserting: separators, quotes, signs, exponents, controls, non-ASCII. */
const NASTY = [
  ",",
  "\n",
  "\r",
  '"',
  ".",
  "-",
  "+",
  "e",
  "E",
  "0",
  "9",
  " ",
  "\t",
  "\u0000",
  "Z",
  ":",
  "\u00e9",
  "\u007f",
];

describe("parseCanonicalMetricsCsv (fast path)", () => {
  it("takes files as the agent writes them, with the general parser's exact rows", () => {
    let taken = 0;
    fc.assert(
      fc.property(fc.array(rowArb, { minLength: 1, maxLength: 30 }), (rows) => {
        const bytes = enc(serializeMetricsCsv(rows));
        const fast = parseCanonicalMetricsCsv(bytes, LIMITS);
        const slow = general(bytes);
        if (fast === null) {
          // Declining is allowed (quotes, non-ASCII, long decimals…), never a different answer.
          return;
        }
        taken++;
        expect(fast).toEqual(slow);
      }),
      { numRuns: 1500 },
    );
    expect(taken).toBeGreaterThan(100);
  });

  it("is actually taken for plain agent files (not always declining)", () => {
    const rows: MetricRow[] = Array.from({ length: 50 }, (_, i) => ({
      timestamp: NOW - i * 60_000,
      server: "web-01",
      cpuPercent: Math.round(((i * 7.3) % 100) * 100) / 100,
      cpuPeakPercent: i % 3 === 0 ? null : 99.5,
      intervalSeconds: i % 5 === 0 ? null : 60,
      memTotalBytes: 16e9,
      memUsedBytes: 6e9 + i,
      memAvailableBytes: 9e9,
      diskMount: i % 2 === 0 ? "/" : "/var/lib/data",
      diskTotalBytes: 5e11,
      diskUsedBytes: 2e11,
      diskFreeBytes: 2.8e11,
    }));
    const bytes = enc(serializeMetricsCsv(rows));
    const fast = parseCanonicalMetricsCsv(bytes, LIMITS);
    expect(fast).not.toBeNull();
    expect(fast).toEqual(general(bytes));
    expect(fast!.map((r) => r.cpuPercent)).toEqual(rows.map((r) => Number(String(r.cpuPercent))));
  });

  it("reads every millisecond fraction and the zone forms exactly as the general parser does", () => {
    const header =
      "timestamp,server,cpu_percent,cpu_peak_percent,interval_seconds,mem_total_bytes,mem_used_bytes,mem_available_bytes,disk_mount,disk_total_bytes,disk_used_bytes,disk_free_bytes\n";
    const line = (ts: string) => `${ts},web-01,5,,,100,50,40,/,100,50,40\n`;
    const fractions = Array.from({ length: 1000 }, (_, d) =>
      line(`2026-11-24T10:00:00.${String(d).padStart(3, "0")}Z`),
    );
    const bytes = enc(header + fractions.join(""));
    const fast = parseCanonicalMetricsCsv(bytes, LIMITS);
    expect(fast).not.toBeNull();
    expect(fast).toEqual(general(bytes));
    // Other forms go through parseTimestamp inside the fast path: same values.
    const zones = [
      "2026-11-24T10:00:00+02:00",
      "2026-11-24T10:00:00.5Z",
      "2026-11-24T10:00:00z",
      "2024-02-29T23:59:59Z",
    ];
    const zoned = enc(header + zones.map(line).join(""));
    expect(parseCanonicalMetricsCsv(zoned, LIMITS)).toEqual(general(zoned));
    expect(parseCanonicalMetricsCsv(enc(header + line("2026-02-29T10:00:00Z")), LIMITS)).toBeNull();
  });

  it("never accepts what the general parser refuses, nor reads a value differently, on mutated files", () => {
    const base = serializeMetricsCsv([
      {
        timestamp: NOW - 60_000,
        server: "web-01",
        cpuPercent: 12.5,
        cpuPeakPercent: 40,
        intervalSeconds: 60,
        memTotalBytes: 1000,
        memUsedBytes: 500,
        memAvailableBytes: 400,
        diskMount: "/",
        diskTotalBytes: 2000,
        diskUsedBytes: 1000,
        diskFreeBytes: 900,
      },
      {
        timestamp: NOW,
        server: "web-01",
        cpuPercent: 0,
        cpuPeakPercent: null,
        intervalSeconds: null,
        memTotalBytes: 1000,
        memUsedBytes: 1000,
        memAvailableBytes: 0,
        diskMount: "/data",
        diskTotalBytes: 0,
        diskUsedBytes: 0,
        diskFreeBytes: 0,
      },
    ]);
    const mutation = fc.array(
      fc.record({
        at: fc.nat(),
        kind: fc.constantFrom("insert", "replace", "delete"),
        text: fc.oneof(fc.constantFrom(...NASTY), fc.string({ maxLength: 3 })),
      }),
      { minLength: 1, maxLength: 4 },
    );
    let accepted = 0;
    fc.assert(
      fc.property(mutation, (muts) => {
        let text = base;
        for (const m of muts) {
          const at = m.at % (text.length + 1);
          if (m.kind === "insert") text = text.slice(0, at) + m.text + text.slice(at);
          else if (m.kind === "replace") text = text.slice(0, at) + m.text + text.slice(at + 1);
          else text = text.slice(0, at) + text.slice(at + 1);
        }
        const bytes = enc(text);
        const fast = parseCanonicalMetricsCsv(bytes, LIMITS);
        if (fast === null) return;
        accepted++;
        expect(fast).toEqual(general(bytes));
      }),
      { numRuns: 5000 },
    );
    // Mutations that keep the file valid (a digit for a digit) must still be taken.
    expect(accepted).toBeGreaterThan(50);
  });

  it("declines each edge case the general parser refuses, and parseMetricsCsv then names line and column", () => {
    const header =
      "timestamp,server,cpu_percent,cpu_peak_percent,interval_seconds,mem_total_bytes,mem_used_bytes,mem_available_bytes,disk_mount,disk_total_bytes,disk_used_bytes,disk_free_bytes\n";
    const good = "2026-11-25T10:00:00Z,web-01,5,6,60,100,50,40,/,100,50,40";
    const cases: [string, string][] = [
      [good.replace(",5,", ",05,"), "cpu_percent"],
      [good.replace(",5,", ",5.,"), "cpu_percent"],
      [good.replace(",5,", ",100.5,"), "cpu_percent"],
      [good.replace(",6,", ",1e1,"), "cpu_peak_percent"],
      [good.replace(",60,", ",0,"), "interval_seconds"],
      [good.replace(",100,50,40,/", ",100,500,40,/"), "mem_used_bytes"],
      [good.replace(",100,50,40,/", ",100,50,400,/"), "mem_available_bytes"],
      [good.replace(",100,50,40,/", ",0100,50,40,/"), "mem_total_bytes"],
      [good.replace("/,100,50,40", "/,100,50,140"), "disk_free_bytes"],
      [good.replace("/,100,50,40", "/,100,99999999999999999,40"), "disk_used_bytes"],
      [good.replace("web-01", "../x"), "server"],
      [good.replace("2026-11-25T10:00:00Z", "2026-02-30T10:00:00Z"), "timestamp"],
      [good.replace("2026-11-25T10:00:00Z", "2099-01-01T00:00:00Z"), "timestamp"],
      [good.replace(",/,", ",,"), "disk_mount"],
    ];
    for (const [line, column] of cases) {
      const bytes = enc(`${header}${good}\n${line}\n`);
      expect(parseCanonicalMetricsCsv(bytes, LIMITS), line).toBeNull();
      expect(() => parseMetricsCsv(bytes, OPTIONS), line).toThrow(
        expect.objectContaining({ line: 3, column }),
      );
    }
    // Valid but unusual: declined here, accepted by the general parser.
    for (const text of [
      `${header}${good}\r\n`,
      `\ufeff${header}${good}\n`,
      `${header}${good}\n\n`,
      `${header}${good.replace(",/,", ',"/a,b",')}\n`,
      `${header.replace("cpu_peak_percent,interval_seconds,", "")}${good.replace(",6,60,", ",")}\n`,
    ]) {
      const bytes = enc(text);
      expect(parseCanonicalMetricsCsv(bytes, LIMITS), JSON.stringify(text)).toBeNull();
      expect(parseMetricsCsv(bytes, OPTIONS).rows).toHaveLength(1);
    }
    // More rows than allowed: declined, and the general parser says so.
    const many = enc(`${header}${`${good}\n`.repeat(3)}`);
    expect(parseCanonicalMetricsCsv(many, { ...LIMITS, maxRows: 2 })).toBeNull();
    expect(() => parseMetricsCsv(many, { ...OPTIONS, maxRows: 2 })).toThrow(/more than 2 rows/);
  });
});
