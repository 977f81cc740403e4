/**
 * node_exporter and windows_exporter metric families → PointGroups, from
 * plain samples (a scraped exposition text, or a remote_write batch). Shared
 * by the scraper (../../scrape/) and the remote_write route, so both read a
 * fleet the same way. Unknown families are ignored.
 *
 * node_exporter (1.5):
 * - CPU: `node_cpu_seconds_total{cpu,mode}` summed over every cpu. idle =
 *   modes idle + iowait; total = every mode (user, nice, system, idle,
 *   iowait, irq, softirq, steal). Steal is time the hypervisor gave to
 *   another guest while this one wanted to run: a non-idle state, so busy,
 *   exactly as the agent's /proc/stat reading (src/agent/collector/cpu_linux.ts)
 *   counts it. guest and guest_nice are not modes of this family (node_exporter
 *   puts them in node_cpu_guest_seconds_total, and the kernel already counts
 *   them inside user and nice), so nothing is counted twice.
 * - Memory: `node_memory_MemTotal_bytes`, `node_memory_MemAvailable_bytes`.
 * - Disks, keyed by `mountpoint`: total = `node_filesystem_size_bytes`,
 *   free = `node_filesystem_avail_bytes` (bavail), used = size −
 *   `node_filesystem_free_bytes` (blocks − bfree), as df and the agent count.
 *   Pseudo filesystems (`fstype`, mayBeReported) are dropped.
 *
 * windows_exporter (0.31 names; older ones where cheap):
 * - CPU: `windows_cpu_time_total{core,mode}`. Its modes overlap (idle,
 *   user, privileged, interrupt, dpc: privileged includes interrupt and dpc),
 *   so they are not summed: idle = Σ idle over cores, total = the sample's
 *   wall time in seconds × the number of cores. Over an interval Δtotal is
 *   then the elapsed core-seconds and Δtotal − Δidle the busy ones.
 * - Memory: `windows_memory_physical_total_bytes`, with
 *   `windows_memory_physical_free_bytes` as available (Windows' "free"
 *   includes the standby list, so it behaves as Linux's MemAvailable). Before
 *   0.31: `windows_cs_physical_memory_bytes`, `windows_os_physical_memory_free_bytes`.
 * - Disks: `windows_logical_disk_size_bytes{volume}` and
 *   `windows_logical_disk_free_bytes{volume}` for drive-letter volumes only
 *   (`C:`; not `HarddiskVolume1`), used = size − free.
 */
import { mayBeReported } from "../../../protocol/filesystems.js";
import type { CpuCounters, DiskPoint, PointGroup } from "./point-group.js";

/** One sample of one series, as the exposition text or remote_write gives it. */
export interface PromSample {
  name: string;
  labels: Readonly<Record<string, string>>;
  value: number;
  /** Epoch ms. */
  timestampMs: number;
}

/** The families read here; everything else is ignored (and not counted as lacking a server). */
const NODE_CPU = "node_cpu_seconds_total";
const NODE_MEM_TOTAL = "node_memory_MemTotal_bytes";
const NODE_MEM_AVAILABLE = "node_memory_MemAvailable_bytes";
const NODE_FS_SIZE = "node_filesystem_size_bytes";
const NODE_FS_AVAIL = "node_filesystem_avail_bytes";
const NODE_FS_FREE = "node_filesystem_free_bytes";
const WIN_CPU = "windows_cpu_time_total";
const WIN_MEM_TOTAL = "windows_memory_physical_total_bytes";
const WIN_MEM_FREE = "windows_memory_physical_free_bytes";
const WIN_MEM_TOTAL_OLD = "windows_cs_physical_memory_bytes";
const WIN_MEM_FREE_OLD = "windows_os_physical_memory_free_bytes";
const WIN_DISK_SIZE = "windows_logical_disk_size_bytes";
const WIN_DISK_FREE = "windows_logical_disk_free_bytes";

export const READ_FAMILIES: ReadonlySet<string> = new Set([
  NODE_CPU,
  NODE_MEM_TOTAL,
  NODE_MEM_AVAILABLE,
  NODE_FS_SIZE,
  NODE_FS_AVAIL,
  NODE_FS_FREE,
  WIN_CPU,
  WIN_MEM_TOTAL,
  WIN_MEM_FREE,
  WIN_MEM_TOTAL_OLD,
  WIN_MEM_FREE_OLD,
  WIN_DISK_SIZE,
  WIN_DISK_FREE,
]);

/** A drive-letter volume as windows_exporter names it: `C:`. */
const DRIVE_LETTER = /^[A-Za-z]:$/;

/** What one (server, timestamp) collected before it becomes a PointGroup. */
interface Accumulator {
  server: string;
  timestamp: number;
  nodeCpu: { idle: number; total: number; series: number } | null;
  winCpu: { idle: number; cores: Set<string>; series: number } | null;
  memTotal: number | null;
  memAvailable: number | null;
  memTotalOld: number | null;
  memFreeOld: number | null;
  /** mountpoint → its three sizes (node) or two (windows: avail = free). */
  fs: Map<string, { fsType: string | null; size?: number; avail?: number; free?: number }>;
}

function newAccumulator(server: string, timestamp: number): Accumulator {
  return {
    server,
    timestamp,
    nodeCpu: null,
    winCpu: null,
    memTotal: null,
    memAvailable: null,
    memTotalOld: null,
    memFreeOld: null,
    fs: new Map(),
  };
}

function fsEntry(acc: Accumulator, mount: string, fsType: string | null) {
  let entry = acc.fs.get(mount);
  if (entry === undefined) {
    entry = { fsType };
    acc.fs.set(mount, entry);
  }
  return entry;
}

