import zlib from "node:zlib";

/**
 * A ZIP archive holding one file, deflate-compressed: how a report file that
 * is over the attachment cap still travels. ZIP rather than gzip because
 * every reader's machine opens it without installing anything (Windows
 * Explorer, macOS Finder, iOS and Android file apps, Gmail's and Outlook's
 * attachment previews), while a `.gz` needs an extra tool on most of them.
 *
 * Only what one small file needs: no ZIP64 (the entry must be under 4 GiB;
 * a report is tens of MB at most), the UTF-8 name flag, and `modified` as the
 * entry's time, so the same report gives the same bytes (a resent mail is
 * identical).
 */
export function zipOneFile(name: string, content: Buffer, modified: Date): Buffer {
  if (content.length >= 0xffff_ffff) throw new Error(`zip: ${name} is too large for a ZIP without ZIP64`);
  const fileName = Buffer.from(name, "utf8");
  const data = zlib.deflateRawSync(content, { level: 6 });
  const crc = crc32(content);
  const { time, date } = dosDateTime(modified);
  // Version 2.0 (deflate), bit 11: the name is UTF-8.
  const common = (h: Buffer, at: number): void => {
    h.writeUInt16LE(20, at);
    h.writeUInt16LE(0x0800, at + 2);
    h.writeUInt16LE(8, at + 4);
    h.writeUInt16LE(time, at + 6);
    h.writeUInt16LE(date, at + 8);
    h.writeUInt32LE(crc, at + 10);
    h.writeUInt32LE(data.length, at + 14);
    h.writeUInt32LE(content.length, at + 18);
    h.writeUInt16LE(fileName.length, at + 22);
    h.writeUInt16LE(0, at + 24); // no extra field
  };
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  common(local, 4);

  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE((3 << 8) | 20, 4); // made by: Unix, version 2.0 (so the mode below is read)
  common(central, 6);
  central.writeUInt16LE(0, 32); // no comment
  central.writeUInt16LE(0, 34); // disk 0
  central.writeUInt16LE(0, 36); // internal attributes
  central.writeUInt32LE((0o100644 << 16) >>> 0, 38); // a regular file, rw-r--r--
  central.writeUInt32LE(0, 42); // local header at offset 0

  const centralOffset = local.length + fileName.length + data.length;
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8); // entries on this disk
  end.writeUInt16LE(1, 10); // entries in all
  end.writeUInt32LE(central.length + fileName.length, 12);
  end.writeUInt32LE(centralOffset, 16);
  return Buffer.concat([local, fileName, data, central, fileName, end]);
}

/** MS-DOS date and time (2-second resolution, 1980 onwards), from the UTC fields. */
function dosDateTime(d: Date): { time: number; date: number } {
  const year = Math.min(2107, Math.max(1980, d.getUTCFullYear()));
  return {
    time: (d.getUTCHours() << 11) | (d.getUTCMinutes() << 5) | (d.getUTCSeconds() >> 1),
    date: ((year - 1980) << 9) | ((d.getUTCMonth() + 1) << 5) | d.getUTCDate(),
  };
}

let table: Uint32Array | undefined;

/** zlib's CRC-32 (Node ≥ 20.15), else the same from a table (the engines field allows older 20.x). */
function crc32(data: Buffer): number {
  if (typeof zlib.crc32 === "function") return zlib.crc32(data);
  if (table === undefined) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = table[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
