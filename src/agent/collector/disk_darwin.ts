import { mountIsReported, statfsBytes } from "./disk.js";
import type { DiskCollectResult } from "./disk_linux.js";
import type { CommandRunner, DiskFilter, DiskReading } from "./types.js";

export interface DfEntry {
  filesystem: string;
  totalBytes: number;
  usedBytes: number;
  freeBytes: number;
  mountPoint: string;
}

/**
 * Parses `df -k -P` (POSIX format, 1024-byte blocks). Mount points and
 * filesystem names may contain spaces ("map auto_home"), so each line is
 * matched from the numeric columns outwards.
 */
export function parseDfPosix(text: string): DfEntry[] {
  const entries: DfEntry[] = [];
  for (const line of text.split("\n").slice(1)) {
    const m = /^(.+?)\s+(\d+)\s+(\d+)\s+(\d+)\s+(?:\d+%|-)\s+(\/.*)$/.exec(line.trimEnd());
    if (!m) continue;
    entries.push({
      filesystem: m[1]!,
      totalBytes: Number(m[2]) * 1024,
      usedBytes: Number(m[3]) * 1024,
      freeBytes: Number(m[4]) * 1024,
      mountPoint: m[5]!,
    });
  }
  return entries;
}

/**
 * Parses `mount` output lines like `/dev/disk3s1s1 on / (apfs, sealed, local, read-only, journaled)`
 * into mount point → fs type.
 */
export function parseDarwinMountTypes(text: string): Map<string, string> {
  const types = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^(.+?) on (\/.*?) \(([^,)]+)/.exec(line);
    if (m) types.set(m[2]!, m[3]!.trim());
  }
  return types;
}

/**
 * APFS volumes of one container share its space; these system volumes only
 * repeat the container's figures (the Data volume and `/` carry the meaning).
 */
const DARWIN_SYSTEM_VOLUMES =
  /^\/System\/Volumes\/(VM|Preboot|Update|xarts|iSCPreboot|Hardware|Recovery)(\/|$)|^\/Volumes\/Recovery$/;

export function selectDarwinDisks(
  df: readonly DfEntry[],
  fsTypes: ReadonlyMap<string, string>,
  filter: DiskFilter,
): DiskReading[] {
  const disks: DiskReading[] = [];
  for (const e of df) {
    const fsType = fsTypes.get(e.mountPoint) ?? (e.filesystem.startsWith("map ") ? "autofs" : "unknown");
    if (DARWIN_SYSTEM_VOLUMES.test(e.mountPoint) && filter.includeMounts.length === 0) continue;
    if (!mountIsReported(e.mountPoint, fsType, filter)) continue;
    if (e.totalBytes === 0) continue;
    disks.push({
      mount: e.mountPoint,
      fsType,
      device: e.filesystem,
      totalBytes: e.totalBytes,
      usedBytes: e.usedBytes,
      freeBytes: e.freeBytes,
    });
  }
  return disks.sort((a, b) => (a.mount < b.mount ? -1 : 1));
}

/** df gives the list (rounded to KiB); statfs then gives exact bytes where it answers. */
export async function readDisksDarwin(run: CommandRunner, filter: DiskFilter): Promise<DiskCollectResult> {
  const [dfText, mountText] = await Promise.all([run("df", ["-k", "-P"]), run("mount", [])]);
  const disks = selectDarwinDisks(parseDfPosix(dfText), parseDarwinMountTypes(mountText), filter);
  const problems: string[] = [];
  await Promise.all(
    disks.map(async (d) => {
      try {
        Object.assign(d, await statfsBytes(d.mount));
      } catch (err) {
        problems.push(`${d.mount}: statfs failed, using df's KiB figures (${(err as Error).message})`);
      }
    }),
  );
  return { disks, problems };
}
