/**
 * An OTLP/JSON ExportMetricsServiceRequest (the shape of
 * test/fixtures/interop/otlp-hostmetrics.json) encoded as protobuf by the
 * field numbers of opentelemetry/proto, written independently of the
 * central's reader (src/central/ingest/interop/protobuf.ts). Shared by the
 * OTLP tests, the fuzz suite and bench/ingest/push-inputs.ts. Also the
 * fields of the central's protobuf answers (ExportMetricsServiceResponse,
 * google.rpc.Status), read with that reader: the answers are written by its
 * ProtoWriter, not read by it, so the reader checks the writer.
 */
import { ProtoReader, WireType } from "../../src/central/ingest/interop/protobuf.js";

type Json = Record<string, unknown>;

/** An OTLP/JSON ExportMetricsServiceRequest as protobuf bytes. */
export function otlpJsonToProtobuf(request: Json): Buffer {
  return message((w) => {
    for (const rm of (request.resourceMetrics ?? []) as Json[]) w.bytes(1, resourceMetrics(rm));
  });
}

function resourceMetrics(rm: Json): Buffer {
  return message((w) => {
    const resource = rm.resource as Json | undefined;
    if (resource !== undefined) {
      w.bytes(
        1,
        message((r) => attributes(r, 1, resource.attributes)),
      );
    }
    for (const sm of (rm.scopeMetrics ?? []) as Json[]) {
      w.bytes(
        2,
        message((s) => {
          const scope = sm.scope as Json | undefined;
          if (scope !== undefined)
            s.bytes(
              1,
              message((x) => x.string(1, String(scope.name ?? ""))),
            );
          for (const m of (sm.metrics ?? []) as Json[]) s.bytes(2, metric(m));
        }),
      );
    }
    if (typeof rm.schemaUrl === "string") w.string(3, rm.schemaUrl);
  });
}

function metric(m: Json): Buffer {
  return message((w) => {
    w.string(1, String(m.name));
    if (typeof m.description === "string") w.string(2, m.description);
    if (typeof m.unit === "string") w.string(3, m.unit);
    const gauge = m.gauge as Json | undefined;
    const sum = m.sum as Json | undefined;
    if (gauge !== undefined)
      w.bytes(
        5,
        message((g) => points(g, gauge.dataPoints)),
      );
    if (sum !== undefined) {
      w.bytes(
        7,
        message((s) => {
          points(s, sum.dataPoints);
          if (sum.aggregationTemporality !== undefined)
            s.varint(2, BigInt(Number(sum.aggregationTemporality)));
          if (sum.isMonotonic === true) s.varint(3, 1n);
        }),
      );
    }
  });
}

function points(w: Writer, dataPoints: unknown): void {
  for (const p of (dataPoints ?? []) as Json[]) {
    w.bytes(
      1,
      message((d) => {
        if (p.startTimeUnixNano !== undefined) d.fixed64(2, BigInt(p.startTimeUnixNano as string));
        if (p.timeUnixNano !== undefined) d.fixed64(3, BigInt(p.timeUnixNano as string));
        if (p.asDouble !== undefined) d.double(4, Number(p.asDouble));
        if (p.asInt !== undefined) d.fixed64(6, BigInt.asUintN(64, BigInt(p.asInt as string)));
        attributes(d, 7, p.attributes);
      }),
    );
  }
}

function attributes(w: Writer, field: number, list: unknown): void {
  for (const kv of (list ?? []) as Json[]) {
    const value = kv.value as Json;
    w.bytes(
      field,
      message((k) => {
        k.string(1, String(kv.key));
        k.bytes(
          2,
          message((v) => {
            if (typeof value.stringValue === "string") v.string(1, value.stringValue);
            else if (value.intValue !== undefined)
              v.varint(3, BigInt.asUintN(64, BigInt(String(value.intValue))));
          }),
        );
      }),
    );
  }
}

class Writer {
  readonly parts: Buffer[] = [];
  private key(field: number, wireType: number) {
    this.parts.push(varint(BigInt(field * 8 + wireType)));
  }
  varint(field: number, v: bigint) {
    this.key(field, 0);
    this.parts.push(varint(v));
  }
  fixed64(field: number, v: bigint) {
    this.key(field, 1);
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(v);
    this.parts.push(b);
  }
  double(field: number, v: number) {
    this.key(field, 1);
    const b = Buffer.alloc(8);
    b.writeDoubleLE(v);
    this.parts.push(b);
  }
  bytes(field: number, v: Buffer) {
    this.key(field, 2);
    this.parts.push(varint(BigInt(v.length)), v);
  }
  string(field: number, v: string) {
    this.bytes(field, Buffer.from(v, "utf8"));
  }
}

function message(fill: (w: Writer) => void): Buffer {
  const w = new Writer();
  fill(w);
  return Buffer.concat(w.parts);
}

function varint(value: bigint): Buffer {
  const out: number[] = [];
  let v = value;
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    out.push(byte);
  } while (v > 0n);
  return Buffer.from(out);
}

/** One field of an answer: its number and wire type, and its value as the wire type holds it. */
export interface AnswerField {
  field: number;
  wireType: number;
  /** A varint field's value; 0n for another wire type. */
  varint: bigint;
  /** A length-delimited field's bytes; empty for another wire type. */
  bytes: Uint8Array;
}

/** The fields of one answer message, in order (unknown wire types are skipped, values unread). */
export function wireFields(body: Uint8Array): AnswerField[] {
  const reader = new ProtoReader(body);
  const fields: AnswerField[] = [];
  for (const { field, wireType } of reader.keys()) {
    const f: AnswerField = { field, wireType, varint: 0n, bytes: new Uint8Array(0) };
    if (wireType === WireType.varint) f.varint = reader.uint64();
    else if (wireType === WireType.lengthDelimited) f.bytes = reader.bytes();
    else reader.skip(wireType);
    fields.push(f);
  }
  return fields;
}

/** A varint field's value; a field of another wire type fails the test. */
export function asVarint(f: AnswerField, what: string): bigint {
  if (f.wireType !== WireType.varint) throw new Error(`${what} (field ${f.field}) is not a varint`);
  return f.varint;
}

/** A string field's text; a field of another wire type fails the test. */
export function asString(f: AnswerField, what: string): string {
  if (f.wireType !== WireType.lengthDelimited) throw new Error(`${what} (field ${f.field}) is not a string`);
  return new TextDecoder("utf-8", { fatal: true }).decode(f.bytes);
}
