import { describe, expect, it } from "vitest";
import {
  CsvValidationError,
  type MetricRow,
  parseMetricsCsv,
  parseTimestamp,
  serializeMetricsCsv,
} from "../../src/protocol/index.js";

const HEADER =
  "timestamp,server,cpu_percent,mem_total_bytes,mem_used_bytes,mem_available_bytes,disk_mount,disk_total_bytes,disk_used_bytes,disk_free_bytes";
const ROW = "2026-11-23T10:00:00Z,web-01,12.5,8000,3000,5000,/,1000,400,500";
const NOW = Date.UTC(2026, 10, 25);

function expectError(csv: string | Uint8Array, line: number | null, column: string | null, reason?: string) {
  try {
    parseMetricsCsv(csv, { now: NOW });
  } catch (err) {
    expect(err).toBeInstanceOf(CsvValidationError);
    const e = err as CsvValidationError;
    expect({ line: e.line, column: e.column }).toEqual({ line, column });
    if (reason !== undefined) expect(e.reason).toBe(reason);
    return e;
  }
  throw new Error("expected a CsvValidationError");
}

describe("parseMetricsCsv", () => {
  it("parses a valid file with columns in any order, ignoring unknown columns", () => {
    const csv = `extra,disk_free_bytes,disk_used_bytes,disk_total_bytes,disk_mount,mem_available_bytes,mem_used_bytes,mem_total_bytes,cpu_percent,server,timestamp,cpu_peak_percent\nx,500,400,1000,/data,5000,3000,8000,7,db-1,2026-11-23T11:00:00+01:00,55.5\n`;
    const { rows } = parseMetricsCsv(csv, { now: NOW });
    expect(rows).toEqual<MetricRow[]>([
      {
        timestamp: Date.UTC(2026, 10, 23, 10),
        server: "db-1",
        cpuPercent: 7,
        cpuPeakPercent: 55.5,
        intervalSeconds: null,
        memTotalBytes: 8000,
        memUsedBytes: 3000,
        memAvailableBytes: 5000,
        diskMount: "/data",
        diskTotalBytes: 1000,
        diskUsedBytes: 400,
        diskFreeBytes: 500,
      },
    ]);
  });

  it("handles quoted fields, CRLF and a BOM", () => {
    const csv = `\ufeff${HEADER}\r\n2026-11-23T10:00:00Z,web-01,1,8,3,5,"C:\\My ""Disk"", two",10,4,5\r\n`;
    const { rows } = parseMetricsCsv(csv, { now: NOW });
    expect(rows[0]!.diskMount).toBe('C:\\My "Disk", two');
  });

  it("round-trips through serializeMetricsCsv", () => {
    const { rows } = parseMetricsCsv(`${HEADER}\n${ROW}\n${ROW.replace(",/,", ',"/mnt/a,b",')}\n`, {
      now: NOW,
    });
    expect(parseMetricsCsv(serializeMetricsCsv(rows), { now: NOW }).rows).toEqual(rows);
  });

  it.each([
    ["empty file", "", 1, null, "empty"],
    ["missing column", HEADER.replace(",cpu_percent", ""), 1, "cpu_percent", "header"],
    ["duplicate column", `${HEADER},server\n`, 1, "server", "header"],
    ["bad number", `${HEADER}\n${ROW.replace("12.5", "abc")}`, 2, "cpu_percent", "number"],
    ["cpu over 100", `${HEADER}\n${ROW.replace("12.5", "100.5")}`, 2, "cpu_percent", "number"],
    ["NaN", `${HEADER}\n${ROW.replace("12.5", "NaN")}`, 2, "cpu_percent", "number"],
    ["exponent", `${HEADER}\n${ROW.replace(",8000,", ",8e3,")}`, 2, "mem_total_bytes", "number"],
    ["negative bytes", `${HEADER}\n${ROW.replace(",400,", ",-400,")}`, 2, "disk_used_bytes", "number"],
    ["used > total", `${HEADER}\n${ROW.replace(",3000,", ",9000,")}`, 2, "mem_used_bytes", "consistency"],
    ["bad server name", `${HEADER}\n${ROW.replace("web-01", "../etc")}`, 2, "server", "server"],
    ["device server name", `${HEADER}\n${ROW.replace("web-01", "NUL")}`, 2, "server", "server"],
    [
      "timestamp without zone",
      `${HEADER}\n${ROW.replace("10:00:00Z", "10:00:00")}`,
      2,
      "timestamp",
      "timestamp",
    ],
    ["impossible date", `${HEADER}\n${ROW.replace("11-23", "02-30")}`, 2, "timestamp", "timestamp"],
    ["before 2000", `${HEADER}\n${ROW.replace("2026-11-23", "1999-12-31")}`, 2, "timestamp", "timestamp"],
    ["far future", `${HEADER}\n${ROW.replace("2026-11-23", "2027-11-23")}`, 2, "timestamp", "timestamp"],
    ["empty mount", `${HEADER}\n${ROW.replace(",/,", ",,")}`, 2, "disk_mount", "mount"],
    ["too few fields", `${HEADER}\n${ROW}\n${ROW.slice(0, -4)}`, 3, null, "field_count"],
    ["unclosed quote", `${HEADER}\n${ROW.replace(",/,", ',"/,')}`, 2, null, "syntax"],
    ["blank line in the middle", `${HEADER}\n${ROW}\n\n${ROW}\n`, 3, null, "syntax"],
  ])("rejects %s with line and column", (_name, csv, line, column, reason) => {
    expectError(csv, line, column, reason);
  });

  it("rejects invalid UTF-8 naming the line", () => {
    const bytes = Buffer.concat([Buffer.from(`${HEADER}\n${ROW}\n`), Buffer.from([0x32, 0xff, 0x0a])]);
    const e = expectError(bytes, 3, null, "encoding");
    expect(e.message).toMatch(/UTF-8/);
  });

  it("rejects files over the row cap", () => {
    expect(() => parseMetricsCsv(`${HEADER}\n${ROW}\n${ROW}\n`, { now: NOW, maxRows: 1 })).toThrow(
      /more than 1 rows/,
    );
  });
});

