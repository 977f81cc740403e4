import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { readSeedFile, resolveFormat } from "../../../../src/central/ingest/seed/format.js";
import { isSeedFile, parseSeedCsv, SEED_HEADER } from "../../../../src/central/ingest/seed/parse-seed.js";
import { CsvValidationError } from "../../../../src/protocol/index.js";
import { REPO_ROOT } from "../../../helpers/cli.js";

const FIXTURES = path.join(REPO_ROOT, "test/fixtures/seed");
const fixture = (rel: string) => readFileSync(path.join(FIXTURES, rel));
const GIB = 1024 ** 3;
const NOW = Date.UTC(2026, 11, 1);
const opts = (timeZone = "Europe/Berlin") => ({
  timeZone,
  now: NOW,
  maxFutureSkewMs: 86_400_000,
  maxRows: 200_000,
});
const iso = (ms: number) => new Date(ms).toISOString();

describe("seed format: reading one file", () => {
  it("recognises the seed header (with BOM, CRLF) and nothing else", () => {
    const web = fixture("recieved_metrics/WEB-01_2026-02-14_12-00-05_server_metrics.csv");
    expect(isSeedFile(web)).toBe(true);
    expect(isSeedFile(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), web]))).toBe(true);
    expect(isSeedFile(Buffer.from(`${SEED_HEADER},extra\n`))).toBe(false);
    expect(isSeedFile(Buffer.from("timestamp,server,cpu_percent\n"))).toBe(false);
    expect(resolveFormat(web, "auto")).toBe("seed");
    expect(resolveFormat(Buffer.from("timestamp,server\n"), "auto")).toBe("v1");
    expect(resolveFormat(web, "v1")).toBe("v1");
  });

  it("turns each partition into a mount row: GB → bytes, used = total − available, times in the source zone", () => {
    const parsed = parseSeedCsv(
      fixture("recieved_metrics/WEB-01_2026-02-14_12-00-05_server_metrics.csv"),
      opts(),
    );
    expect(parsed.lines).toBe(9);
    // 6 readable lines × 2 partitions (the repeated line is kept here; the store counts it as repeated).
    expect(parsed.rows).toHaveLength(12);
    const first = parsed.rows[0]!;
    expect(first).toEqual({
      // 10:00 in Berlin in February (CET, +01:00) is 09:00Z.
      timestamp: Date.UTC(2026, 1, 13, 9, 0, 0),
      server: "WEB-01",
      cpuPercent: 10,
      cpuPeakPercent: null,
      intervalSeconds: null,
      memTotalBytes: 8 * GIB,
      // total 8 − available 6, not the file's used_ram_gb 1.5 (psutil's `used`).
      memUsedBytes: 2 * GIB,
      memAvailableBytes: 6 * GIB,
      diskMount: "/",
      diskTotalBytes: 100 * GIB,
      diskUsedBytes: 40 * GIB,
      diskFreeBytes: 60 * GIB,
    });
    expect(parsed.rows[1]!.diskMount).toBe("/data");
    expect(parsed.rows[1]!.diskTotalBytes).toBe(500 * GIB);
  });

  it("skips lines that break the contract, naming line and column, and keeps the rest", () => {
    const parsed = parseSeedCsv(
      fixture("recieved_metrics/WEB-01_2026-02-14_12-00-05_server_metrics.csv"),
      opts(),
    );
    expect(parsed.skipped).toEqual([
      { line: 6, column: "disk_info_json", message: "/: used 140 GB is more than total 100 GB" },
      { line: 7, column: "cpu_percent", message: "-5.0 is negative" },
      { line: 8, column: "disk_info_json", message: expect.stringContaining("not valid JSON") },
    ]);
    const cases: [string, string, string][] = [
      ['2026-02-13 10:00:00,X,10.0,8.0,1.0,9.0,25.0,"[]"', "available_ram_gb", "more than total"],
      ['2026-02-13 10:00:00,X,101.0,8.0,1.0,6.0,25.0,"[]"', "cpu_percent", "above 100"],
      ['2026-02-13 10:00:00,X,1.0,8.0,1.0,6.0,25.0,"[]"', "disk_info_json", "no partition"],
      ['2026-02-13T10:00:00,X,1.0,8.0,1.0,6.0,25.0,"[]"', "timestamp", "not a local time"],
      ['2026-02-30 10:00:00,X,1.0,8.0,1.0,6.0,25.0,"[]"', "timestamp", "not a local time"],
      ['2026-02-13 10:00:00,../x,1.0,8.0,1.0,6.0,25.0,"[]"', "server_name", "server name"],
      ['2026-02-13 10:00:00,X,NaN,8.0,1.0,6.0,25.0,"[]"', "cpu_percent", "not a number"],
      [
        '2026-02-13 10:00:00,X,1.0,8.0,1.0,6.0,25.0,"[{""mountpoint"": ""/"", ""total_gb"": 1.0, ""used_gb"": 0.5, ""free_gb"": -0.5}]"',
        "disk_info_json",
        "free_gb is negative",
      ],
      [
        '2026-12-05 10:00:00,X,1.0,8.0,1.0,6.0,25.0,"[{""mountpoint"": ""/"", ""total_gb"": 1.0, ""used_gb"": 0.5, ""free_gb"": 0.5}]"',
        "timestamp",
        "future",
      ],
    ];
    for (const [line, column, message] of cases) {
      const p = parseSeedCsv(Buffer.from(`${SEED_HEADER}\r\n${line}\r\n`), opts());
      expect(p.rows, line).toEqual([]);
      expect(p.skipped[0]?.column, line).toBe(column);
      expect(p.skipped[0]?.message, line).toContain(message);
    }
  });

  it("writes Windows drives as C: and D:", () => {
    const parsed = parseSeedCsv(
      fixture("recieved_metrics/WIN-01_2026-02-14_12-00-07_server_metrics.csv"),
      opts(),
    );
    expect(parsed.skipped).toEqual([]);
    expect(parsed.rows.map((r) => r.diskMount)).toEqual(["C:", "D:", "C:", "D:"]);
    expect(parsed.rows[1]!.diskUsedBytes).toBe(900 * GIB);
  });

  it("refuses a file that is not seed, has no data or no readable line (nothing to store)", () => {
    expect(() => parseSeedCsv(Buffer.from("timestamp,server\n"), opts())).toThrow(/header must be exactly/);
    const empty = () => readSeedFile(Buffer.from(`${SEED_HEADER}\r\n`), opts());
    expect(empty).toThrow(CsvValidationError);
    expect(empty).toThrow(/no data rows/);
    const bad = () => readSeedFile(Buffer.from(`${SEED_HEADER}\r\n2026-02-13 10:00:00,X,1,2,3\r\n`), opts());
    expect(bad).toThrow(/none of the file's 1 lines can be read/);
    const tooMany = () =>
      readSeedFile(fixture("recieved_metrics/WIN-01_2026-02-14_12-00-07_server_metrics.csv"), {
        ...opts(),
        maxRows: 3,
      });
    expect(tooMany).toThrow(/more than 3 rows/);
  });
});

