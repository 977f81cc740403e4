/**
 * ExportMetricsServiceRequest in protobuf (OTLP/HTTP, application/x-protobuf)
 * to ./otlp-model.ts, by the field numbers of opentelemetry/proto
 * (collector/metrics/v1/metrics_service.proto, metrics/v1/metrics.proto,
 * common/v1/common.proto, resource/v1/resource.proto). Unknown fields are
 * skipped, as protobuf requires; malformed bytes throw OtlpDecodeError.
 */
import {
  FLAG_NO_RECORDED_VALUE,
  nanosToMs,
  OtlpDecodeError,
  type OtlpMetric,
  type OtlpNumberPoint,
  type OtlpResource,
  type WantedMetric,
} from "./otlp-model.js";
import { ProtobufError, ProtoReader, ProtoWriter, WireType } from "./protobuf.js";

export function decodeOtlpProtobuf(body: Uint8Array, wanted: WantedMetric): OtlpResource[] {
  try {
    const request = new ProtoReader(body);
    const resources: OtlpResource[] = [];
    for (const { field, wireType } of request.keys()) {
      // ExportMetricsServiceRequest.resource_metrics = 1
      if (field === 1)
        resources.push(resourceMetrics(message(request, wireType, "resource_metrics"), wanted));
      else request.skip(wireType);
    }
    return resources;
  } catch (err) {
    if (err instanceof ProtobufError) throw new OtlpDecodeError(`malformed protobuf: ${err.detail}`);
    throw err;
  }
}

/** A field's value as the type its schema says (a field of another wire type is malformed). */
function message(r: ProtoReader, wireType: number, what: string): ProtoReader {
  r.expect(WireType.lengthDelimited, wireType, what);
  return r.message();
}

function text(r: ProtoReader, wireType: number, what: string): string {
  r.expect(WireType.lengthDelimited, wireType, what);
  return r.lossyString();
}

function varint(r: ProtoReader, wireType: number, what: string): bigint {
  r.expect(WireType.varint, wireType, what);
  return r.uint64();
}

/** The reader, once the field is known to be a fixed64 (double, fixed64 or sfixed64 follow). */
function fixed64(r: ProtoReader, wireType: number, what: string): ProtoReader {
  r.expect(WireType.fixed64, wireType, what);
  return r;
}

function resourceMetrics(rm: ProtoReader, wanted: WantedMetric): OtlpResource {
  const resource: OtlpResource = { attributes: new Map(), metrics: [] };
  for (const { field, wireType } of rm.keys()) {
    if (field === 1) {
      // ResourceMetrics.resource = 1; Resource.attributes = 1
      const r = message(rm, wireType, "resource");
      for (const a of r.keys()) {
        if (a.field === 1) keyValue(message(r, a.wireType, "resource attribute"), resource.attributes);
        else r.skip(a.wireType);
      }
    } else if (field === 2) {
      // ResourceMetrics.scope_metrics = 2; ScopeMetrics.metrics = 2
      const s = message(rm, wireType, "scope_metrics");
      for (const m of s.keys()) {
        if (m.field === 2) resource.metrics.push(metric(message(s, m.wireType, "metric"), wanted));
        else s.skip(m.wireType);
      }
    } else rm.skip(wireType);
  }
  return resource;
}

