/**
 * The protobuf wire format, as much of it as OTLP's metrics need: a
 * bounds-checked reader over one message's bytes and a tiny writer for the
 * answer. Private to OTLP (./otlp-protobuf.ts); the remote_write input has
 * its own reader. Every length and varint is checked against the bytes that
 * are really there, so a hostile body can only make the decoder throw a
 * WireError (a 400), never read past a buffer or allocate more than it holds.
 */

export class WireError extends Error {}

/** Wire types of protobuf (the deprecated groups 3 and 4 are refused). */
export const WIRE = { varint: 0, fixed64: 1, bytes: 2, fixed32: 5 } as const;

/** A varint holds 64 bits in at most 10 bytes; a longer one is malformed. */
const MAX_VARINT_BYTES = 10;

/** One field of a message: its number, wire type and where its value is. */
export interface WireField {
  field: number;
  wireType: number;
  /** varint fields: the value (as a bigint, for int64/uint64 without losing bits). */
  varint: bigint;
  /** bytes fields: the value's bytes (a view, not a copy); fixed64/fixed32: their 8/4 bytes. */
  bytes: Uint8Array;
}

/**
 * Iterates over the fields of one message. Unknown fields are the caller's to
 * skip (they simply are not asked for); a truncated or malformed field throws.
 */
export function* wireFields(buf: Uint8Array): Generator<WireField> {
  let pos = 0;
  while (pos < buf.length) {
    const [key, afterKey] = readSmallVarint(buf, pos, "field key");
    pos = afterKey;
    const field = Math.floor(key / 8);
    const wireType = key % 8;
    if (field === 0) throw new WireError(`field number 0 at byte ${pos}`);
    switch (wireType) {
      case WIRE.varint: {
        const [value, next] = readVarint(buf, pos);
        pos = next;
        yield { field, wireType, varint: value, bytes: EMPTY };
        break;
      }
      case WIRE.fixed64:
      case WIRE.fixed32: {
        const size = wireType === WIRE.fixed64 ? 8 : 4;
        if (pos + size > buf.length) throw new WireError(`fixed${size * 8} field ${field} is cut off`);
        yield { field, wireType, varint: 0n, bytes: buf.subarray(pos, pos + size) };
        pos += size;
        break;
      }
      case WIRE.bytes: {
        const [length, next] = readSmallVarint(buf, pos, `length of field ${field}`);
        if (length > buf.length - next) {
          throw new WireError(`field ${field} claims ${length} bytes but only ${buf.length - next} remain`);
        }
        const end = next + length;
        yield { field, wireType, varint: 0n, bytes: buf.subarray(next, end) };
        pos = end;
        break;
      }
      default:
        throw new WireError(`unsupported wire type ${wireType} (field ${field})`);
    }
  }
}

const EMPTY = new Uint8Array(0);

/** A varint that must fit 32 bits (keys and lengths), read without BigInt: the common case stays fast. */
function readSmallVarint(buf: Uint8Array, start: number, what: string): [number, number] {
  let result = 0;
  for (let i = 0; i < 5; i++) {
    const pos = start + i;
    if (pos >= buf.length) throw new WireError(`${what} cut off at byte ${pos}`);
    const byte = buf[pos]!;
    result += (byte & 0x7f) * 2 ** (7 * i);
    if ((byte & 0x80) === 0) {
      if (result > 0xffffffff) break;
      return [result, pos + 1];
    }
  }
  throw new WireError(`${what} out of range at byte ${start}`);
}

function readVarint(buf: Uint8Array, start: number): [bigint, number] {
  let result = 0n;
  let shift = 0n;
  for (let i = 0; i < MAX_VARINT_BYTES; i++) {
    const pos = start + i;
    if (pos >= buf.length) throw new WireError(`varint cut off at byte ${pos}`);
    const byte = buf[pos]!;
    result |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return [result & 0xffffffffffffffffn, pos + 1];
    shift += 7n;
  }
  throw new WireError(`varint longer than ${MAX_VARINT_BYTES} bytes at byte ${start}`);
}

/** A field's value as the type its schema says; a field of another wire type is malformed. */
export function asString(f: WireField, what: string): string {
  expectWire(f, WIRE.bytes, what);
  return UTF8.decode(f.bytes);
}

export function asMessage(f: WireField, what: string): Uint8Array {
  expectWire(f, WIRE.bytes, what);
  return f.bytes;
}

/** fixed64 as an unsigned 64-bit integer (nanosecond timestamps). */
export function asFixed64(f: WireField, what: string): bigint {
  expectWire(f, WIRE.fixed64, what);
  return view(f.bytes).getBigUint64(0, true);
}

/** sfixed64 as a signed 64-bit integer (NumberDataPoint.as_int). */
export function asSfixed64(f: WireField, what: string): bigint {
  expectWire(f, WIRE.fixed64, what);
  return view(f.bytes).getBigInt64(0, true);
}

export function asDouble(f: WireField, what: string): number {
  expectWire(f, WIRE.fixed64, what);
  return view(f.bytes).getFloat64(0, true);
}

/** int64 as varint, two's complement (AnyValue.int_value). */
export function asInt64(f: WireField, what: string): bigint {
  expectWire(f, WIRE.varint, what);
  return BigInt.asIntN(64, f.varint);
}

export function asVarint(f: WireField, what: string): bigint {
  expectWire(f, WIRE.varint, what);
  return f.varint;
}

function expectWire(f: WireField, wireType: number, what: string): void {
  if (f.wireType !== wireType) {
    throw new WireError(`${what} (field ${f.field}) has wire type ${f.wireType}, expected ${wireType}`);
  }
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Invalid UTF-8 becomes U+FFFD (protobuf strings must be UTF-8; names that are not never match a family). */
const UTF8 = new TextDecoder("utf-8", { fatal: false });

/** Writes a varint-keyed message: only what the OTLP answer needs (varint and string fields, nested messages). */
export class WireWriter {
  private readonly parts: Buffer[] = [];

  varint(field: number, value: bigint | number): this {
    this.parts.push(encodeVarint(BigInt(field) << 3n), encodeVarint(BigInt.asUintN(64, BigInt(value))));
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, Buffer.from(value, "utf8"));
  }

  bytes(field: number, value: Uint8Array): this {
    this.parts.push(
      encodeVarint((BigInt(field) << 3n) | BigInt(WIRE.bytes)),
      encodeVarint(BigInt(value.length)),
      Buffer.from(value),
    );
    return this;
  }

  finish(): Buffer {
    return Buffer.concat(this.parts);
  }
}

function encodeVarint(value: bigint): Buffer {
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
