import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cpuCountersFromOsCpus, cpuPercentFromCounters } from "../../src/agent/collector/cpu.js";
import { ProcStatParseError, parseProcStat } from "../../src/agent/collector/cpu_linux.js";
import { bytesFromStatfs, fsTypeIsReported, mountIsReported } from "../../src/agent/collector/disk.js";
import {
  parseDarwinMountTypes,
  parseDfPosix,
  readDisksDarwin,
  selectDarwinDisks,
} from "../../src/agent/collector/disk_darwin.js";
import { parseMountinfo, selectRealMounts } from "../../src/agent/collector/disk_linux.js";
import { readDisksWin32, Win32DriveList } from "../../src/agent/collector/disk_win32.js";
import { platformCollector, UnsupportedPlatformError } from "../../src/agent/collector/index.js";
import { MemoryParseError } from "../../src/agent/collector/memory.js";
import { parseVmStat, readMemoryDarwin } from "../../src/agent/collector/memory_darwin.js";
import { parseMeminfo } from "../../src/agent/collector/memory_linux.js";
import { parseWin32OperatingSystem } from "../../src/agent/collector/memory_win32.js";
import { type CommandRunner, DEFAULT_DISK_FILTER, type DiskFilter } from "../../src/agent/collector/types.js";

const fixture = (...p: string[]) =>
  readFileSync(join(import.meta.dirname, "../fixtures/agent", ...p), "utf8");
const filter = (f: Partial<DiskFilter> = {}): DiskFilter => ({ ...DEFAULT_DISK_FILTER, ...f });

describe("Linux /proc/stat", () => {
  it("computes busy = total − idle − iowait from the man page example, guest excluded", () => {
    const c = parseProcStat(fixture("linux", "proc-stat-loaded.txt"));
    // user 4705 nice 356 system 584 idle 3699 iowait 23 irq 23 softirq 0 steal 0
    expect(c.total).toBe(4705 + 356 + 584 + 3699 + 23 + 23);
    expect(c.busy).toBe(4705 + 356 + 584 + 23);
  });

  it("parses this machine's captured /proc/stat", () => {
    const text = fixture("linux", "proc-stat.txt");
    const c = parseProcStat(text);
    const fields = text.split("\n")[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
    expect(c.total).toBe(fields.reduce((a, b) => a + b, 0));
    expect(c.busy).toBe(c.total - fields[3]! - fields[4]!);
  });

  it("does not double count guest time", () => {
    const c = parseProcStat("cpu  100 0 0 100 0 0 0 0 50 10\n");
    expect(c).toEqual({ busy: 100, total: 200 });
  });

  it("refuses a file without the aggregate line", () => {
    expect(() => parseProcStat("cpu0 1 2 3 4\n")).toThrow(ProcStatParseError);
    expect(() => parseProcStat("cpu  1 x 3 4\n")).toThrow(/malformed/);
  });

  it("turns two readings into an interval average", () => {
    expect(cpuPercentFromCounters({ busy: 100, total: 1000 }, { busy: 350, total: 2000 })).toBe(25);
    expect(cpuPercentFromCounters({ busy: 5, total: 10 }, { busy: 5, total: 10 })).toBeNull();
  });
});

describe("os.cpus() counters (macOS, Windows)", () => {
  it("sums user+nice+sys+irq as busy over all CPUs", () => {
    const cpus = [
      { times: { user: 100, nice: 10, sys: 50, idle: 800, irq: 40 } },
      { times: { user: 300, nice: 0, sys: 100, idle: 600, irq: 0 } },
    ];
    expect(cpuCountersFromOsCpus(cpus)).toEqual({ busy: 600, total: 2000 });
  });
});

describe("Linux /proc/meminfo", () => {
  it("uses MemAvailable and used = total − available", () => {
    const m = parseMeminfo("MemTotal:  1000 kB\nMemFree:  100 kB\nMemAvailable:  600 kB\nCached:  400 kB\n");
    expect(m).toEqual({ totalBytes: 1_024_000, availableBytes: 614_400, usedBytes: 409_600 });
  });

  it("parses this machine's captured meminfo", () => {
    const text = fixture("linux", "meminfo.txt");
    const kib = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(text)![1]) * 1024;
    const m = parseMeminfo(text);
    expect(m.totalBytes).toBe(kib("MemTotal"));
    expect(m.availableBytes).toBe(kib("MemAvailable"));
    expect(m.usedBytes).toBe(kib("MemTotal") - kib("MemAvailable"));
  });

  it("falls back to MemFree + Buffers + Cached on kernels before 3.14", () => {
    const m = parseMeminfo(fixture("linux", "meminfo-old-kernel.txt"));
    expect(m.availableBytes).toBe((512000 + 128000 + 256000) * 1024);
    expect(m.totalBytes).toBe(2048000 * 1024);
  });

  it("refuses a file without MemTotal", () => {
    expect(() => parseMeminfo("MemFree: 1 kB\n")).toThrow(MemoryParseError);
  });
});

