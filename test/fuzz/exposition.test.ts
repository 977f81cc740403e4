/**
 * Fuzz: the Prometheus text exposition parser and the node_exporter /
 * windows_exporter families (issue 27), which read whatever a scrape target
 * answers. Generated texts from the grammar with hostile names, labels,
 * escapes, values and timestamps; byte-level mutations of the two real
 * fixtures; and pathological sizes at the parser's caps. The property: the
 * parser returns samples or throws ExpositionError (nothing else), the
 * families never throw and give only finite, non-negative figures, each
 * text costs bounded time, and memory stays bounded over the run.
 */
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ExpositionError,
  type ExpositionLimits,
  parseExposition,
} from "../../src/central/ingest/interop/exposition.js";
import {
  groupsFromPromSamples,
  READ_FAMILIES,
} from "../../src/central/ingest/interop/prometheus-families.js";
import { hostileNumberText, hostileString } from "./arbitraries.js";
import { FUZZ_BUDGET, fuzzParams, retainedBytes } from "./harness.js";

const RUNS = FUZZ_BUDGET["exposition.test.ts"];
const NOW = Date.now();
const fixture = (name: string): string =>
  readFileSync(new URL(`../fixtures/interop/${name}`, import.meta.url), "utf8");
const FIXTURES = [fixture("node-exporter-1.5.0.prom"), fixture("windows-exporter-0.31.prom")];
/** The slowest a single text may parse and decode: the real fixture takes about a millisecond. */
const MAX_MS_PER_TEXT = 1_500;

let inputs = 0;
let refused = 0;
/** Texts that gave at least one group with a figure in it. */
let decoded = 0;

/** The property, for one text. */
function check(text: string, limits?: Partial<ExpositionLimits>): void {
  inputs += 1;
  const started = performance.now();
  let samples: ReturnType<typeof parseExposition>;
  try {
    samples = parseExposition(text, { defaultTimestampMs: NOW, ...(limits ? { limits } : {}) });
  } catch (err) {
    if (!(err instanceof ExpositionError)) throw err;
    expect(err.reason === "bad_body" || err.reason === "too_large").toBe(true);
    expect(err.message.length).toBeLessThan(400);
    refused += 1;
    expect(performance.now() - started).toBeLessThan(MAX_MS_PER_TEXT);
    return;
  }
  // Never more samples than lines.
  expect(samples.length).toBeLessThanOrEqual(text.split("\n").length);
  const { groups, seriesWithoutServer } = groupsFromPromSamples(samples, (labels) =>
    labels.instance === "nobody" ? null : "fuzz-01",
  );
  expect(seriesWithoutServer).toBeGreaterThanOrEqual(0);
  if (groups.some((g) => g.cpuCounters !== undefined || g.memory !== undefined || g.disks.length > 0))
    decoded += 1;
  for (const g of groups) {
    expect(g.server).toBe("fuzz-01");
    if (g.cpuCounters !== undefined) {
      expect(Number.isFinite(g.cpuCounters.idle) && g.cpuCounters.idle >= 0).toBe(true);
      expect(Number.isFinite(g.cpuCounters.total) && g.cpuCounters.total >= g.cpuCounters.idle).toBe(true);
    }
    if (g.memory !== undefined) {
      expect(g.memory.totalBytes).toBeGreaterThan(0);
      expect(g.memory.availableBytes).toBeGreaterThanOrEqual(0);
      expect(g.memory.availableBytes).toBeLessThanOrEqual(g.memory.totalBytes);
    }
    for (const d of g.disks) {
      for (const v of [d.totalBytes, d.usedBytes, d.freeBytes])
        expect(Number.isFinite(v) && v >= 0).toBe(true);
      expect(d.usedBytes).toBeLessThanOrEqual(d.totalBytes);
      expect(d.freeBytes).toBeLessThanOrEqual(d.totalBytes);
      expect(d.mount).not.toBe("");
    }
  }
  expect(performance.now() - started).toBeLessThan(MAX_MS_PER_TEXT);
}

const KNOWN_LABELS = [
  "cpu",
  "mode",
  "mountpoint",
  "fstype",
  "device",
  "core",
  "volume",
  "instance",
  "__proto__",
];
const KNOWN_VALUES = [
  "idle",
  "iowait",
  "user",
  "steal",
  "/",
  "ext4",
  "tmpfs",
  "C:",
  "HarddiskVolume1",
  "0,0",
  "nobody",
];
const escapeValue = (v: string): string =>
  v.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");

/**
 * One text. `wellFormed`: the grammar is kept (names valid, label values
 * escaped, TYPE lines valid) while the content is hostile (any characters
 * in label values, NaN, ±Inf, huge, negative and -0 values, any timestamps),
 * so most texts reach the families. Otherwise anything goes: bad names,
 * unescaped values, bad numbers and types, so the parser's refusals run.
 */
