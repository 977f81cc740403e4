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
import {
  asDouble,
  asFixed64,
  asInt64,
  asMessage,
  asSfixed64,
  asString,
  asVarint,
  WireError,
  WireWriter,
  wireFields,
} from "./otlp-wire.js";

export function decodeOtlpProtobuf(body: Uint8Array, wanted: WantedMetric): OtlpResource[] {
  try {
    const resources: OtlpResource[] = [];
    for (const f of wireFields(body)) {
      // ExportMetricsServiceRequest.resource_metrics = 1
      if (f.field === 1) resources.push(resourceMetrics(asMessage(f, "resource_metrics"), wanted));
    }
    return resources;
  } catch (err) {
    if (err instanceof WireError) throw new OtlpDecodeError(`malformed protobuf: ${err.message}`);
    throw err;
  }
}

function resourceMetrics(buf: Uint8Array, wanted: WantedMetric): OtlpResource {
  const resource: OtlpResource = { attributes: new Map(), metrics: [] };
  for (const f of wireFields(buf)) {
    if (f.field === 1) {
      // ResourceMetrics.resource = 1; Resource.attributes = 1
      for (const r of wireFields(asMessage(f, "resource"))) {
        if (r.field === 1) keyValue(asMessage(r, "resource attribute"), resource.attributes);
      }
    } else if (f.field === 2) {
      // ResourceMetrics.scope_metrics = 2; ScopeMetrics.metrics = 2
      for (const s of wireFields(asMessage(f, "scope_metrics"))) {
        if (s.field === 2) resource.metrics.push(metric(asMessage(s, "metric"), wanted));
      }
    }
  }
  return resource;
}

/** Metric: name = 1, gauge = 5, sum = 7 (histogram 9, exponential_histogram 10, summary 11 are not read). */
function metric(buf: Uint8Array, wanted: WantedMetric): OtlpMetric {
  let name = "";
  let data: { kind: "gauge" | "sum"; bytes: Uint8Array } | null = null;
  let other = false;
  for (const f of wireFields(buf)) {
    if (f.field === 1) name = asString(f, "metric name");
    else if (f.field === 5) data = { kind: "gauge", bytes: asMessage(f, "gauge") };
    else if (f.field === 7) data = { kind: "sum", bytes: asMessage(f, "sum") };
    else if (f.field === 9 || f.field === 10 || f.field === 11) other = true;
  }
  const out: OtlpMetric = { name, kind: data?.kind ?? "other", temporality: 0, points: [] };
  if (data === null || other || !wanted(name)) return out;
  // Gauge.data_points = 1; Sum.data_points = 1, aggregation_temporality = 2
  for (const f of wireFields(data.bytes)) {
    if (f.field === 1) out.points.push(numberPoint(asMessage(f, "data point")));
    else if (f.field === 2 && data.kind === "sum") out.temporality = Number(asVarint(f, "temporality"));
  }
  return out;
}

/** NumberDataPoint: attributes = 7, start_time_unix_nano = 2, time_unix_nano = 3, as_double = 4, as_int = 6, flags = 8. */
function numberPoint(buf: Uint8Array): OtlpNumberPoint {
  const point: OtlpNumberPoint = { attributes: new Map(), startMs: 0, timeMs: 0, value: null };
  let flags = 0n;
  for (const f of wireFields(buf)) {
    switch (f.field) {
      case 7:
        keyValue(asMessage(f, "point attribute"), point.attributes);
        break;
      case 2:
        point.startMs = nanosToMs(asFixed64(f, "start_time_unix_nano"));
        break;
      case 3:
        point.timeMs = nanosToMs(asFixed64(f, "time_unix_nano"));
        break;
      case 4:
        point.value = asDouble(f, "as_double");
        break;
      case 6:
        point.value = Number(asSfixed64(f, "as_int"));
        break;
      case 8:
        flags = asVarint(f, "flags");
        break;
    }
  }
  if ((flags & BigInt(FLAG_NO_RECORDED_VALUE)) !== 0n) point.value = null;
  return point;
}

/** KeyValue: key = 1, value = 2 (AnyValue: string 1, bool 2, int 3, double 4; array 5, kvlist 6, bytes 7 left out). */
function keyValue(buf: Uint8Array, into: Map<string, string>): void {
  let key: string | null = null;
  let value: string | null = null;
  for (const f of wireFields(buf)) {
    if (f.field === 1) key = asString(f, "attribute key");
    else if (f.field === 2) {
      for (const v of wireFields(asMessage(f, "attribute value"))) {
        if (v.field === 1) value = asString(v, "string_value");
        else if (v.field === 2) value = asVarint(v, "bool_value") === 0n ? "false" : "true";
        else if (v.field === 3) value = asInt64(v, "int_value").toString();
        else if (v.field === 4) value = String(asDouble(v, "double_value"));
      }
    }
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
  const inner = new WireWriter();
  if (partial.rejectedDataPoints > 0) inner.varint(1, partial.rejectedDataPoints);
  if (partial.errorMessage !== "") inner.string(2, partial.errorMessage);
  return new WireWriter().bytes(1, inner.finish()).finish();
}

/** google.rpc.Status { code = 1 (int32), message = 2 }: the body of an OTLP/HTTP protobuf error answer. */
export function encodeRpcStatus(code: number, message: string): Buffer {
  return new WireWriter().varint(1, code).string(2, message).finish();
}
