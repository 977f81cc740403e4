/**
 * The filesystems srvutil never reports, in one list, and the one rule of
 * which filesystems a sample reports, both shared by the agent
 * (src/agent/collector/disk.ts, disk_linux.ts) and the central's foreign
 * inputs (node_exporter, remote_write, OTLP, Telegraf, collectd), so a fleet
 * reads the same mounts whichever way its numbers arrive.
 */

/**
 * Filesystem types that never hold user data worth a disk row: kernel
 * interfaces, memory-backed and container layers. `overlay` is skipped
 * because its space is the backing filesystem's, which gets its own row.
 */
export const PSEUDO_FS_TYPES: ReadonlySet<string> = new Set([
  "autofs",
  "binfmt_misc",
  "bpf",
  "cgroup",
  "cgroup2",
  "configfs",
  "debugfs",
  "devfs",
  "devpts",
  "devtmpfs",
  "efivarfs",
  "fuse.gvfsd-fuse",
  "fuse.lxcfs",
  "fuse.portal",
  "fusectl",
  "hugetlbfs",
  "mqueue",
  "nfsd",
  "nsfs",
  "nullfs",
  "overlay",
  "proc",
  "pstore",
  "ramfs",
  "rpc_pipefs",
  "securityfs",
  "selinuxfs",
  "squashfs",
  "sysfs",
  "tmpfs",
  "tracefs",
  "aufs",
  "rootfs",
  "fuse.snapfuse",
  "iso9660",
  "udf",
]);

/** Whether a filesystem type is one srvutil never reports (a pseudo or virtual filesystem). */
export function isIgnoredFsType(fsType: string): boolean {
  return PSEUDO_FS_TYPES.has(fsType);
}

/** The root mount: the one filesystem a sample reports whatever its type, when no real one is left. */
export const ROOT_MOUNT = "/";

/** Whether a filesystem is a real one: its type is not ignored, or not known (collectd does not say it). */
export function isRealFsType(fsType: string | null): boolean {
  return fsType === null || !isIgnoredFsType(fsType);
}

/**
 * Whether a filesystem may be among those a sample reports: a real one, or
 * the root whatever its type, which realDisksOrRoot keeps when it is the
 * only one left. The foreign inputs' decoders drop every other filesystem.
 */
export function mayBeReported(mount: string, fsType: string | null): boolean {
  return isRealFsType(fsType) || mount === ROOT_MOUNT;
}

/**
 * The filesystems a sample reports: the real ones; when none is left, the
 * root alone, whatever its type (in a container the root is an overlay whose
 * backing disk is invisible, and a sample without a disk row would lose its
 * CPU and memory with it). `root` is undefined when there is none to stand in
 * (not measured, or the operator's filter leaves it out).
 */
export function realDisksOrRoot<T>(real: readonly T[], root: T | undefined): T[] {
  if (real.length > 0) return [...real];
  return root === undefined ? [] : [root];
}