function textArbitrary(wellFormed: boolean): fc.Arbitrary<string> {
  const familyName = wellFormed
    ? fc.oneof(
        { weight: 5, arbitrary: fc.constantFrom(...READ_FAMILIES) },
        { weight: 1, arbitrary: fc.constantFrom("node_load1", "go_goroutines", "up", "a:b_c", "_x") },
      )
    : fc.oneof(fc.constantFrom(...READ_FAMILIES), hostileString(20));
  const labelName = wellFormed
    ? fc.constantFrom(...KNOWN_LABELS)
    : fc.oneof(fc.constantFrom(...KNOWN_LABELS), hostileString(8));
  const labelValue = fc.oneof(
    fc.constantFrom(...KNOWN_VALUES),
    hostileString(30),
    fc.string({ unit: fc.constantFrom("\\", '"', "n", "\\n", '\\"', "\\\\"), maxLength: 20 }),
  );
  const value = wellFormed
    ? fc.oneof(
        { weight: 4, arbitrary: fc.nat().map(String) },
        { weight: 2, arbitrary: fc.double({ min: 0, noNaN: true }).map(String) },
        { weight: 1, arbitrary: fc.double().map(String) },
        {
          weight: 1,
          arbitrary: fc.constantFrom("NaN", "+Inf", "-Inf", "inf", "1e308", "-1e308", "-0", "4.2e-320"),
        },
      )
    : fc.oneof(
        fc.double().map(String),
        fc.constantFrom("1e999", "0x1p3", "1_0", "", "--1"),
        hostileNumberText,
      );
  const timestamp = wellFormed
    ? fc.oneof(
        fc.constant(""),
        fc.integer().map((n) => ` ${n}`),
        fc.constantFrom(" 9007199254740991", " -1"),
      )
    : fc.constantFrom("", " 9007199254740993", " 1.5", " 1e3", " 99999999999999999999", " x");
  const sampleLine = fc
    .tuple(
      familyName,
      wellFormed
        ? fc.uniqueArray(fc.tuple(labelName, labelValue), { maxLength: 6, selector: ([k]) => k })
        : fc.array(fc.tuple(labelName, labelValue), { maxLength: 6 }),
      fc.boolean(),
      fc.constantFrom(" ", "\t", "  "),
      value,
      timestamp,
    )
    .map(([name, labels, trailingComma, sep, v, ts]) => {
      const body = labels.map(([k, val]) => `${k}="${wellFormed ? escapeValue(val) : val}"`).join(",");
      const braces = labels.length > 0 ? `{${body}${trailingComma ? "," : ""}}` : trailingComma ? "{}" : "";
      return `${name}${braces}${sep}${v}${ts}`;
    });
  const commentLine = fc.oneof(
    fc.tuple(familyName, hostileString(40)).map(([n, h]) => `# HELP ${n} ${h.replaceAll("\n", " ")}`),
    hostileString(30).map((s) => `#${s.replaceAll("\n", " ").replace(/^[ \t]*(HELP|TYPE)/, "")}`),
    fc.constant("# EOF"),
    ...(wellFormed
      ? []
      : [fc.tuple(familyName, fc.constantFrom("counter", "info", "")).map(([n, t]) => `# TYPE ${n} ${t}`)]),
  );
  // A whole family's lines (one cpu's modes, a memory pair, a filesystem's three sizes, a volume's two), so
  // well-formed texts hold complete families whose figures the decoder must keep finite and in range.
  const line = (name: string, labels: Record<string, string>, v: string) =>
    `${name}{${Object.entries(labels)
      .map(([k, x]) => `${k}="${escapeValue(x)}"`)
      .join(",")}} ${v}`;
  const record = fc.oneof(
    fc
      .tuple(fc.nat(64), fc.array(value, { minLength: 8, maxLength: 8 }))
      .map(([cpu, vs]) =>
        ["idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"]
          .map((mode, i) => line("node_cpu_seconds_total", { cpu: String(cpu), mode }, vs[i] ?? "0"))
          .join("\n"),
      ),
    fc
      .tuple(value, value)
      .map(([t, a]) => `node_memory_MemTotal_bytes ${t}\nnode_memory_MemAvailable_bytes ${a}`),
    fc
      .tuple(
        fc.oneof(fc.constantFrom("/", "/data", "C:"), labelValue),
        fc.constantFrom("ext4", "xfs", "tmpfs", "overlay"),
        value,
        value,
        value,
      )
      .map(([mountpoint, fstype, size, avail, free]) =>
        [
          line("node_filesystem_size_bytes", { device: "/dev/sda1", fstype, mountpoint }, size),
          line("node_filesystem_avail_bytes", { device: "/dev/sda1", fstype, mountpoint }, avail),
          line("node_filesystem_free_bytes", { device: "/dev/sda1", fstype, mountpoint }, free),
        ].join("\n"),
      ),
    fc
      .tuple(fc.oneof(fc.constantFrom("C:", "d:", "HarddiskVolume1"), labelValue), value, value)
      .map(([volume, size, free]) =>
        [
          line("windows_logical_disk_size_bytes", { volume }, size),
          line("windows_logical_disk_free_bytes", { volume }, free),
        ].join("\n"),
      ),
    fc
      .tuple(fc.nat(8), value, value)
      .map(([core, idle, user]) =>
        [
          line("windows_cpu_time_total", { core: `0,${core}`, mode: "idle" }, idle),
          line("windows_cpu_time_total", { core: `0,${core}`, mode: "user" }, user),
        ].join("\n"),
      ),
  );
  return fc
    .tuple(
      fc.array(
        fc.oneof(
          { weight: wellFormed ? 4 : 0, arbitrary: record },
          { weight: 6, arbitrary: sampleLine },
          { weight: 1, arbitrary: commentLine },
          { weight: 1, arbitrary: fc.constant("") },
        ),
        { maxLength: 40 },
      ),
      fc.constantFrom("\n", "\r\n", "\n\n"),
    )
    .map(([lines, eol]) => lines.join("\n").replaceAll("\n", eol));
}

