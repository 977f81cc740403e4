import { InputError } from "../../../errors.js";

/**
 * A minimal reader of the protobuf wire format (protobuf.dev/programming-guides/encoding):
 * enough to walk a message field by field, read varints, int64, doubles and
 * length-delimited fields, and skip the fields a decoder does not know.
 * Every read is bounds-checked against the end of the message being read,
 * so a length that points past its parent, a varint cut off or longer than
 * 10 bytes, or a group (wire types 3/4, which nothing we read uses) is an
 * InputError (reason bad_body), never a read out of bounds or a hang:
 * every step consumes at least one byte.
 */

export const WireType = { varint: 0, fixed64: 1, lengthDelimited: 2, fixed32: 5 } as const;

export function malformedProtobuf(detail: string): InputError {
  return new InputError(`body is not a valid protobuf message: ${detail}`, { reason: "bad_body" });
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

export class ProtoReader {
  private pos: number;
  private readonly view: DataView;

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

  /** The next field's key: its number (≥ 1) and wire type. */
  key(): { field: number; wireType: number } {
    const at = this.pos;
    const key = this.uint();
    const field = Math.floor(key / 8);
    if (field === 0 || field > 0x1fff_ffff)
      throw malformedProtobuf(`invalid field number ${field} at byte ${at}`);
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
        let big = 0n;
        for (let i = this.pos - 1; i >= at; i--) big = (big << 7n) | BigInt(this.buf[i]! & 0x7f);
        return Number(BigInt.asIntN(64, big));
      }
    }
    throw malformedProtobuf(`the varint at byte ${at} is longer than 10 bytes`);
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
    if (length > this.end - this.pos) {
      throw malformedProtobuf(
        `the field at byte ${at} declares ${length} bytes, past the end of its message`,
      );
    }
    const start = this.pos;
    this.pos += length;
    return this.buf.subarray(start, start + length);
  }

  /** A length-delimited field as a reader of its own (an embedded message). */
  message(): ProtoReader {
    const at = this.pos;
    const length = this.uint();
    if (length > this.end - this.pos) {
      throw malformedProtobuf(
        `the message at byte ${at} declares ${length} bytes, past the end of its parent`,
      );
    }
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
}
