import { randomBytes } from "node:crypto";

/**
 * Upload ids: `20261125T145012123Z-1a2b3c4d5e6f`, the receipt time to the
 * millisecond and 48 random bits. They sort by receipt time, name the raw
 * file in received_metrics/ and let startup recovery pick the recent ones
 * from a directory listing without opening the files.
 */

const UPLOAD_ID_PATTERN = /^[0-9]{8}T[0-9]{9}Z-[0-9a-f]{12}$/;

/** Random bytes drawn in blocks: one getrandom call per 680 upload ids instead of one each. */
let randomPool = Buffer.alloc(0);
let randomOffset = 0;

export function newUploadId(receivedAt: number): string {
  const iso = new Date(receivedAt).toISOString(); // 2026-11-25T14:50:12.123Z
  const compact = iso.replace(/[-:.]/g, "");
  if (randomOffset + 6 > randomPool.length) {
    randomPool = randomBytes(4080);
    randomOffset = 0;
  }
  const suffix = randomPool.toString("hex", randomOffset, randomOffset + 6);
  randomOffset += 6;
  return `${compact}-${suffix}`;
}

export function isUploadId(id: string): boolean {
  return UPLOAD_ID_PATTERN.test(id);
}

/** The receipt time an upload id starts with, epoch ms. */
export function uploadIdTime(id: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z/.exec(id);
  if (m === null) return Number.NaN;
  return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!, +m[7]!);
}
