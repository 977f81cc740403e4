import { InputError } from "../../../errors.js";

/**
 * A minimal reader of the protobuf wire format (protobuf.dev/programming-guides/encoding),
 * the one both binary inputs use (remote_write, OTLP): enough to walk a
 * message field by field, read varints, int64, fixed64, doubles and
 * length-delimited fields, and skip the fields a decoder does not know.
 * Every read is bounds-checked against the end of the message being read,
 * so a length that points past its parent, a varint cut off or longer than
 * 10 bytes, or a group (wire types 3/4, which nothing we read uses) is an
 * InputError (reason bad_body), never a read out of bounds or a hang:
 * every step consumes at least one byte.
 */

export const WireType = { varint: 0, fixed64: 1, lengthDelimited: 2, fixed32: 5 } as const;

/** A malformed message; its own class so that OTLP can answer it in its words (`detail`). */
export class ProtobufError extends InputError {
  constructor(readonly detail: string) {
    super(`body is not a valid protobuf message: ${detail}`, { reason: "bad_body" });
  }
}

export function malformedProtobuf(detail: string): ProtobufError {
  return new ProtobufError(detail);
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
/** OTLP's names and attributes: invalid UTF-8 becomes U+FFFD (a name that is not UTF-8 never matches a family). */
const lossyUtf8 = new TextDecoder("utf-8", { fatal: false });

export class ProtoReader {
  private pos: number;
  private readonly view: DataView;
  /** The number of the field whose key was read last (0 before any): named in the errors. */
  private field = 0;

  constructor(
    private readonly buf: Uint8Array,
    start = 0,
    private readonly end = buf.length,
    view?: DataView,
  ) {
    if (start < 0 || end > buf.length || start > end)
      throw new RangeError("ProtoReader: range outside the buffer");
    this.pos = start;
    // One view per buffer: embedded messages share their parent's.
    this.view = view ?? new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  /** Whether the message has no more fields. */
  get done(): boolean {
    return this.pos >= this.end;
  }

  /** Where the reader is, for messages: byte offset in the buffer it reads. */
  get offset(): number {
    return this.pos;
  }

  /**
   * The keys of the fields left, in order: the loop's body reads each
   * field's value or skips it before the next key is read.
   */
  *keys(): Generator<{ field: number; wireType: number }> {
    while (!this.done) yield this.key();
  }

  /** The next field's key: its number (≥ 1) and wire type. */
  key(): { field: number; wireType: number } {
    const at = this.pos;
    const key = this.uint();
    const field = Math.floor(key / 8);
    if (field === 0 || field > 0x1fff_ffff)
      throw malformedProtobuf(`invalid field number ${field} at byte ${at}`);
    this.field = field;
    return { field, wireType: key % 8 };
  }

  /** An unsigned varint that a JS number holds exactly (a length, a key, a count). */
  uint(): number {
    const at = this.pos;
    let value = 0;
    for (let shift = 0; shift < 70; shift += 7) {
      if (this.pos >= this.end) throw malformedProtobuf(`a varint at byte ${at} is cut off`);
      const byte = this.buf[this.pos++]!;
      value += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) {
        if (value > Number.MAX_SAFE_INTEGER) throw malformedProtobuf(`the varint at byte ${at} is too large`);
        return value;
      }
    }
    throw malformedProtobuf(`the varint at byte ${at} is longer than 10 bytes`);
  }

  /** An int64 varint (two's complement), as the nearest number. */
  int64(): number {
    const at = this.pos;
    let value = 0;
    for (let shift = 0; shift < 70; shift += 7) {
      if (this.pos >= this.end) throw malformedProtobuf(`a varint at byte ${at} is cut off`);
      const byte = this.buf[this.pos++]!;
      value += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) {
        if (value <= Number.MAX_SAFE_INTEGER) return value;
        // Beyond 2^53 (a negative int64 is ~2^64): exactly, through BigInt.
        return Number(BigInt.asIntN(64, this.varintFrom(at)));
      }
    }
    throw malformedProtobuf(`the varint at byte ${at} is longer than 10 bytes`);
  }

  /**
   * A varint as an unsigned 64-bit bigint, every bit kept (flags, enums; an
   * int64 is BigInt.asIntN(64, …) of it). Bits past the 64th are dropped, as
   * protobuf's own parsers do.
   */
  uint64(): bigint {
    const at = this.pos;
    this.int64();
    return BigInt.asUintN(64, this.varintFrom(at));
  }

  /** A fixed64 as an unsigned bigint (OTLP's nanosecond timestamps). */
  fixed64(): bigint {
    this.need(8, "a fixed64");
    const value = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return value;
  }

  /** An sfixed64 as a signed bigint. */
  sfixed64(): bigint {
    this.need(8, "an sfixed64");
    const value = this.view.getBigInt64(this.pos, true);
    this.pos += 8;
    return value;
  }

  /** A fixed64 double. */
  double(): number {
    this.need(8, "a double");
    const value = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return value;
  }

  /** The upper and lower 32 bits of a fixed64, without consuming it (to tell NaN payloads apart). */
  peekFixed64Bits(): { hi: number; lo: number } {
    this.need(8, "a fixed64");
    return { lo: this.view.getUint32(this.pos, true), hi: this.view.getUint32(this.pos + 4, true) };
  }

  /** A length-delimited field's bytes (a view, not a copy). */
  bytes(): Uint8Array {
    const at = this.pos;
    const length = this.uint();
    if (length > this.end - this.pos) throw this.pastTheEnd(at, length, "the field", "message");
    const start = this.pos;
    this.pos += length;
    return this.buf.subarray(start, start + length);
  }

  /** A length-delimited field as a reader of its own (an embedded message). */
  message(): ProtoReader {
    const at = this.pos;
    const length = this.uint();
    if (length > this.end - this.pos) throw this.pastTheEnd(at, length, "the message", "parent");
    const reader = new ProtoReader(this.buf, this.pos, this.pos + length, this.view);
    this.pos += length;
    return reader;
  }

  /** A length-delimited field as UTF-8 text. */
  string(): string {
    const at = this.pos;
    const bytes = this.bytes();
    try {
      return utf8.decode(bytes);
    } catch {
      throw malformedProtobuf(`the string at byte ${at} is not valid UTF-8`);
    }
  }

  /** A length-delimited field as UTF-8 text, invalid sequences as U+FFFD rather than an error. */
  lossyString(): string {
    return lossyUtf8.decode(this.bytes());
  }

  /** Skips a field of the given wire type (a field this decoder does not know). */
  skip(wireType: number): void {
    switch (wireType) {
      case WireType.varint:
        this.int64();
        return;
      case WireType.fixed64:
        this.need(8, "a fixed64 field");
        this.pos += 8;
        return;
      case WireType.lengthDelimited:
        this.bytes();
        return;
      case WireType.fixed32:
        this.need(4, "a fixed32 field");
        this.pos += 4;
        return;
      default:
        throw malformedProtobuf(`unsupported wire type ${wireType} at byte ${this.pos}`);
    }
  }

  /** Fails unless the field has the wire type its schema gives it. */
  expect(wireType: number, actual: number, what: string): void {
    if (actual !== wireType) {
      throw malformedProtobuf(`${what} has wire type ${actual}, not ${wireType}, before byte ${this.pos}`);
    }
  }

  private need(bytes: number, what: string): void {
    if (this.end - this.pos < bytes) throw malformedProtobuf(`${what} at byte ${this.pos} is cut off`);
  }

  /** The unsigned value of the varint that starts at `at` and ends before the reader's position. */
  private varintFrom(at: number): bigint {
    let big = 0n;
    for (let i = this.pos - 1; i >= at; i--) big = (big << 7n) | BigInt(this.buf[i]! & 0x7f);
    return big;
  }

  /** A length past the end: named by its field's number once a key was read, else by its offset. */
  private pastTheEnd(at: number, length: number, what: string, container: string): ProtobufError {
    const remaining = this.end - this.pos;
    if (this.field !== 0) {
      return malformedProtobuf(
        `field ${this.field} claims ${length} bytes but only ${remaining} remain (at byte ${at}, past the end of its ${container})`,
      );
    }
    return malformedProtobuf(
      `${what} at byte ${at} declares ${length} bytes, past the end of its ${container}`,
    );
  }
}

/** Writes a message: only what the OTLP answers need (varint and length-delimited fields, nested messages). */
export class ProtoWriter {
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
      encodeVarint((BigInt(field) << 3n) | BigInt(WireType.lengthDelimited)),
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