describe("Linux mountinfo", () => {
  it("keeps real filesystems of a typical server, once per device", () => {
    const entries = parseMountinfo(fixture("linux", "mountinfo-server.txt"));
    const mounts = selectRealMounts(entries, filter()).map((e) => `${e.mountPoint} ${e.fsType}`);
    expect(mounts).toEqual([
      "/ ext4",
      "/boot ext4",
      "/boot/efi vfat",
      "/mnt/share nfs4",
      "/srv/backup data ext4", // \040 unescaped
      "/var/lib/postgresql xfs", // its bind mount /srv/nfs/pg is a duplicate
    ]);
  });

  it("drops bind-mount duplicates and keeps the filesystem root", () => {
    const text = [
      "30 1 8:1 /var/lib/data /srv/data rw - ext4 /dev/sda1 rw",
      "31 1 8:1 / /data rw - ext4 /dev/sda1 rw",
      "32 1 8:2 / /b rw - ext4 /dev/sda2 rw",
      "33 1 8:2 / /a rw - ext4 /dev/sda2 rw",
    ].join("\n");
    expect(selectRealMounts(parseMountinfo(text), filter()).map((e) => e.mountPoint)).toEqual([
      "/a",
      "/data",
    ]);
  });

  it("in a container whose root is an overlay, still reports /", () => {
    const text = [
      "600 500 0:52 / / rw,relatime - overlay overlay rw,lowerdir=/var/lib/docker/overlay2/l/X",
      "601 600 0:55 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw",
      "602 600 0:56 / /dev rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755",
    ].join("\n");
    expect(
      selectRealMounts(parseMountinfo(text), filter()).map((e) => `${e.mountPoint} ${e.fsType}`),
    ).toEqual(["/ overlay"]);
    expect(selectRealMounts(parseMountinfo(text), filter({ excludeMounts: ["/"] }))).toEqual([]);
  });

  it("a later mount on the same point hides the earlier one", () => {
    const text = "30 1 8:1 / /mnt rw - ext4 /dev/sda1 rw\n40 30 0:50 / /mnt rw - tmpfs tmpfs rw\n";
    expect(selectRealMounts(parseMountinfo(text), filter())).toEqual([]);
  });

  it("on this machine keeps / and skips the pseudo filesystems", () => {
    const mounts = selectRealMounts(parseMountinfo(fixture("linux", "mountinfo-this-machine.txt")), filter());
    expect(mounts.map((m) => m.mountPoint)).toContain("/");
    for (const m of mounts)
      expect(["proc", "sysfs", "tmpfs", "devtmpfs", "cgroup", "cgroup2"]).not.toContain(m.fsType);
  });

  it("applies include and exclude lists (globs, fs types)", () => {
    const entries = parseMountinfo(fixture("linux", "mountinfo-server.txt"));
    const pick = (f: Partial<DiskFilter>) => selectRealMounts(entries, filter(f)).map((e) => e.mountPoint);
    expect(pick({ excludeMounts: ["/boot*"] })).not.toContain("/boot/efi");
    expect(pick({ excludeMounts: ["/boot*"] })).not.toContain("/boot");
    expect(pick({ includeMounts: ["/", "/var/lib/*"] })).toEqual(["/", "/var/lib/postgresql"]);
    expect(pick({ excludeFsTypes: ["nfs*"] })).not.toContain("/mnt/share");
    expect(pick({ includeFsTypes: ["tmpfs"] })).toContain("/run");
    expect(pick({ includeMounts: ["/dev/shm"] })).toEqual(["/dev/shm"]);
  });

  it("classifies fs types", () => {
    expect(fsTypeIsReported("ext4", filter())).toBe(true);
    expect(fsTypeIsReported("overlay", filter())).toBe(false);
    expect(mountIsReported("/x", "squashfs", filter({ includeFsTypes: ["squashfs"] }))).toBe(true);
  });

  it("does df's arithmetic on statfs figures", () => {
    const b = bytesFromStatfs({ bsize: 4096n, blocks: 1000n, bfree: 300n, bavail: 250n });
    expect(b).toEqual({ totalBytes: 4_096_000, usedBytes: 700 * 4096, freeBytes: 250 * 4096 });
  });
});

