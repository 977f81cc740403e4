import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  ExpositionError,
  parseExposition,
  parseGoFloat,
} from "../../../src/central/ingest/interop/exposition.js";
import { groupsFromPromSamples } from "../../../src/central/ingest/interop/prometheus-families.js";

const NOW = Date.parse("2026-12-07T09:00:00Z");
const fixture = (name: string): string =>
  readFileSync(new URL(`../../fixtures/interop/${name}`, import.meta.url), "utf8");
const parse = (text: string) => parseExposition(text, { defaultTimestampMs: NOW });

describe("parseExposition: the 0.0.4 text format", () => {
  it("reads names, labels with escapes, HELP/TYPE lines, optional timestamps, NaN and ±Inf", () => {
    const text = [
      "# HELP http_requests_total The total number of HTTP requests.\\nSecond line \\\\ here",
      "# TYPE http_requests_total counter",
      'http_requests_total{method="post",code="200"} 1027 1395066363000',
      'http_requests_total{method="post",code="400"}    3   1395066363000',
      "# A comment that is neither HELP nor TYPE",
      "",
      'msdos_file_access_time_seconds{path="C:\\\\DIR\\\\FILE.TXT",error="Cannot find file:\\n\\"FILE.TXT\\""} 1.458255915e9',
      "metric_without_timestamp_and_labels 12.47",
      'something_weird{problem="division by zero"} +Inf -3982045',
      "nan_value NaN",
      "neg_inf\t-Inf",
      'trailing_comma{a="1",} 2',
      "empty_braces{} 3",
      "  indented 4\r",
    ].join("\n");
    const samples = parse(text);
    expect(samples.map((s) => [s.name, s.labels, s.value, s.timestampMs])).toEqual([
      ["http_requests_total", { method: "post", code: "200" }, 1027, 1395066363000],
      ["http_requests_total", { method: "post", code: "400" }, 3, 1395066363000],
      [
        "msdos_file_access_time_seconds",
        { path: "C:\\DIR\\FILE.TXT", error: 'Cannot find file:\n"FILE.TXT"' },
        1458255915,
        NOW,
      ],
      ["metric_without_timestamp_and_labels", {}, 12.47, NOW],
      ["something_weird", { problem: "division by zero" }, Number.POSITIVE_INFINITY, -3982045],
      ["nan_value", {}, Number.NaN, NOW],
      ["neg_inf", {}, Number.NEGATIVE_INFINITY, NOW],
      ["trailing_comma", { a: "1" }, 2, NOW],
      ["empty_braces", {}, 3, NOW],
      ["indented", {}, 4, NOW],
    ]);
  });

  it("reads Go's float forms", () => {
    expect(parseGoFloat("2.70553174016e+11")).toBe(270553174016);
    expect(parseGoFloat("1e-05")).toBe(0.00001);
    expect(parseGoFloat("-0")).toBe(-0);
    expect(parseGoFloat(".5")).toBe(0.5);
    expect(parseGoFloat("inf")).toBe(Number.POSITIVE_INFINITY);
    expect(parseGoFloat("0x10")).toBeNull();
    expect(parseGoFloat("1_000")).toBeNull();
    expect(parseGoFloat("")).toBeNull();
  });

  it.each([
    ["no value", "metric_a", "no value"],
    ["a bad name", "1metric 1", "not a valid metric name"],
    ["an unquoted label value", "m{a=1} 1", "not quoted"],
    ["an unclosed label value", 'm{a="1} 1', "not closed"],
    ["an unknown escape", 'm{a="\\t"} 1', "unknown escape"],
    ["a duplicate label", 'm{a="1",a="2"} 1', "appears twice"],
    ["a missing comma", 'm{a="1" b="2"} 1', "expected ',' or '}'"],
    ["a value that is not a number", "m one", "not a number"],
    ["a fractional timestamp", "m 1 1.5", "timestamp"],
    ["three tokens", "m 1 2 3", "optional timestamp"],
    ["a TYPE with an unknown type", "# TYPE m countr", "unknown type"],
    ["two TYPE lines", "# TYPE m gauge\n# TYPE m gauge", "line 3: a second # TYPE"],
  ])("refuses %s, naming the line", (_what, text, message) => {
    const lines = `ok 1\n${text}`;
    expect(() => parse(lines)).toThrow(ExpositionError);
    expect(() => parse(lines)).toThrow(/line [23]:/);
    expect(() => parse(lines)).toThrow(message);
  });

  it("is bounded: characters, lines, line length and labels", () => {
    const limits = { maxChars: 1000, maxLines: 10, maxLineChars: 100, maxLabels: 3 };
    const opts = { defaultTimestampMs: NOW, limits };
    const tooLarge = (text: string) => {
      try {
        parseExposition(text, opts);
      } catch (err) {
        return err instanceof ExpositionError ? err.reason : "other";
      }
      return "parsed";
    };
    expect(tooLarge("m 1\n".repeat(10))).toBe("parsed");
    expect(tooLarge("m 1\n".repeat(11))).toBe("too_large");
    expect(tooLarge("x".repeat(1001))).toBe("too_large");
    expect(tooLarge(`m{a="${"y".repeat(100)}"} 1`)).toBe("too_large");
    expect(tooLarge('m{a="1",b="2",c="3"} 1')).toBe("parsed");
    expect(tooLarge('m{a="1",b="2",c="3",d="4"} 1')).toBe("too_large");
    expect(tooLarge("m{a=1} 1")).toBe("bad_body");
  });

  it("gives every sample the default instant with ignoreTimestamps, still checking the timestamps", () => {
    const samples = parseExposition("a 1 1395066363000\nb 2", {
      defaultTimestampMs: NOW,
      ignoreTimestamps: true,
    });
    expect(samples.map((s) => s.timestampMs)).toEqual([NOW, NOW]);
    expect(() => parseExposition("a 1 1.5", { defaultTimestampMs: NOW, ignoreTimestamps: true })).toThrow(
      ExpositionError,
    );
  });

  it("keeps only the names asked for", () => {
    const samples = parseExposition("a 1\nb 2\na 3", { defaultTimestampMs: NOW, keepName: (n) => n === "a" });
    expect(samples.map((s) => s.value)).toEqual([1, 3]);
  });
});