describe("parseTimestamp", () => {
  it("accepts Z and offsets", () => {
    expect(parseTimestamp("2026-03-29T03:30:00+02:00")).toBe(Date.UTC(2026, 2, 29, 1, 30));
    expect(parseTimestamp("2026-03-29T01:30:00.250Z")).toBe(Date.UTC(2026, 2, 29, 1, 30, 0, 250));
    expect(parseTimestamp("2024-02-29T00:00:00-0530")).toBe(Date.UTC(2024, 1, 29, 5, 30));
  });
  it("refuses local times and nonsense", () => {
    for (const t of [
      "2026-03-29 01:30:00Z",
      "2026-03-29T01:30:00",
      "2025-02-29T00:00:00Z",
      "2026-13-01T00:00:00Z",
    ]) {
      expect(parseTimestamp(t)).toBeNull();
    }
  });
});

describe("first-row validation", () => {
  it("validates an empty timestamp or server on the first row", () => {
    expectError(`${HEADER}\n${ROW.replace("2026-11-23T10:00:00Z", "")}`, 2, "timestamp", "timestamp");
    expectError(`${HEADER}\n${ROW.replace("web-01", "")}`, 2, "server", "server");
  });

  it("parses quote-free files in linear time (a quoted row after many plain ones still works)", () => {
    const plain = Array.from({ length: 20_000 }, () => ROW).join("\n");
    const { rows } = parseMetricsCsv(`${HEADER}\n${plain}\n${ROW.replace(",/,", ',"/q,x",')}\n`, {
      now: NOW,
    });
    expect(rows).toHaveLength(20_001);
    expect(rows.at(-1)!.diskMount).toBe("/q,x");
  });
});