describe("macOS vm_stat, sysctl, df", () => {
  it("available = free + inactive + speculative pages", () => {
    const m = parseVmStat(fixture("darwin", "vm_stat.txt"), fixture("darwin", "sysctl-hw.memsize.txt"));
    expect(m.totalBytes).toBe(17_179_869_184);
    expect(m.availableBytes).toBe((13255 + 280683 + 4960) * 16384);
    expect(m.usedBytes).toBe(m.totalBytes - m.availableBytes);
  });

  it("refuses output without a page size", () => {
    expect(() => parseVmStat("Pages free: 1.\n", "100")).toThrow(/page size/);
    expect(() => parseVmStat(fixture("darwin", "vm_stat.txt"), "oops")).toThrow(/hw.memsize/);
  });

  it("reports / , the Data volume and external volumes; skips system volumes, devfs, autofs", () => {
    const df = parseDfPosix(fixture("darwin", "df-k-P.txt"));
    const types = parseDarwinMountTypes(fixture("darwin", "mount.txt"));
    expect(types.get("/Volumes/Backup Disk")).toBe("apfs");
    const disks = selectDarwinDisks(df, types, filter());
    expect(disks.map((d) => d.mount)).toEqual(["/", "/System/Volumes/Data", "/Volumes/Backup Disk"]);
    const root = disks[0]!;
    expect(root).toMatchObject({
      totalBytes: 482797652 * 1024,
      usedBytes: 10044384 * 1024,
      freeBytes: 159230256 * 1024,
      fsType: "apfs",
    });
  });
});

describe("Windows memory (disks: disk-win32.test.ts)", () => {
  it("parses Win32_OperatingSystem memory figures (KiB)", () => {
    const m = parseWin32OperatingSystem(fixture("win32", "wmic-os-memory.txt"));
    expect(m.totalBytes).toBe(33417272 * 1024);
    expect(m.availableBytes).toBe(9326576 * 1024);
  });
});

describe("platform readers wired to captured command output", () => {
  const runner =
    (outputs: Record<string, string>): CommandRunner =>
    async (command, args) => {
      const key = [command, ...args].join(" ");
      const out = outputs[key];
      if (out === undefined) throw new Error(`${command}: not found`);
      return out;
    };

  it("macOS: memory from vm_stat + sysctl; disks from df, statfs failing on foreign paths falls back to df's figures", async () => {
    const run = runner({
      vm_stat: fixture("darwin", "vm_stat.txt"),
      "sysctl -n hw.memsize": fixture("darwin", "sysctl-hw.memsize.txt"),
      "df -k -P": fixture("darwin", "df-k-P.txt"),
      mount: fixture("darwin", "mount.txt"),
    });
    const memory = await readMemoryDarwin(run);
    expect(memory.totalBytes).toBe(17_179_869_184);
    const { disks, problems } = await readDisksDarwin(run, filter({ excludeMounts: ["/"] }));
    expect(disks.map((d) => d.mount)).toEqual(["/System/Volumes/Data", "/Volumes/Backup Disk"]);
    // This machine has no /Volumes/Backup Disk: its row keeps df's KiB figures, with a note.
    expect(disks[1]!.totalBytes).toBe(976426656 * 1024);
    expect(problems.join("\n")).toMatch(/Backup Disk: statfs failed, using df's KiB figures/);
  });

  it("Windows: falls back from PowerShell to wmic for the drive list, then measures each drive", async () => {
    const run = runner({
      "wmic logicaldisk get DeviceID,DriveType,FileSystem /format:csv": fixture(
        "win32",
        "wmic-logicaldisk-csv.txt",
      ),
    });
    const measured: string[] = [];
    const { disks } = await readDisksWin32(new Win32DriveList(run), filter(), async (path) => {
      measured.push(path);
      return { totalBytes: 100, usedBytes: 40, freeBytes: 60 };
    });
    expect(disks.map((d) => d.mount)).toEqual(["C:", "D:"]);
    expect(measured.sort()).toEqual(["C:\\", "D:\\"]);
  });

  it("refuses to guess on an unsupported platform", () => {
    expect(() => platformCollector("aix")).toThrow(UnsupportedPlatformError);
  });
});
