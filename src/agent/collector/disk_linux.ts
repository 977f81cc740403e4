import { readFile } from "node:fs/promises";
import { ROOT_MOUNT, realDisksOrRoot } from "../../protocol/filesystems.js";
import { mountIsReported, statfsBytes } from "./disk.js";
import type { DiskFilter, DiskReading } from "./types.js";

/** One line of /proc/self/mountinfo (see proc(5)). */
export interface MountinfoEntry {
  mountId: number;
  parentId: number;
  /** "major:minor" of the device. */
  device: string;
  /** Path inside the filesystem that is mounted here ("/" unless a bind mount of a subtree). */
  root: string;
  mountPoint: string;
  fsType: string;
  source: string;
}

/** mountinfo escapes space, tab, newline and backslash as \ooo octal. */
function unescapeMountinfo(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}

export function parseMountinfo(text: string): MountinfoEntry[] {
  const entries: MountinfoEntry[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const dash = line.indexOf(" - ");
    if (dash === -1) continue;
    const left = line.slice(0, dash).split(" ");
    const right = line.slice(dash + 3).split(" ");
    if (left.length < 6 || right.length < 2) continue;
    entries.push({
      mountId: Number(left[0]),
      parentId: Number(left[1]),
      device: left[2]!,
      root: unescapeMountinfo(left[3]!),
      mountPoint: unescapeMountinfo(left[4]!),
      fsType: right[0]!,
      source: unescapeMountinfo(right[1]!),
    });
  }
  return entries;
}

/**
 * The real filesystems among the mounts: pseudo types skipped, include and
 * exclude lists applied, and every device reported once. A device mounted
 * several times (bind mounts, container volumes) keeps the mount of its
 * filesystem root, then the shortest mount point, so `/` wins over a bind
 * of `/var/lib/x` and the row stays stable between samples.
 */
export function selectRealMounts(entries: readonly MountinfoEntry[], filter: DiskFilter): MountinfoEntry[] {
  // A later mount on the same mount point hides the earlier one.
  const visible = new Map<string, MountinfoEntry>();
  for (const e of entries) visible.set(e.mountPoint, e);
  const byDevice = new Map<string, MountinfoEntry>();
  for (const e of visible.values()) {
    if (!mountIsReported(e.mountPoint, e.fsType, filter)) continue;
    const seen = byDevice.get(e.device);
    if (seen === undefined || preferMount(e, seen)) byDevice.set(e.device, e);
  }
  // The root stands in for no real filesystem (a container's overlay), unless the operator's
  // include_mounts names what to report or exclude_mounts leaves "/" out.
  const root =
    filter.includeMounts.length === 0 && !filter.excludeMounts.includes(ROOT_MOUNT)
      ? visible.get(ROOT_MOUNT)
      : undefined;
  return realDisksOrRoot([...byDevice.values()], root).sort((a, b) => (a.mountPoint < b.mountPoint ? -1 : 1));
}

function preferMount(candidate: MountinfoEntry, current: MountinfoEntry): boolean {
  const cRoot = candidate.root === "/";
  const kRoot = current.root === "/";
  if (cRoot !== kRoot) return cRoot;
  if (candidate.mountPoint.length !== current.mountPoint.length) {
    return candidate.mountPoint.length < current.mountPoint.length;
  }
  return candidate.mountPoint < current.mountPoint;
}

export interface DiskCollectResult {
  disks: DiskReading[];
  /** Mounts that could not be measured, with why (the sample still goes out). */
  problems: string[];
}

export async function readDisksLinux(
  filter: DiskFilter,
  mountinfoPath = "/proc/self/mountinfo",
): Promise<DiskCollectResult> {
  const mounts = selectRealMounts(parseMountinfo(await readFile(mountinfoPath, "utf8")), filter);
  const disks: DiskReading[] = [];
  const problems: string[] = [];
  await Promise.all(
    mounts.map(async (m) => {
      try {
        const bytes = await statfsBytes(m.mountPoint);
        if (bytes.totalBytes === 0) return; // nothing to report (e.g. an empty autofs trigger)
        disks.push({ mount: m.mountPoint, fsType: m.fsType, device: m.source, ...bytes });
      } catch (err) {
        problems.push(`${m.mountPoint}: ${(err as Error).message}`);
      }
    }),
  );
  disks.sort((a, b) => (a.mount < b.mount ? -1 : 1));
  return { disks, problems };
}
