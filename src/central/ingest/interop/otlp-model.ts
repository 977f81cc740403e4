/**
 * What the OTLP decoders (./otlp-protobuf.ts for application/x-protobuf,
 * ./otlp-json.ts for application/json) keep of an ExportMetricsServiceRequest:
 * per resource its scalar attributes, and of the metrics whose names the
 * caller wants (the families ./otlp.ts reads) their number data points. The
 * other metrics are skipped without decoding their points, so a collector's
 * full hostmetrics export costs little more than the five families read.
 */

/** A request that is not a valid ExportMetricsServiceRequest: answered 400, nothing stored. */
export class OtlpDecodeError extends Error {}

export interface OtlpResource {
  /** Scalar attributes as text (string, int, double and bool values); arrays, maps and bytes are left out. */
  attributes: Map<string, string>;
  metrics: OtlpMetric[];
}

/** AggregationTemporality of a Sum (opentelemetry/proto/metrics/v1/metrics.proto). */
export const TEMPORALITY = { unspecified: 0, delta: 1, cumulative: 2 } as const;

export interface OtlpMetric {
  name: string;
  /** Gauge and Sum carry number points; histograms and summaries are not read ("other", no points kept). */
  kind: "gauge" | "sum" | "other";
  /** A Sum's aggregation temporality; 0 for a gauge. */
  temporality: number;
  points: OtlpNumberPoint[];
}

export interface OtlpNumberPoint {
  attributes: Map<string, string>;
  /** start_time_unix_nano, in ms; 0 when unset. */
  startMs: number;
  /** time_unix_nano, in ms; 0 when unset. */
  timeMs: number;
  /** as_double or as_int; null when the point has neither (or flags say no recorded value). */
  value: number | null;
}

/** DataPointFlags.FLAG_NO_RECORDED_VALUE: the point marks a gap, it has no value. */
export const FLAG_NO_RECORDED_VALUE = 1;

/** Nanoseconds since the epoch (as the wire gives them) to whole milliseconds. */
export function nanosToMs(nanos: bigint): number {
  return Number(nanos / 1_000_000n);
}

/** Which metrics to keep the points of; the others only count as seen. */
export type WantedMetric = (name: string) => boolean;