/** Metric: name = 1, gauge = 5, sum = 7 (histogram 9, exponential_histogram 10, summary 11 are not read). */
function metric(m: ProtoReader, wanted: WantedMetric): OtlpMetric {
  let name = "";
  // The data is read only when the metric is wanted: the others cost one pass over their bytes.
  let data: { kind: "gauge" | "sum"; reader: ProtoReader } | null = null;
  let other = false;
  for (const { field, wireType } of m.keys()) {
    if (field === 1) name = text(m, wireType, "metric name");
    else if (field === 5) data = { kind: "gauge", reader: message(m, wireType, "gauge") };
    else if (field === 7) data = { kind: "sum", reader: message(m, wireType, "sum") };
    else {
      if (field === 9 || field === 10 || field === 11) other = true;
      m.skip(wireType);
    }
  }
  const out: OtlpMetric = { name, kind: data?.kind ?? "other", temporality: 0, points: [] };
  if (data === null || other || !wanted(name)) return out;
  // Gauge.data_points = 1; Sum.data_points = 1, aggregation_temporality = 2
  const d = data.reader;
  for (const { field, wireType } of d.keys()) {
    if (field === 1) out.points.push(numberPoint(message(d, wireType, "data point")));
    else if (field === 2 && data.kind === "sum") out.temporality = Number(varint(d, wireType, "temporality"));
    else d.skip(wireType);
  }
  return out;
}

/** NumberDataPoint: attributes = 7, start_time_unix_nano = 2, time_unix_nano = 3, as_double = 4, as_int = 6, flags = 8. */
function numberPoint(p: ProtoReader): OtlpNumberPoint {
  const point: OtlpNumberPoint = { attributes: new Map(), startMs: 0, timeMs: 0, value: null };
  let flags = 0n;
  for (const { field, wireType } of p.keys()) {
    switch (field) {
      case 7:
        keyValue(message(p, wireType, "point attribute"), point.attributes);
        break;
      case 2:
        point.startMs = nanosToMs(fixed64(p, wireType, "start_time_unix_nano").fixed64());
        break;
      case 3:
        point.timeMs = nanosToMs(fixed64(p, wireType, "time_unix_nano").fixed64());
        break;
      case 4:
        point.value = fixed64(p, wireType, "as_double").double();
        break;
      case 6:
        point.value = Number(fixed64(p, wireType, "as_int").sfixed64());
        break;
      case 8:
        flags = varint(p, wireType, "flags");
        break;
      default:
        p.skip(wireType);
    }
  }
  if ((flags & BigInt(FLAG_NO_RECORDED_VALUE)) !== 0n) point.value = null;
  return point;
}

/** KeyValue: key = 1, value = 2 (AnyValue: string 1, bool 2, int 3, double 4; array 5, kvlist 6, bytes 7 left out). */
function keyValue(kv: ProtoReader, into: Map<string, string>): void {
  let key: string | null = null;
  let value: string | null = null;
  for (const { field, wireType } of kv.keys()) {
    if (field === 1) key = text(kv, wireType, "attribute key");
    else if (field === 2) {
      const v = message(kv, wireType, "attribute value");
      for (const f of v.keys()) {
        if (f.field === 1) value = text(v, f.wireType, "string_value");
        else if (f.field === 2) value = varint(v, f.wireType, "bool_value") === 0n ? "false" : "true";
        else if (f.field === 3) value = BigInt.asIntN(64, varint(v, f.wireType, "int_value")).toString();
        else if (f.field === 4) value = String(fixed64(v, f.wireType, "double_value").double());
        else v.skip(f.wireType);
      }
    } else kv.skip(wireType);
  }
  if (key !== null && value !== null) into.set(key, value);
}

/**
 * ExportMetricsServiceResponse: empty when everything was accepted, else
 * partial_success = 1 { rejected_data_points = 1 (int64), error_message = 2 }.
 */
export function encodeOtlpResponse(
  partial: { rejectedDataPoints: number; errorMessage: string } | null,
): Buffer {
  if (partial === null) return Buffer.alloc(0);
  const inner = new ProtoWriter();
  if (partial.rejectedDataPoints > 0) inner.varint(1, partial.rejectedDataPoints);
  if (partial.errorMessage !== "") inner.string(2, partial.errorMessage);
  return new ProtoWriter().bytes(1, inner.finish()).finish();
}

/** google.rpc.Status { code = 1 (int32), message = 2 }: the body of an OTLP/HTTP protobuf error answer. */
export function encodeRpcStatus(code: number, message: string): Buffer {
  return new ProtoWriter().varint(1, code).string(2, message).finish();
}
