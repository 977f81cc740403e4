/**
 * ExportMetricsServiceRequest in OTLP/JSON (application/json) to
 * ./otlp-model.ts. The OTLP/JSON mapping: lowerCamelCase keys, 64-bit
 * integers as decimal strings (numbers accepted too), enums as integers
 * (their names accepted too). Unknown keys are ignored as the spec requires;
 * a known key of the wrong type is a 400 naming its path.
 */
import {
  FLAG_NO_RECORDED_VALUE,
  OtlpDecodeError,
  type OtlpMetric,
  type OtlpNumberPoint,
  type OtlpResource,
  TEMPORALITY,
  type WantedMetric,
} from "./otlp-model.js";

export function decodeOtlpJson(body: Buffer, wanted: WantedMetric): OtlpResource[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch (err) {
    throw new OtlpDecodeError(`body is not JSON: ${(err as Error).message.slice(0, 120)}`);
  }
  const request = object(parsed, "request");
  return array(request.resourceMetrics, "resourceMetrics").map((rm, i) =>
    resourceMetrics(object(rm, `resourceMetrics[${i}]`), `resourceMetrics[${i}]`, wanted),
  );
}

type Json = Record<string, unknown>;

function resourceMetrics(rm: Json, path: string, wanted: WantedMetric): OtlpResource {
  const resource: OtlpResource = { attributes: new Map(), metrics: [] };
  if (rm.resource !== undefined && rm.resource !== null) {
    const r = object(rm.resource, `${path}.resource`);
    attributes(r.attributes, `${path}.resource.attributes`, resource.attributes);
  }
  array(rm.scopeMetrics, `${path}.scopeMetrics`).forEach((sm, i) => {
    const scope = object(sm, `${path}.scopeMetrics[${i}]`);
    array(scope.metrics, `${path}.scopeMetrics[${i}].metrics`).forEach((m, j) => {
      const where = `${path}.scopeMetrics[${i}].metrics[${j}]`;
      resource.metrics.push(metric(object(m, where), where, wanted));
    });
  });
  return resource;
}

function metric(m: Json, path: string, wanted: WantedMetric): OtlpMetric {
  const name = m.name === undefined ? "" : string(m.name, `${path}.name`);
  const data = present(m.gauge) ? "gauge" : present(m.sum) ? "sum" : null;
  const out: OtlpMetric = { name, kind: data ?? "other", temporality: 0, points: [] };
  if (data === null || !wanted(name)) return out;
  const body = object(m[data], `${path}.${data}`);
  if (data === "sum" && present(body.aggregationTemporality)) {
    out.temporality = temporality(body.aggregationTemporality, `${path}.sum.aggregationTemporality`);
  }
  array(body.dataPoints, `${path}.${data}.dataPoints`).forEach((p, k) => {
    const where = `${path}.${data}.dataPoints[${k}]`;
    out.points.push(numberPoint(object(p, where), where));
  });
  return out;
}

function numberPoint(p: Json, path: string): OtlpNumberPoint {
  const point: OtlpNumberPoint = {
    attributes: new Map(),
    startMs: present(p.startTimeUnixNano) ? nanosMs(p.startTimeUnixNano, `${path}.startTimeUnixNano`) : 0,
    timeMs: present(p.timeUnixNano) ? nanosMs(p.timeUnixNano, `${path}.timeUnixNano`) : 0,
    value: null,
  };
  attributes(p.attributes, `${path}.attributes`, point.attributes);
  if (present(p.asDouble)) point.value = double(p.asDouble, `${path}.asDouble`);
  else if (present(p.asInt)) point.value = int64(p.asInt, `${path}.asInt`);
  const flags = present(p.flags) ? int64(p.flags, `${path}.flags`) : 0;
  if ((flags & FLAG_NO_RECORDED_VALUE) !== 0) point.value = null;
  return point;
}

function attributes(value: unknown, path: string, into: Map<string, string>): void {
  if (!present(value)) return;
  array(value, path).forEach((kv, i) => {
    const where = `${path}[${i}]`;
    const pair = object(kv, where);
    const key = string(pair.key, `${where}.key`);
    if (!present(pair.value)) return;
    const any = object(pair.value, `${where}.value`);
    if (present(any.stringValue)) into.set(key, string(any.stringValue, `${where}.value.stringValue`));
    else if (present(any.intValue)) into.set(key, String(int64(any.intValue, `${where}.value.intValue`)));
    else if (present(any.doubleValue))
      into.set(key, String(double(any.doubleValue, `${where}.value.doubleValue`)));
    else if (present(any.boolValue)) {
      if (typeof any.boolValue !== "boolean") throw bad(`${where}.value.boolValue`, "a boolean");
      into.set(key, String(any.boolValue));
    }
  });
}

function present(v: unknown): boolean {
  return v !== undefined && v !== null;
}

function object(v: unknown, path: string): Json {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw bad(path, "an object");
  return v as Json;
}

/** A repeated field: absent (or null) is empty. */
function array(v: unknown, path: string): unknown[] {
  if (!present(v)) return [];
  if (!Array.isArray(v)) throw bad(path, "an array");
  return v;
}

function string(v: unknown, path: string): string {
  if (typeof v !== "string") throw bad(path, "a string");
  return v;
}

/** double: a number, or the strings protobuf's JSON mapping allows for the non-finite ones. */
function double(v: unknown, path: string): number {
  if (typeof v === "number") return v;
  if (v === "NaN") return Number.NaN;
  if (v === "Infinity") return Number.POSITIVE_INFINITY;
  if (v === "-Infinity") return Number.NEGATIVE_INFINITY;
  throw bad(path, "a number");
}

/** int64/uint64/fixed64: a decimal string or an integral number. */
function int64(v: unknown, path: string): number {
  if (typeof v === "number" && Number.isInteger(v)) return v;
  if (typeof v === "string" && /^-?\d{1,20}$/.test(v)) return Number(v);
  throw bad(path, "an integer (a decimal string or a number)");
}

function nanosMs(v: unknown, path: string): number {
  if (typeof v === "string" && /^\d{1,20}$/.test(v)) return Number(BigInt(v) / 1_000_000n);
  if (typeof v === "number" && Number.isInteger(v) && v >= 0) return Math.floor(v / 1_000_000);
  throw bad(path, "nanoseconds since the epoch (a decimal string or a number)");
}

const TEMPORALITY_NAMES: Readonly<Record<string, number>> = {
  AGGREGATION_TEMPORALITY_UNSPECIFIED: TEMPORALITY.unspecified,
  AGGREGATION_TEMPORALITY_DELTA: TEMPORALITY.delta,
  AGGREGATION_TEMPORALITY_CUMULATIVE: TEMPORALITY.cumulative,
};

function temporality(v: unknown, path: string): number {
  if (typeof v === "number" && Number.isInteger(v)) return v;
  if (typeof v === "string" && v in TEMPORALITY_NAMES) return TEMPORALITY_NAMES[v]!;
  throw bad(path, "an AggregationTemporality (1 delta, 2 cumulative)");
}

function bad(path: string, expected: string): OtlpDecodeError {
  return new OtlpDecodeError(`${path.slice(0, 200)} must be ${expected}`);
}
