import { statfs } from "node:fs/promises";
import { UnavailableError } from "../../errors.js";
import { PSEUDO_FS_TYPES } from "../../protocol/filesystems.js";
import type { DiskFilter } from "./types.js";

/** One list, shared with the central's foreign inputs (src/protocol/filesystems.ts). */
export { PSEUDO_FS_TYPES } from "../../protocol/filesystems.js";

function globToRegExp(pattern: string): RegExp {
  const escaped = pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replaceAll("*", ".*");
  return new RegExp(`^${escaped}$`);
}

function matchesAny(value: string, patterns: readonly string[]): boolean {
  return patterns.some((p) => (p.includes("*") ? globToRegExp(p).test(value) : p === value));
}

/** Whether a filesystem type is reported under `filter`. */
export function fsTypeIsReported(fsType: string, filter: DiskFilter): boolean {
  if (matchesAny(fsType, filter.excludeFsTypes)) return false;
  if (matchesAny(fsType, filter.includeFsTypes)) return true;
  return !PSEUDO_FS_TYPES.has(fsType);
}

/**
 * Whether a mount point is reported under `filter`. A mount named exactly in
 * include_mounts is reported whatever its type (`include_mounts: ["/dev/shm"]`
 * reports a tmpfs); a glob in include_mounts only narrows the real filesystems.
 */
export function mountIsReported(mount: string, fsType: string, filter: DiskFilter): boolean {
  if (matchesAny(mount, filter.excludeMounts)) return false;
  if (filter.includeMounts.includes(mount)) return true;
  if (filter.includeMounts.length > 0 && !matchesAny(mount, filter.includeMounts)) return false;
  return fsTypeIsReported(fsType, filter);
}

export interface StatfsBytes {
  totalBytes: number;
  usedBytes: number;
  freeBytes: number;
}

/**
 * df's arithmetic from statfs: total = blocks × bsize, used = (blocks − bfree)
 * × bsize ("Used", counting root's reserve as not used), free = bavail × bsize
 * ("Avail", what an unprivileged user can still write).
 */
export function bytesFromStatfs(s: {
  bsize: bigint;
  blocks: bigint;
  bfree: bigint;
  bavail: bigint;
}): StatfsBytes {
  const totalBytes = Number(s.blocks * s.bsize);
  const usedBytes = Number((s.blocks - s.bfree) * s.bsize);
  // biome-ignore lint/complexity/useMathMinMax: bigint operands (Math.min does not take bigints)
  const freeBytes = Number((s.bavail > s.blocks ? s.blocks : s.bavail) * s.bsize);
  return { totalBytes, usedBytes, freeBytes };
}

/**
 * statfs with a deadline: a hung network mount would otherwise block the
 * sample forever (the libuv thread stays stuck, but the agent moves on).
 */
export async function statfsBytes(path: string, timeoutMs = 5000): Promise<StatfsBytes> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new UnavailableError(`statfs(${path}) took longer than ${timeoutMs} ms`)),
      timeoutMs,
    );
    timer.unref();
  });
  try {
    const s = await Promise.race([statfs(path, { bigint: true }), timeout]);
    return bytesFromStatfs(s);
  } finally {
    clearTimeout(timer);
  }
}
