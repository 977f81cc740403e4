/**
 * The Prometheus text exposition format 0.0.4 (what node_exporter and
 * windows_exporter answer on /metrics) → PromSamples.
 *
 * Grammar, one item a line (`\n`; a trailing `\r` is tolerated):
 *   # HELP name docstring          (escapes \\ and \n)
 *   # TYPE name counter|gauge|histogram|summary|untyped
 *   # anything else                (a comment)
 *   name[{label="value",...[,]}] value [timestamp_ms]
 * Label values escape \\, \" and \n. Values are Go floats, so NaN, +Inf,
 * -Inf and exponents; the timestamp is an integer count of ms. Spaces and
 * tabs separate tokens.
 *
 * Bounded: the text, its line count, each line's length and each sample's
 * label count are capped (ExpositionLimits), so a hostile or broken target
 * costs at most a few times its capped body. Every refusal is an
 * ExpositionError (reason bad_body, or too_large for a cap), naming the line.
 */
import { InputError } from "../../../errors.js";
import type { PromSample } from "./prometheus-families.js";

export interface ExpositionLimits {
  /** Characters of the whole text. */
  maxChars: number;
  /** Lines, comments and blank ones included. */
  maxLines: number;
  /** Characters of one line. */
  maxLineChars: number;
  /** Labels of one sample. */
  maxLabels: number;
}

export const DEFAULT_EXPOSITION_LIMITS: ExpositionLimits = {
  maxChars: 16 * 1024 * 1024,
  maxLines: 200_000,
  maxLineChars: 64 * 1024,
  maxLabels: 64,
};

/** The one error the parser throws: the text is not the 0.0.4 format, or is over a limit. */
export class ExpositionError extends InputError {
  constructor(message: string, tooLarge = false) {
    super(message, { reason: tooLarge ? "too_large" : "bad_body" });
  }
}

export interface ParseExpositionOptions {
  /** The instant of samples that carry no timestamp (the scrape's), epoch ms. */
  defaultTimestampMs: number;
  /** Give every sample `defaultTimestampMs`, even one whose line has a timestamp (still checked). */
  ignoreTimestamps?: boolean;
  /** Keep only samples of these names (the rest are still checked, then dropped). Default: every sample. */
  keepName?: (name: string) => boolean;
  limits?: Partial<ExpositionLimits>;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const FLOAT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const INT = /^[+-]?\d+$/;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);

/** Go's strconv.ParseFloat for the forms exporters write; null when it is none of them. */
export function parseGoFloat(token: string): number | null {
  const lower = token.toLowerCase();
  if (lower === "nan") return Number.NaN;
  if (lower === "+inf" || lower === "inf") return Number.POSITIVE_INFINITY;
  if (lower === "-inf") return Number.NEGATIVE_INFINITY;
  if (!FLOAT.test(token)) return null;
  return Number(token);
}

