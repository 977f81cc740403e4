import { InputError } from "../../../errors.js";
import type { PromSample } from "./prometheus-families.js";
import { malformedProtobuf, ProtoReader, WireType } from "./protobuf.js";

/**
 * Prometheus remote_write 1.0: the `prometheus.WriteRequest` message
 * (prometheus/prompb/remote.proto, types.proto) as PromSamples.
 *
 *   WriteRequest { repeated TimeSeries timeseries = 1; repeated MetricMetadata metadata = 3; }
 *   TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; … exemplars = 3, histograms = 4 }
 *   Label        { string name = 1; string value = 2; }
 *   Sample       { double value = 1; int64 timestamp = 2; }   // timestamp in ms
 *
 * Metadata, exemplars, native histograms and any other field are skipped.
 * Stale markers (the NaN Prometheus writes when a series disappears) are
 * dropped: they are no measurement. A series without `__name__` is ignored,
 * as an unknown family would be.
 */

export interface RemoteWriteBatch {
  /**
   * The samples kept: `name` is the `__name__` label, `labels` every other
   * label (a null-prototype object, shared by a series' samples: a label may
   * be called `__proto__`).
   */
  samples: PromSample[];
  /** Time series in the request (0 for a metadata-only request). */
  series: number;
  /** Stale markers dropped. */
  staleMarkers: number;
  /** Series without a `__name__` label, ignored. */
  unnamedSeries: number;
}

/**
 * Samples one request may carry. Prometheus sends at most
 * queue_config.max_samples_per_send (500 in 2.42, 2,000 later) per request;
 * this bounds the objects one body makes, whatever it declares.
 */
export const MAX_REMOTE_WRITE_SAMPLES = 100_000;

/** The stale marker's bits (prometheus/model/value.StaleNaN). */
const STALE_NAN_HI = 0x7ff0_0000;
const STALE_NAN_LO = 0x0000_0002;

/** The samples of a decoded (uncompressed) WriteRequest; malformed input is an InputError (reason bad_body). */
export function decodeWriteRequest(
  body: Uint8Array,
  maxSamples: number = MAX_REMOTE_WRITE_SAMPLES,
): RemoteWriteBatch {
  const batch: RemoteWriteBatch = { samples: [], series: 0, staleMarkers: 0, unnamedSeries: 0 };
  const request = new ProtoReader(body);
  const budget = { left: maxSamples, max: maxSamples };
  while (!request.done) {
    const { field, wireType } = request.key();
    if (field !== 1) {
      request.skip(wireType);
      continue;
    }
    request.expect(WireType.lengthDelimited, wireType, "WriteRequest.timeseries");
    batch.series++;
    readTimeSeries(request.message(), batch, budget);
  }
  return batch;
}

/** Appends one TimeSeries' samples to the batch, counting them against the request's budget. */
function readTimeSeries(
  series: ProtoReader,
  batch: RemoteWriteBatch,
  budget: { left: number; max: number },
): void {
  const labels: Record<string, string> = Object.create(null);
  let name: string | undefined;
  // Labels may follow samples on the wire: keep the samples until the series is read.
  const values: number[] = [];
  const timestamps: number[] = [];
  let stale = 0;
  while (!series.done) {
    const { field, wireType } = series.key();
    if (field === 1) {
      series.expect(WireType.lengthDelimited, wireType, "TimeSeries.labels");
      const label = readLabel(series.message());
      if (label.name === "__name__") name = label.value;
      else labels[label.name] = label.value;
    } else if (field === 2) {
      series.expect(WireType.lengthDelimited, wireType, "TimeSeries.samples");
      if (--budget.left < 0) {
        throw new InputError(
          `the request holds more than ${budget.max} samples; lower queue_config.max_samples_per_send`,
          { status: 413, reason: "too_large" },
        );
      }
      const sample = series.message();
      let value = 0;
      let timestampMs = 0;
      let isStale = false;
      while (!sample.done) {
        const key = sample.key();
        if (key.field === 1) {
          sample.expect(WireType.fixed64, key.wireType, "Sample.value");
          const bits = sample.peekFixed64Bits();
          isStale = bits.hi === STALE_NAN_HI && bits.lo === STALE_NAN_LO;
          value = sample.double();
        } else if (key.field === 2) {
          sample.expect(WireType.varint, key.wireType, "Sample.timestamp");
          timestampMs = sample.int64();
        } else sample.skip(key.wireType);
      }
      if (isStale) stale++;
      else {
        values.push(value);
        timestamps.push(timestampMs);
      }
    } else series.skip(wireType);
  }
  batch.staleMarkers += stale;
  if (name === undefined || name === "") {
    batch.unnamedSeries++;
    return;
  }
  for (let i = 0; i < values.length; i++) {
    // One labels object per series: its samples share it (read-only from here on).
    batch.samples.push({ name, labels, value: values[i]!, timestampMs: timestamps[i]! });
  }
}

function readLabel(label: ProtoReader): { name: string; value: string } {
  let name = "";
  let value = "";
  while (!label.done) {
    const { field, wireType } = label.key();
    if (field === 1) {
      label.expect(WireType.lengthDelimited, wireType, "Label.name");
      name = label.string();
    } else if (field === 2) {
      label.expect(WireType.lengthDelimited, wireType, "Label.value");
      value = label.string();
    } else label.skip(wireType);
  }
  if (name === "") throw malformedProtobuf("a label has no name");
  return { name, value };
}
