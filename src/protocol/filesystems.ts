/**
 * The filesystems srvutil never reports, in one list shared by the agent
 * (src/agent/collector/disk.ts) and the central's foreign inputs
 * (node_exporter, remote_write, OTLP, Telegraf, collectd), so a fleet reads
 * the same mounts whichever way its numbers arrive.
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