/** A fixture with byte-level damage: inserted, deleted, replaced characters, a cut, a repeated slice. */
const mutatedFixture = fc
  .tuple(
    fc.constantFrom(0, 1),
    fc.array(
      fc.tuple(
        fc.constantFrom("insert", "delete", "replace", "cut", "repeat"),
        fc.nat(),
        fc.oneof(hostileString(4), fc.constantFrom("{", "}", '"', "\\", "\n", "=", ",", " ", "#")),
      ),
      { minLength: 1, maxLength: 12 },
    ),
  )
  .map(([which, edits]) => {
    let t = FIXTURES[which] ?? "";
    for (const [kind, at, s] of edits) {
      const i = at % Math.max(1, t.length);
      if (kind === "insert") t = t.slice(0, i) + s + t.slice(i);
      else if (kind === "delete") t = t.slice(0, i) + t.slice(i + 1 + (at % 20));
      else if (kind === "replace") t = t.slice(0, i) + s + t.slice(i + s.length);
      else if (kind === "cut") t = t.slice(0, i);
      else t = t.slice(0, i) + t.slice(i, i + 200).repeat(1 + (at % 5)) + t.slice(i);
    }
    return t;
  });

const SMALL_LIMITS: ExpositionLimits = {
  maxChars: 200_000,
  maxLines: 2_000,
  maxLineChars: 4_096,
  maxLabels: 16,
};
/** Shapes at and past the caps: long lines, many lines, many labels, runs of one hostile character. */
const pathological = fc
  .tuple(
    fc.constantFrom("line", "lines", "labels", "run", "escapes"),
    fc.integer({ min: 1, max: 3 }),
    fc.constantFrom("\\", "{", '"', ",", "=", " ", "a", "\n", "#"),
  )
  .map(([shape, scale, ch]) => {
    const k = (n: number) => Math.round((n * scale) / 2);
    switch (shape) {
      case "line":
        return `m{a="${"x".repeat(k(4_100))}"} 1`;
      case "lines":
        return "node_memory_MemTotal_bytes 1\n".repeat(k(2_001));
      case "labels":
        return `m{${Array.from({ length: k(17) }, (_, i) => `l${i}="${i}"`).join(",")}} 1`;
      case "run":
        return ch.repeat(k(150_000));
      default:
        return `m{a="${"\\\\".repeat(k(2_000))}"} 1`;
    }
  });

describe("fuzz: exposition text and families", () => {
  const start = retainedBytes();

  it(`well-formed texts with hostile label values, values and timestamps (${RUNS.texts})`, () => {
    fc.assert(
      fc.property(textArbitrary(true), (t) => check(t)),
      fuzzParams("exposition/texts", RUNS.texts),
    );
  }, 120_000);

  it(`texts breaking the grammar: names, escapes, numbers, types (${RUNS.broken})`, () => {
    fc.assert(
      fc.property(textArbitrary(false), (t) => check(t)),
      fuzzParams("exposition/broken", RUNS.broken),
    );
  }, 120_000);

  it(`the real fixtures with byte-level damage (${RUNS.mutations})`, () => {
    fc.assert(
      fc.property(mutatedFixture, (t) => check(t)),
      fuzzParams("exposition/mutations", RUNS.mutations),
    );
  }, 120_000);

  it(`sizes at and past the caps, under small limits and the defaults (${RUNS.sizes})`, () => {
    fc.assert(
      fc.property(pathological, (t) => {
        check(t, SMALL_LIMITS);
        check(t);
      }),
      fuzzParams("exposition/sizes", RUNS.sizes),
    );
    // Past the defaults: refused on length before any work.
    const started = performance.now();
    expect(() => parseExposition("x".repeat(16 * 1024 * 1024 + 1), { defaultTimestampMs: NOW })).toThrow(
      ExpositionError,
    );
    expect(performance.now() - started).toBeLessThan(500);
  }, 120_000);

  it("sent its budget, refused some and read some, kept memory bounded", () => {
    const budget = Object.values(RUNS).reduce((a: number, b: number) => a + b, 0);
    console.info(`[fuzz] exposition: ${inputs} texts, ${refused} refused, ${decoded} decoded into figures`);
    expect(inputs).toBeGreaterThanOrEqual(budget);
    expect(refused).toBeGreaterThan(0);
    // Most well-formed texts reach the families' figures, not only their refusals.
    expect(decoded).toBeGreaterThan(RUNS.texts / 3);
    expect(retainedBytes() - start).toBeLessThan(64 * 2 ** 20);
  });
});