describe("fixtures", () => {
  it("node_exporter 1.5.0's real output (captured on this machine) → one group with CPU, memory and /", () => {
    const text = fixture("node-exporter-1.5.0.prom");
    const samples = parse(text);
    // Every line that is not a comment is a sample.
    expect(samples).toHaveLength(text.split("\n").filter((l) => l !== "" && !l.startsWith("#")).length);
    const { groups, seriesWithoutServer } = groupsFromPromSamples(samples, () => "this-host");
    expect(seriesWithoutServer).toBe(0);
    expect(groups).toHaveLength(1);
    const g = groups[0];
    // The figures as the fixture's lines print them.
    expect(g?.cpuCounters?.idle).toBeCloseTo(232.39 + 5.79 + 170.12 + 23.17, 6);
    expect(g?.cpuCounters?.total).toBeCloseTo(
      232.39 + 5.79 + 1.34 + 92.68 + 285.78 + 170.12 + 23.17 + 4.68 + 146.3 + 275.22,
      6,
    );
    expect(g?.memory).toEqual({ totalBytes: 25_276_157_952, availableBytes: 23_811_547_136 });
    expect(g?.disks).toEqual([
      {
        mount: "/",
        fsType: "ext4",
        totalBytes: 270_553_174_016,
        usedBytes: 270_553_174_016 - 236_600_737_792,
        freeBytes: 74_991_857_664,
      },
    ]);
  });

  it("windows_exporter 0.31 → idle-only CPU over 4 cores, physical memory, C: and D: only", () => {
    const samples = parse(fixture("windows-exporter-0.31.prom"));
    const service = samples.find((s) => s.name === "windows_service_info");
    expect(service?.labels.path_name).toBe(
      '"C:\\Program Files\\windows_exporter\\windows_exporter.exe" --log.file eventlog',
    );
    const { groups } = groupsFromPromSamples(samples, () => "win-app-01");
    expect(groups).toHaveLength(1);
    const g = groups[0];
    expect(g?.cpuCounters).toEqual({
      idle: 163145.515625 + 171548.765625 + 172105.53125 + 172452.734375,
      total: (NOW / 1000) * 4,
      start: null,
      // One idle series per core.
      series: 4,
    });
    expect(g?.memory).toEqual({ totalBytes: 17_110_138_880, availableBytes: 9_130_381_312 });
    expect(g?.disks).toEqual([
      {
        mount: "C:",
        fsType: null,
        totalBytes: 255_465_615_360,
        usedBytes: 160_894_726_144,
        freeBytes: 94_570_889_216,
      },
      {
        mount: "D:",
        fsType: null,
        totalBytes: 1_000_186_310_656,
        usedBytes: 512_622_116_864,
        freeBytes: 487_564_193_792,
      },
    ]);
  });
});
