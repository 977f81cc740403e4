/**
 * Just enough of the PE, Mach-O and ELF formats to find where a Node
 * single-executable blob was injected, read from the headers the way the
 * loader (and Node's postject-api.h lookup) would, not by searching bytes.
 */

export class FormatError extends Error {
  override readonly name = "FormatError";
}

function check(condition: boolean, what: string): asserts condition {
  if (!condition) throw new FormatError(what);
}

export interface FoundResource {
  offset: number;
  size: number;
}

// --- PE (Windows) -------------------------------------------------------------

export interface PeImage {
  machine: number;
  /** PE32+ (0x20b) for 64-bit images. */
  optionalMagic: number;
  subsystem: number;
  sections: {
    name: string;
    virtualAddress: number;
    virtualSize: number;
    rawOffset: number;
    rawSize: number;
  }[];
  /** Has a certificate table (an Authenticode signature). */
  signed: boolean;
  /** Resource of type `type` (RT_RCDATA = 10) named `name`, as file offset and size. */
  resource(type: number, name: string): FoundResource | null;
}

export const PE_MACHINE_AMD64 = 0x8664;
export const RT_RCDATA = 10;

export function parsePe(buf: Buffer): PeImage {
  check(buf.toString("latin1", 0, 2) === "MZ", "no MZ header");
  const pe = buf.readUInt32LE(0x3c);
  check(buf.toString("latin1", pe, pe + 4) === "PE\0\0", "no PE signature at e_lfanew");
  const coff = pe + 4;
  const machine = buf.readUInt16LE(coff);
  const sectionCount = buf.readUInt16LE(coff + 2);
  const optionalSize = buf.readUInt16LE(coff + 16);
  const opt = coff + 20;
  const optionalMagic = buf.readUInt16LE(opt);
  check(optionalMagic === 0x20b, `optional header magic ${optionalMagic.toString(16)} is not PE32+`);
  const subsystem = buf.readUInt16LE(opt + 68);
  const dirCount = buf.readUInt32LE(opt + 108);
  const dir = (i: number) =>
    i < dirCount
      ? { rva: buf.readUInt32LE(opt + 112 + i * 8), size: buf.readUInt32LE(opt + 116 + i * 8) }
      : null;
  const sections: PeImage["sections"] = [];
  for (let i = 0; i < sectionCount; i++) {
    const s = opt + optionalSize + i * 40;
    sections.push({
      name: buf.toString("latin1", s, s + 8).replace(/\0+$/, ""),
      virtualSize: buf.readUInt32LE(s + 8),
      virtualAddress: buf.readUInt32LE(s + 12),
      rawSize: buf.readUInt32LE(s + 16),
      rawOffset: buf.readUInt32LE(s + 20),
    });
  }
  const rvaToOffset = (rva: number) => {
    const s = sections.find(
      (x) => rva >= x.virtualAddress && rva < x.virtualAddress + Math.max(x.virtualSize, x.rawSize),
    );
    check(s !== undefined, `RVA ${rva.toString(16)} is in no section`);
    return rva - s.virtualAddress + s.rawOffset;
  };
  const resources = dir(2);
  const certificates = dir(4);
  return {
    machine,
    optionalMagic,
    subsystem,
    sections,
    signed: certificates !== null && certificates.size > 0,
    resource(type, name) {
      if (resources === null || resources.size === 0) return null;
      const base = rvaToOffset(resources.rva);
      const entries = (dirOffset: number) => {
        const named = buf.readUInt16LE(dirOffset + 12);
        const ids = buf.readUInt16LE(dirOffset + 14);
        const list = [];
        for (let i = 0; i < named + ids; i++) {
          const e = dirOffset + 16 + i * 8;
          const nameField = buf.readUInt32LE(e);
          const target = buf.readUInt32LE(e + 4);
          let key: string | number;
          if (nameField & 0x80000000) {
            const at = base + (nameField & 0x7fffffff);
            const length = buf.readUInt16LE(at);
            key = buf.toString("utf16le", at + 2, at + 2 + length * 2);
          } else {
            key = nameField;
          }
          list.push({ key, isDir: (target & 0x80000000) !== 0, offset: base + (target & 0x7fffffff) });
        }
        return list;
      };
      const typeEntry = entries(base).find((e) => e.key === type && e.isDir);
      if (typeEntry === undefined) return null;
      const nameEntry = entries(typeEntry.offset).find((e) => e.key === name && e.isDir);
      if (nameEntry === undefined) return null;
      const language = entries(nameEntry.offset)[0];
      check(language !== undefined && !language.isDir, "resource has no language entry with data");
      return {
        offset: rvaToOffset(buf.readUInt32LE(language.offset)),
        size: buf.readUInt32LE(language.offset + 4),
      };
    },
  };
}

