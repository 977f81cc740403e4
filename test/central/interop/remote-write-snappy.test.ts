/**
 * The snappy block decoder on its own: round trips through an independent
 * encoder, hand-made elements, and hostile blocks (cut-off preambles, lying
 * lengths, copies before the start, huge declared lengths).
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { decodeSnappyBlock, snappyDecodedLength } from "../../../src/central/ingest/interop/snappy.js";
import { InputError } from "../../../src/errors.js";
import { snappyEncode, varint } from "../../helpers/remote-write-encoding.js";

const MIB = 2 ** 20;

function refusal(fn: () => unknown): InputError {
  try {
    fn();
  } catch (err) {
    if (err instanceof InputError) return err;
    throw err;
  }
  throw new Error("expected an InputError, nothing was thrown");
}

describe("snappy block format", () => {
  it("round-trips text, runs, random bytes and the empty input through an independent encoder", () => {
    const inputs = [
      Buffer.alloc(0),
      Buffer.from("a"),
      Buffer.from('node_cpu_seconds_total{cpu="0",mode="idle"} '.repeat(500)),
      Buffer.alloc(100_000, 0x41),
      randomBytes(70_000),
      Buffer.concat([randomBytes(70_000), randomBytes(10), Buffer.alloc(0)]),
    ];
    // Far matches (offset ≥ 65536: the 4-byte-offset copy).
    const far = randomBytes(80_000);
    inputs.push(Buffer.concat([far, Buffer.from("xyz"), far.subarray(0, 5000)]));
    for (const input of inputs) {
      const encoded = snappyEncode(input);
      expect(decodeSnappyBlock(encoded, 16 * MIB).equals(input)).toBe(true);
    }
    // The encoder did make copies: the repeated text shrank.
    expect(snappyEncode(inputs[2]!).length).toBeLessThan(inputs[2]!.length / 10);
  });

  it("decodes hand-made elements: every literal length form, each copy kind, an overlapping run", () => {
    // "abcd" literal, then copy 1-byte offset 4 len 8 (overlapping) → "abcdabcdabcd"
    const block = Buffer.from([12, 3 << 2, 0x61, 0x62, 0x63, 0x64, 1 | (4 << 2), 4]);
    expect(decodeSnappyBlock(block, 100).toString()).toBe("abcdabcdabcd");
    // 2-byte-offset copy of length 3 at offset 1: "zzzz"
    expect(decodeSnappyBlock(Buffer.from([4, 0, 0x7a, 2 | (2 << 2), 1, 0]), 100).toString()).toBe("zzzz");
    // 4-byte-offset copy
    expect(decodeSnappyBlock(Buffer.from([3, 0, 0x71, 3 | (1 << 2), 1, 0, 0, 0]), 100).toString()).toBe(
      "qqq",
    );
    // A literal with a 2-byte length (61): 300 bytes
    const lit = Buffer.alloc(300, 0x62);
    const long = Buffer.from([...varint(300), 61 << 2, 299 & 0xff, 299 >> 8, ...lit]);
    expect(decodeSnappyBlock(long, 1000).equals(lit)).toBe(true);
  });

  it("reads the declared length from the preamble and refuses one above the cap before allocating (413)", () => {
    expect(snappyDecodedLength(Buffer.from([0xe8, 0x07]))).toEqual({ length: 1000, preambleBytes: 2 });
    // 4 GiB − 1 declared by 5 bytes, nothing else: refused on the number alone.
    const huge = Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]);
    const before = process.memoryUsage().arrayBuffers;
    const err = refusal(() => decodeSnappyBlock(huge, 16 * MIB));
    expect(err.status).toBe(413);
    expect(err.reason).toBe("too_large");
    expect(err.message).toContain("4294967295");
    expect(err.message).toContain("SRVUTIL_MAX_BODY_BYTES");
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(MIB);
    // Exactly the cap passes the cap check.
    const atCap = snappyEncode(Buffer.alloc(1000, 1));
    expect(decodeSnappyBlock(atCap, 1000).length).toBe(1000);
    expect(refusal(() => decodeSnappyBlock(atCap, 999)).status).toBe(413);
  });

  it("refuses a length below the cap that the body cannot hold (no 16 MiB allocation for 3 bytes)", () => {
    const lying = Buffer.from([...varint(15 * MIB), 0, 0x61]);
    const err = refusal(() => decodeSnappyBlock(lying, 16 * MIB));
    expect(err.status).toBe(400);
    expect(err.reason).toBe("bad_body");
    expect(err.message).toMatch(/more than snappy can encode/);
  });

  it("refuses malformed blocks with a message saying what is wrong", () => {
    const cases: [Buffer, RegExp][] = [
      [Buffer.alloc(0), /preamble is cut off/],
      [Buffer.from([0x80, 0x80]), /preamble is cut off/],
      [Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x01]), /longer than 5 bytes/],
      [Buffer.from([0xff, 0xff, 0xff, 0xff, 0x7f]), /does not fit in 32 bits/],
      // literal of 4 bytes with 1 present
      [Buffer.from([4, 3 << 2, 0x61]), /runs past the end/],
      // literal length byte (60) missing
      [Buffer.from([4, 60 << 2]), /length is cut off/],
      // literal longer than declared
      [Buffer.from([1, 1 << 2, 0x61, 0x62]), /past the declared length/],
      // copy before anything was written
      [Buffer.from([4, 1, 1]), /refers 1 bytes back from byte 0/],
      // copy offset 0
      [Buffer.from([8, 0, 0x61, 1, 0]), /refers 0 bytes back/],
      // copy offset cut off
      [Buffer.from([8, 0, 0x61, 2, 1]), /offset is cut off/],
      [Buffer.from([8, 0, 0x61, 3, 1, 0]), /offset is cut off/],
      // copy past the declared length
      [Buffer.from([3, 0, 0x61, 1 | (7 << 2), 1]), /copy writes past/],
      // snappy's framed format (stream identifier chunk, then a compressed chunk)
      [
        Buffer.from([0xff, 0x06, 0x00, 0x00, 0x73, 0x4e, 0x61, 0x50, 0x70, 0x59, 0x00, 0x05, 0x00, 0x00]),
        /framed \(stream\) format/,
      ],
      // fewer bytes than declared
      [Buffer.from([5, 0, 0x61]), /gives 1 bytes, not the 5/],
    ];
    for (const [block, message] of cases) {
      const err = refusal(() => decodeSnappyBlock(block, MIB));
      expect(err.reason, block.toString("hex")).toBe("bad_body");
      expect(err.status).toBe(400);
      expect(err.message).toMatch(message);
      expect(err.message).toMatch(/^body is not valid snappy/);
    }
  });

  it("never hangs or throws anything but an InputError on 3,000 random and mutated blocks", () => {
    const valid = snappyEncode(Buffer.from("node_memory_MemAvailable_bytes ".repeat(200)));
    let refused = 0;
    for (let i = 0; i < 3000; i++) {
      const input = i % 2 === 0 ? randomBytes(1 + (i % 200)) : Buffer.from(valid);
      if (i % 2 === 1)
        for (let k = 0; k < 1 + (i % 5); k++) input[(i * 7919 + k * 104729) % input.length] = (i * k) & 0xff;
      try {
        const out = decodeSnappyBlock(input, MIB);
        expect(out.length).toBeLessThanOrEqual(MIB);
      } catch (err) {
        expect(err).toBeInstanceOf(InputError);
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(1000);
  });
});
