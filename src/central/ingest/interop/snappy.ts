import { InputError } from "../../../errors.js";

/**
 * Decoder of snappy's BLOCK format (not the framed/stream format), the body
 * encoding of Prometheus remote_write 1.0. Written here instead of taken
 * from npm: the format is small (github.com/google/snappy, format_description.txt)
 * and a decoder for hostile input must check every length itself.
 *
 * A block is the uncompressed length as a varint, then elements: a literal
 * (tag low bits 00) copies bytes from the input, a copy (01, 10, 11) repeats
 * bytes already written, `offset` back. The declared length is checked
 * against the cap before anything is allocated, and the output is exactly
 * that long: no element may write past it, and it must be filled.
 */

/** Output bytes per input byte an element can give at most (64 from a 3-byte copy), rounded up. */
const MAX_EXPANSION = 22;

/** The first chunk of snappy's framed format (framing_format.txt): a client that sent that, not a block. */
const FRAMED_STREAM_IDENTIFIER = [0xff, 0x06, 0x00, 0x00, 0x73, 0x4e, 0x61, 0x50, 0x70, 0x59];

function startsWith(input: Uint8Array, prefix: readonly number[]): boolean {
  return input.length >= prefix.length && prefix.every((b, i) => input[i] === b);
}

/** A body that is not valid snappy block data (400, reason bad_body). */
export function malformedSnappy(detail: string): InputError {
  return new InputError(`body is not valid snappy (block format) data: ${detail}`, { reason: "bad_body" });
}

/** The uncompressed length a block declares in its preamble; the bytes of the preamble. */
export function snappyDecodedLength(input: Uint8Array): { length: number; preambleBytes: number } {
  let length = 0;
  for (let i = 0; i < 5; i++) {
    if (i >= input.length) throw malformedSnappy("the length preamble is cut off");
    const byte = input[i]!;
    length += (byte & 0x7f) * 2 ** (7 * i);
    if ((byte & 0x80) === 0) {
      if (length > 0xffff_ffff) throw malformedSnappy("the declared length does not fit in 32 bits");
      return { length, preambleBytes: i + 1 };
    }
  }
  throw malformedSnappy("the length preamble is longer than 5 bytes");
}

/**
 * The uncompressed bytes of a snappy block. A declared length above
 * `maxBytes` is refused before allocating (413, reason too_large, naming
 * SRVUTIL_MAX_BODY_BYTES); malformed input is an InputError (reason bad_body).
 * Runs in time linear in the output, which the cap bounds.
 */
export function decodeSnappyBlock(input: Uint8Array, maxBytes: number): Buffer {
  if (startsWith(input, FRAMED_STREAM_IDENTIFIER)) {
    throw malformedSnappy("it is the framed (stream) format; remote_write bodies use the block format");
  }
  const { length, preambleBytes } = snappyDecodedLength(input);
  if (length > maxBytes) {
    throw new InputError(
      `snappy body declares ${length} bytes uncompressed, above the limit of ${maxBytes} bytes (SRVUTIL_MAX_BODY_BYTES)`,
      { status: 413, reason: "too_large" },
    );
  }
  // The most an element expands is a 3-byte copy giving 64 bytes: a block
  // declaring more than 22 times its size lies, and is refused unallocated.
  if (length > (input.length - preambleBytes) * MAX_EXPANSION) {
    throw malformedSnappy(
      `it declares ${length} bytes from ${input.length} compressed, more than snappy can encode`,
    );
  }
  const out = Buffer.allocUnsafe(length);
  let op = 0;
  let ip = preambleBytes;
  while (ip < input.length) {
    const tag = input[ip++]!;
    if ((tag & 0x03) === 0) {
      // Literal: length − 1 in the tag's upper 6 bits, or in 1–4 bytes after it (60–63).
      let len = tag >>> 2;
      if (len >= 60) {
        const extra = len - 59;
        if (ip + extra > input.length) throw malformedSnappy(`a literal's length is cut off at byte ${ip}`);
        len = 0;
        for (let i = 0; i < extra; i++) len += input[ip + i]! * 2 ** (8 * i);
        ip += extra;
      }
      len += 1;
      if (ip + len > input.length)
        throw malformedSnappy(`a literal of ${len} bytes runs past the end of the body`);
      if (op + len > length) throw malformedSnappy(`a literal writes past the declared length ${length}`);
      out.set(input.subarray(ip, ip + len), op);
      ip += len;
      op += len;
      continue;
    }
    let len: number;
    let offset: number;
    if ((tag & 0x03) === 1) {
      if (ip + 1 > input.length) throw malformedSnappy(`a copy's offset is cut off at byte ${ip}`);
      len = 4 + ((tag >>> 2) & 0x07);
      offset = ((tag >>> 5) << 8) | input[ip]!;
      ip += 1;
    } else if ((tag & 0x03) === 2) {
      if (ip + 2 > input.length) throw malformedSnappy(`a copy's offset is cut off at byte ${ip}`);
      len = 1 + (tag >>> 2);
      offset = input[ip]! | (input[ip + 1]! << 8);
      ip += 2;
    } else {
      if (ip + 4 > input.length) throw malformedSnappy(`a copy's offset is cut off at byte ${ip}`);
      len = 1 + (tag >>> 2);
      offset = (input[ip]! | (input[ip + 1]! << 8) | (input[ip + 2]! << 16)) + input[ip + 3]! * 2 ** 24;
      ip += 4;
    }
    if (offset === 0 || offset > op) {
      throw malformedSnappy(`a copy refers ${offset} bytes back from byte ${op} of the output`);
    }
    if (op + len > length) throw malformedSnappy(`a copy writes past the declared length ${length}`);
    if (offset >= len) {
      out.copyWithin(op, op - offset, op - offset + len);
      op += len;
    } else {
      // Overlapping copy (a run): byte by byte, each may repeat one just written.
      for (let i = 0; i < len; i++, op++) out[op] = out[op - offset]!;
    }
  }
  if (op !== length) throw malformedSnappy(`it gives ${op} bytes, not the ${length} its preamble declares`);
  return out;
}