// --- Mach-O (macOS) -------------------------------------------------------------

export const CPU_TYPE_X86_64 = 0x01000007;
export const CPU_TYPE_ARM64 = 0x0100000c;
const LC_SEGMENT_64 = 0x19;
const LC_CODE_SIGNATURE = 0x1d;

export interface MachOImage {
  cpuType: number;
  fileType: number;
  segments: {
    name: string;
    fileOffset: number;
    fileSize: number;
    sections: { name: string; offset: number; size: number }[];
  }[];
  hasCodeSignature: boolean;
  section(segment: string, section: string): FoundResource | null;
}

const cstr = (buf: Buffer, at: number, length: number) =>
  buf.toString("latin1", at, at + length).replace(/\0.*$/s, "");

export function parseMachO(buf: Buffer): MachOImage {
  check(buf.readUInt32LE(0) === 0xfeedfacf, "not a 64-bit little-endian Mach-O (magic feedfacf)");
  const cpuType = buf.readUInt32LE(4);
  const fileType = buf.readUInt32LE(12);
  const commands = buf.readUInt32LE(16);
  const segments: MachOImage["segments"] = [];
  let hasCodeSignature = false;
  let at = 32;
  for (let i = 0; i < commands; i++) {
    const cmd = buf.readUInt32LE(at);
    const size = buf.readUInt32LE(at + 4);
    check(size >= 8, "load command with size < 8");
    if (cmd === LC_CODE_SIGNATURE) hasCodeSignature = true;
    if (cmd === LC_SEGMENT_64) {
      const sectionCount = buf.readUInt32LE(at + 64);
      const sections = [];
      for (let s = 0; s < sectionCount; s++) {
        const sec = at + 72 + s * 80;
        sections.push({
          name: cstr(buf, sec, 16),
          size: Number(buf.readBigUInt64LE(sec + 40)),
          offset: buf.readUInt32LE(sec + 48),
        });
      }
      segments.push({
        name: cstr(buf, at + 8, 16),
        fileOffset: Number(buf.readBigUInt64LE(at + 40)),
        fileSize: Number(buf.readBigUInt64LE(at + 48)),
        sections,
      });
    }
    at += size;
  }
  return {
    cpuType,
    fileType,
    segments,
    hasCodeSignature,
    section(segment, section) {
      const s = segments.find((x) => x.name === segment)?.sections.find((x) => x.name === section);
      return s === undefined ? null : { offset: s.offset, size: s.size };
    },
  };
}

// --- ELF (Linux) -------------------------------------------------------------------

export const EM_X86_64 = 62;
export const EM_AARCH64 = 183;

export interface ElfImage {
  machine: number;
  /** A note of that name in a PT_NOTE segment (where postject puts the blob on Linux). */
  note(name: string): FoundResource | null;
}

export function parseElf(buf: Buffer): ElfImage {
  check(buf.toString("latin1", 0, 4) === "\x7fELF", "no ELF magic");
  check(buf[4] === 2 && buf[5] === 1, "not a 64-bit little-endian ELF");
  const machine = buf.readUInt16LE(18);
  const phoff = Number(buf.readBigUInt64LE(32));
  const phentsize = buf.readUInt16LE(54);
  const phnum = buf.readUInt16LE(56);
  return {
    machine,
    note(name) {
      for (let i = 0; i < phnum; i++) {
        const ph = phoff + i * phentsize;
        if (buf.readUInt32LE(ph) !== 4) continue; // PT_NOTE
        const start = Number(buf.readBigUInt64LE(ph + 8));
        const end = start + Number(buf.readBigUInt64LE(ph + 32));
        let at = start;
        while (at + 12 <= end) {
          const nameSize = buf.readUInt32LE(at);
          const descSize = buf.readUInt32LE(at + 4);
          const nameAt = at + 12;
          const descAt = nameAt + Math.ceil(nameSize / 4) * 4;
          if (buf.toString("latin1", nameAt, nameAt + nameSize).replace(/\0$/, "") === name) {
            return { offset: descAt, size: descSize };
          }
          at = descAt + Math.ceil(descSize / 4) * 4;
        }
      }
      return null;
    },
  };
}