const isBlank = (c: string | undefined): boolean => c === " " || c === "\t";
const QUOTE = 34;
const BACKSLASH = 92;
/** [a-zA-Z0-9_] */
const isLabelNameChar = (c: number): boolean =>
  (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;

/** Parses one exposition text. Throws ExpositionError only. */
export function parseExposition(text: string, options: ParseExpositionOptions): PromSample[] {
  const limits = { ...DEFAULT_EXPOSITION_LIMITS, ...options.limits };
  if (text.length > limits.maxChars) {
    throw new ExpositionError(`the exposition text is over ${limits.maxChars} characters`, true);
  }
  const samples: PromSample[] = [];
  const typed = new Set<string>();
  let start = 0;
  let lineNo = 0;
  while (start < text.length) {
    let end = text.indexOf("\n", start);
    if (end === -1) end = text.length;
    lineNo += 1;
    if (lineNo > limits.maxLines) {
      throw new ExpositionError(`the exposition text has more than ${limits.maxLines} lines`, true);
    }
    if (end - start > limits.maxLineChars) {
      throw new ExpositionError(`line ${lineNo} is over ${limits.maxLineChars} characters`, true);
    }
    let line = text.slice(start, end);
    start = end + 1;
    if (line.endsWith("\r")) line = line.slice(0, -1);
    const trimmed = line.replace(/^[ \t]+/, "");
    if (trimmed === "") continue;
    if (trimmed.startsWith("#")) {
      parseComment(trimmed, lineNo, typed);
      continue;
    }
    const sample = parseSampleLine(trimmed, lineNo, limits.maxLabels, options.defaultTimestampMs);
    if (options.ignoreTimestamps === true) sample.timestampMs = options.defaultTimestampMs;
    if (options.keepName === undefined || options.keepName(sample.name)) samples.push(sample);
  }
  return samples;
}

function parseComment(line: string, lineNo: number, typed: Set<string>): void {
  const tokens = line
    .slice(1)
    .replace(/^[ \t]+/, "")
    .split(/[ \t]+/);
  const keyword = tokens[0];
  if (keyword !== "HELP" && keyword !== "TYPE") return;
  const name = tokens[1];
  if (name === undefined || !METRIC_NAME.test(name)) {
    throw new ExpositionError(`line ${lineNo}: # ${keyword} without a valid metric name`);
  }
  if (keyword === "TYPE") {
    const type = tokens[2];
    if (type === undefined || !TYPES.has(type) || tokens.length > 3) {
      throw new ExpositionError(`line ${lineNo}: # TYPE ${name} has an unknown type`);
    }
    if (typed.has(name)) throw new ExpositionError(`line ${lineNo}: a second # TYPE line for ${name}`);
    typed.add(name);
  }
}

/** `\\` → `\`, `\"` → `"`, `\n` → newline; any other escape is refused. */
function unescapeLabelValue(raw: string, lineNo: number, labelName: string): string {
  return raw.replace(/\\([\s\S]?)/g, (_m, next: string) => {
    if (next === "n") return "\n";
    if (next === "\\" || next === '"') return next;
    throw new ExpositionError(`line ${lineNo}: label ${labelName} has an unknown escape`);
  });
}

function parseSampleLine(line: string, lineNo: number, maxLabels: number, defaultTs: number): PromSample {
  let i = 0;
  while (i < line.length && line[i] !== "{" && !isBlank(line[i])) i += 1;
  const name = line.slice(0, i);
  if (!METRIC_NAME.test(name)) throw new ExpositionError(`line ${lineNo}: not a valid metric name`);
  const labels: Record<string, string> = Object.create(null) as Record<string, string>;
  let labelCount = 0;
  if (line[i] === "{") {
    i += 1;
    for (;;) {
      while (isBlank(line[i])) i += 1;
      if (line[i] === "}") {
        i += 1;
        break;
      }
      const nameStart = i;
      while (i < line.length && isLabelNameChar(line.charCodeAt(i))) i += 1;
      const labelName = line.slice(nameStart, i);
      if (!LABEL_NAME.test(labelName)) throw new ExpositionError(`line ${lineNo}: not a valid label name`);
      while (isBlank(line[i])) i += 1;
      if (line[i] !== "=") throw new ExpositionError(`line ${lineNo}: label ${labelName} without '='`);
      i += 1;
      while (isBlank(line[i])) i += 1;
      if (line[i] !== '"')
        throw new ExpositionError(`line ${lineNo}: label ${labelName}'s value is not quoted`);
      i += 1;
      // The closing quote is found first, without building anything; the escapes are then undone in one
      // native replace. Built a character at a time, a text of escapes took seconds per 10 MB, blocking
      // the event loop of the central that scrapes it.
      const valueStart = i;
      let closed = false;
      let escaped = false;
      while (i < line.length) {
        const c = line.charCodeAt(i);
        if (c === QUOTE) {
          closed = true;
          break;
        }
        if (c === BACKSLASH) {
          escaped = true;
          i += 2;
          continue;
        }
        i += 1;
      }
      if (!closed) throw new ExpositionError(`line ${lineNo}: label ${labelName}'s value is not closed`);
      const raw = line.slice(valueStart, i);
      i += 1;
      const value = escaped ? unescapeLabelValue(raw, lineNo, labelName) : raw;
      if (Object.hasOwn(labels, labelName)) {
        throw new ExpositionError(`line ${lineNo}: label ${labelName} appears twice`);
      }
      labelCount += 1;
      if (labelCount > maxLabels) {
        throw new ExpositionError(`line ${lineNo}: more than ${maxLabels} labels`, true);
      }
      labels[labelName] = value;
      while (isBlank(line[i])) i += 1;
      if (line[i] === ",") {
        i += 1;
        continue;
      }
      if (line[i] === "}") {
        i += 1;
        break;
      }
      throw new ExpositionError(`line ${lineNo}: expected ',' or '}' after label ${labelName}`);
    }
  }
  if (!isBlank(line[i])) throw new ExpositionError(`line ${lineNo}: no value after ${name}`);
  const rest = line
    .slice(i)
    .trim()
    .split(/[ \t]+/);
  if (rest.length > 2 || rest[0] === "")
    throw new ExpositionError(`line ${lineNo}: expected a value and an optional timestamp`);
  const value = parseGoFloat(rest[0] ?? "");
  if (value === null) throw new ExpositionError(`line ${lineNo}: ${name}'s value is not a number`);
  let timestampMs = defaultTs;
  const ts = rest[1];
  if (ts !== undefined) {
    const parsed = INT.test(ts) ? Number(ts) : Number.NaN;
    if (!Number.isSafeInteger(parsed))
      throw new ExpositionError(`line ${lineNo}: ${name}'s timestamp is not an integer of ms`);
    timestampMs = parsed;
  }
  return { name, labels: { ...labels }, value, timestampMs };
}