describe("seed format: bounded cost of broken lines", () => {
  const good = (hour: number) =>
    `2026-11-20 ${String(hour).padStart(2, "0")}:00:00,X,1.0,8.0,1.0,6.0,25.0,"[{""mountpoint"": ""/"", ""total_gb"": 1.0, ""used_gb"": 0.5, ""free_gb"": 0.5}]"`;

  it("names the first 100 skipped lines and counts all of them", () => {
    const bad = Array.from({ length: 150 }, (_, i) => `bad ${i}`);
    const p = parseSeedCsv(
      Buffer.from(`${SEED_HEADER}\n${good(1)}\n${bad.join("\n")}\n${good(2)}\n`),
      opts(),
    );
    expect(p.rows).toHaveLength(2);
    expect(p.lines).toBe(152);
    expect(p.skippedCount).toBe(150);
    expect(p.skipped).toHaveLength(100);
    expect(p.skipped[0]).toEqual({ line: 3, column: null, message: "expected 8 fields, found 1" });
    expect(p.skipped[99]!.line).toBe(102);
    const read = readSeedFile(Buffer.from(`${SEED_HEADER}\n${good(1)}\n${bad.join("\n")}\n`), opts());
    expect({ kept: read.skipped.length, count: read.skippedCount }).toEqual({ kept: 100, count: 150 });
  });

  it("skips and counts a blank line in the middle; trailing blank lines are no lines", () => {
    const p = parseSeedCsv(Buffer.from(`${SEED_HEADER}\r\n${good(1)}\r\n\r\n${good(2)}\r\n\r\n\n`), opts());
    expect(p.rows).toHaveLength(2);
    expect(p.skipped).toEqual([{ line: 3, column: null, message: "blank line" }]);
    expect(p.lines).toBe(3);
  });

  it.each([
    ["one-field lines", "x"],
    ["quoted two-field lines", 'x,"y"'],
    ["lines whose JSON fails to parse (30 µs each)", '2026-11-20 10:00:00,X,1,2,1,1,5,"["'],
    ["lines with a bad time", 'x,X,1,2,1,1,5,"[]"'],
    ["blank lines before a good one", ""],
  ])("refuses a file past 1,000 broken %s, having read no further", (_name, line) => {
    // 16 MiB of broken lines, then a good one.
    const count = Math.floor((16 * 1024 * 1024) / (line.length + 1));
    const file = Buffer.from(`${SEED_HEADER}\n${good(1)}\n${`${line}\n`.repeat(count)}${good(2)}\n`);
    const t0 = performance.now();
    let err: unknown;
    try {
      parseSeedCsv(file, opts());
    } catch (e) {
      err = e;
    }
    const ms = performance.now() - t0;
    expect(err).toBeInstanceOf(CsvValidationError);
    const e = err as CsvValidationError;
    expect({ reason: e.reason, line: e.line }).toEqual({ reason: "too_many_bad_lines", line: 1003 });
    expect(e.message).toMatch(/^more than 1000 lines of the file cannot be read \(the first, line 3: /);
    expect(e.message.length).toBeLessThan(400);
    // Reading 16 MiB of good lines takes about a second; this stops after 1,000 lines.
    expect(ms).toBeLessThan(1500);
  });

  it("refuses a line longer than 64 KiB before reading it, and a header longer than 4 KiB", () => {
    const long = `${good(1).slice(0, -2)}${" ".repeat(70_000)}]"`;
    expect(() => parseSeedCsv(Buffer.from(`${SEED_HEADER}\n${good(1)}\n${long}\n`), opts())).toThrow(
      expect.objectContaining({ reason: "line_too_long", line: 3 }),
    );
    expect(() => parseSeedCsv(Buffer.from(`${SEED_HEADER}${",".repeat(5000)}\n`), opts())).toThrow(
      expect.objectContaining({ reason: "header_too_long", line: 1 }),
    );
  });

  it("clips what a skipped line quotes of a huge field", () => {
    const huge = `2026-11-20 10:00:00,X,1${"0".repeat(300)}.5,8.0,1.0,6.0,25.0,"[]"`;
    const p = parseSeedCsv(Buffer.from(`${SEED_HEADER}\n${good(1)}\n${huge}\n`), opts());
    expect(p.skipped).toHaveLength(1);
    expect(p.skipped[0]!.message.length).toBeLessThan(120);
    expect(p.skipped[0]!.message).toContain("(303 characters)");
  });
});

describe("seed format: zone-less times across the DST changes (Europe/Berlin, 2026)", () => {
  it("reads a time in the skipped hour with the offset before the change", () => {
    const parsed = parseSeedCsv(fixture("dst/DST-01_2026-03-29_03-00-05_server_metrics.csv"), opts());
    // 01:40 CET = 00:40Z; 02:20 does not exist (clocks jump 02:00 → 03:00) and is
    // read with +01:00 = 01:20Z (the same instant as 03:20 CEST); 03:00 CEST = 01:00Z.
    expect(parsed.rows.map((r) => [r.cpuPercent, iso(r.timestamp)])).toEqual([
      [1, "2026-03-29T00:40:00.000Z"],
      [2, "2026-03-29T01:20:00.000Z"],
      [3, "2026-03-29T01:00:00.000Z"],
    ]);
    expect(parsed.dst).toEqual({ skipped: 1, repeatedFirst: 0, repeatedSecond: 0 });
  });

  it("reads the repeated hour as the first pass until the file's clock goes back, then as the second", () => {
    const parsed = parseSeedCsv(fixture("dst/DST-01_2026-10-25_03-00-05_server_metrics.csv"), opts());
    expect(parsed.rows.map((r) => [r.cpuPercent, iso(r.timestamp)])).toEqual([
      [10, "2026-10-24T23:40:00.000Z"], // 01:40 CEST
      [11, "2026-10-25T00:00:00.000Z"], // 02:00 CEST, first pass
      [12, "2026-10-25T00:20:00.000Z"],
      [12, "2026-10-25T00:20:00.000Z"], // the repeated line: the same instant, not the second pass
      [13, "2026-10-25T00:40:00.000Z"],
      [21, "2026-10-25T01:00:00.000Z"], // 02:00 again: the clock went back, CET
      [22, "2026-10-25T01:20:00.000Z"],
      [23, "2026-10-25T01:40:00.000Z"],
      [30, "2026-10-25T02:00:00.000Z"], // 03:00 CET
    ]);
    expect(parsed.dst).toEqual({ skipped: 0, repeatedFirst: 4, repeatedSecond: 3 });
  });

  it("reads a one-line file from the second pass as the first pass (documented: it lands on a stored instant)", () => {
    const parsed = parseSeedCsv(fixture("dst/DST-01_2026-10-25_02-20-05_server_metrics.csv"), opts());
    expect(parsed.rows.map((r) => iso(r.timestamp))).toEqual(["2026-10-25T00:20:00.000Z"]);
  });

  it("reads the same file in another zone when told to", () => {
    const parsed = parseSeedCsv(fixture("dst/DST-01_2026-10-25_03-00-05_server_metrics.csv"), opts("UTC"));
    expect(iso(parsed.rows[1]!.timestamp)).toBe("2026-10-25T02:00:00.000Z");
    expect(parsed.dst).toEqual({ skipped: 0, repeatedFirst: 0, repeatedSecond: 0 });
    const ny = parseSeedCsv(
      fixture("dst/DST-01_2026-03-29_03-00-05_server_metrics.csv"),
      opts("America/New_York"),
    );
    // New York changed on 8 March: 01:40 EDT = 05:40Z.
    expect(iso(ny.rows[0]!.timestamp)).toBe("2026-03-29T05:40:00.000Z");
  });
});