/** Adds one sample of a read family to its accumulator. */
function addSample(acc: Accumulator, s: PromSample): void {
  const labels = s.labels;
  switch (s.name) {
    case NODE_CPU: {
      const cpu = acc.nodeCpu ?? { idle: 0, total: 0, series: 0 };
      acc.nodeCpu = cpu;
      cpu.total += s.value;
      cpu.series++;
      if (labels.mode === "idle" || labels.mode === "iowait") cpu.idle += s.value;
      return;
    }
    case WIN_CPU: {
      if (labels.mode !== "idle") return;
      const cpu = acc.winCpu ?? { idle: 0, cores: new Set<string>(), series: 0 };
      acc.winCpu = cpu;
      cpu.idle += s.value;
      cpu.series++;
      cpu.cores.add(labels.core ?? "");
      return;
    }
    case NODE_MEM_TOTAL:
    case WIN_MEM_TOTAL:
      acc.memTotal = s.value;
      return;
    case NODE_MEM_AVAILABLE:
    case WIN_MEM_FREE:
      acc.memAvailable = s.value;
      return;
    case WIN_MEM_TOTAL_OLD:
      acc.memTotalOld = s.value;
      return;
    case WIN_MEM_FREE_OLD:
      acc.memFreeOld = s.value;
      return;
    case NODE_FS_SIZE:
    case NODE_FS_AVAIL:
    case NODE_FS_FREE: {
      const mount = labels.mountpoint;
      const fsType = labels.fstype ?? null;
      if (mount === undefined || mount === "") return;
      if (!mayBeReported(mount, fsType)) return;
      const entry = fsEntry(acc, mount, fsType);
      if (s.name === NODE_FS_SIZE) entry.size = s.value;
      else if (s.name === NODE_FS_AVAIL) entry.avail = s.value;
      else entry.free = s.value;
      return;
    }
    case WIN_DISK_SIZE:
    case WIN_DISK_FREE: {
      const volume = labels.volume;
      if (volume === undefined || !DRIVE_LETTER.test(volume)) return;
      const entry = fsEntry(acc, volume.toUpperCase(), null);
      if (s.name === WIN_DISK_SIZE) entry.size = s.value;
      else {
        // Free space on Windows is what any user may write: it is both bfree and bavail.
        entry.avail = s.value;
        entry.free = s.value;
      }
      return;
    }
  }
}

const finiteNonNegative = (v: number | null | undefined): v is number =>
  v !== null && v !== undefined && Number.isFinite(v) && v >= 0;

function toGroup(acc: Accumulator): PointGroup {
  const group: PointGroup = { server: acc.server, timestamp: acc.timestamp, disks: [] };

  let cpu: CpuCounters | null = null;
  if (acc.nodeCpu !== null) {
    cpu = { idle: acc.nodeCpu.idle, total: acc.nodeCpu.total, start: null, series: acc.nodeCpu.series };
  } else if (acc.winCpu !== null) {
    const cores = acc.winCpu.cores.size;
    cpu = {
      idle: acc.winCpu.idle,
      total: (acc.timestamp / 1000) * cores,
      start: null,
      series: acc.winCpu.series,
    };
  }
  if (cpu !== null && finiteNonNegative(cpu.idle) && finiteNonNegative(cpu.total) && cpu.idle <= cpu.total) {
    group.cpuCounters = cpu;
  }

  const memTotal = acc.memTotal ?? acc.memTotalOld;
  const memAvailable = acc.memAvailable ?? acc.memFreeOld;
  if (finiteNonNegative(memTotal) && finiteNonNegative(memAvailable) && memTotal > 0) {
    group.memory = { totalBytes: memTotal, availableBytes: Math.min(memAvailable, memTotal) };
  }

  const mounts = [...acc.fs.keys()].sort();
  for (const mount of mounts) {
    const e = acc.fs.get(mount);
    if (e === undefined) continue;
    const { size, avail, free } = e;
    if (!finiteNonNegative(size) || !finiteNonNegative(avail) || !finiteNonNegative(free)) continue;
    const disk: DiskPoint = {
      mount,
      fsType: e.fsType,
      totalBytes: size,
      usedBytes: Math.max(0, size - Math.min(free, size)),
      freeBytes: Math.min(avail, size),
    };
    group.disks.push(disk);
  }
  return group;
}

/**
 * Groups samples by (server, timestampMs) and decodes the families above.
 * `serverOf` names a series' server from its labels (null: none); samples of
 * read families without a server are counted, not stored. A (server, time)
 * that had no sample of a read family gives no group. A family whose values
 * are not finite and non-negative (NaN, ±Inf, a negative size) is left out of
 * its group, so the sink reports it as missing.
 */
export function groupsFromPromSamples(
  samples: readonly PromSample[],
  serverOf: (labels: Readonly<Record<string, string>>) => string | null,
): { groups: PointGroup[]; seriesWithoutServer: number } {
  const byKey = new Map<string, Accumulator>();
  let seriesWithoutServer = 0;
  for (const s of samples) {
    if (!READ_FAMILIES.has(s.name)) continue;
    const server = serverOf(s.labels);
    if (server === null) {
      seriesWithoutServer += 1;
      continue;
    }
    const key = `${s.timestampMs}\u0000${server}`;
    let acc = byKey.get(key);
    if (acc === undefined) {
      acc = newAccumulator(server, s.timestampMs);
      byKey.set(key, acc);
    }
    addSample(acc, s);
  }
  const groups = [...byKey.values()].map(toGroup);
  groups.sort(
    (a, b) => a.timestamp - b.timestamp || (a.server < b.server ? -1 : a.server > b.server ? 1 : 0),
  );
  return { groups, seriesWithoutServer };
}
