import { describe, expect, it } from "vitest";
import {
  groupsFromPromSamples,
  type PromSample,
} from "../../../src/central/ingest/interop/prometheus-families.js";

const T = Date.parse("2026-12-07T09:00:00Z");
const byInstance = (labels: Readonly<Record<string, string>>): string | null => labels.server ?? null;

function s(name: string, labels: Record<string, string>, value: number, timestampMs = T): PromSample {
  return { name, labels: { server: "web-01", ...labels }, value, timestampMs };
}

/** Two cpus of a real node_exporter 1.5 scrape (values from this machine's /metrics). */
function nodeCpu(at = T, scale = 1): PromSample[] {
  const perCpu: Record<string, number> = {
    idle: 81234.56,
    iowait: 123.45,
    irq: 0,
    nice: 12.3,
    softirq: 45.67,
    steal: 7.5,
    system: 2345.6,
    user: 5678.9,
  };
  const out: PromSample[] = [];
  for (const cpu of ["0", "1"]) {
    for (const [mode, v] of Object.entries(perCpu))
      out.push(s("node_cpu_seconds_total", { cpu, mode }, v * scale, at));
  }
  return out;
}

describe("groupsFromPromSamples: node_exporter", () => {
  it("sums node_cpu_seconds_total over cpus: idle = idle + iowait, total = every mode, steal busy", () => {
    const { groups, seriesWithoutServer } = groupsFromPromSamples(nodeCpu(), byInstance);
    expect(seriesWithoutServer).toBe(0);
    expect(groups).toHaveLength(1);
    const cpu = groups[0]?.cpuCounters;
    expect(cpu?.idle).toBeCloseTo(2 * (81234.56 + 123.45), 6);
    expect(cpu?.total).toBeCloseTo(2 * (81234.56 + 123.45 + 0 + 12.3 + 45.67 + 7.5 + 2345.6 + 5678.9), 6);
    // steal counts as busy: busy = total − idle contains it.
    expect((cpu?.total ?? 0) - (cpu?.idle ?? 0)).toBeCloseTo(2 * (12.3 + 45.67 + 7.5 + 2345.6 + 5678.9), 6);
    expect(cpu?.start).toBeNull();
  });

  it("reads memory and filesystems: free = avail, used = size − free_bytes, pseudo fs dropped", () => {
    const samples = [
      s("node_memory_MemTotal_bytes", {}, 16_673_947_648),
      s("node_memory_MemAvailable_bytes", {}, 9_876_543_488),
      s("node_memory_MemFree_bytes", {}, 1_234_567_168),
      ...[
        ["/", "ext4", "/dev/sda1", 105_089_261_568, 60_112_363_520, 65_486_401_536],
        ["/boot/efi", "vfat", "/dev/sda15", 109_422_592, 103_129_088, 103_129_088],
        ["/run", "tmpfs", "tmpfs", 1_667_399_680, 1_665_253_376, 1_665_253_376],
      ].flatMap(([mountpoint, fstype, device, size, avail, free]) => {
        const l = { device: String(device), fstype: String(fstype), mountpoint: String(mountpoint) };
        return [
          s("node_filesystem_size_bytes", l, Number(size)),
          s("node_filesystem_avail_bytes", l, Number(avail)),
          s("node_filesystem_free_bytes", l, Number(free)),
          s("node_filesystem_files", l, 6_553_600),
        ];
      }),
    ];
    const { groups } = groupsFromPromSamples(samples, byInstance);
    expect(groups).toEqual([
      {
        server: "web-01",
        timestamp: T,
        memory: { totalBytes: 16_673_947_648, availableBytes: 9_876_543_488 },
        disks: [
          {
            mount: "/",
            fsType: "ext4",
            totalBytes: 105_089_261_568,
            usedBytes: 105_089_261_568 - 65_486_401_536,
            freeBytes: 60_112_363_520,
          },
          {
            mount: "/boot/efi",
            fsType: "vfat",
            totalBytes: 109_422_592,
            usedBytes: 6_293_504,
            freeBytes: 103_129_088,
          },
        ],
      },
    ]);
  });

  it("groups by (server, timestamp), counts read series without a server, ignores unknown families", () => {
    const other = (x: PromSample): PromSample => ({ ...x, labels: { ...x.labels, server: "db-01" } });
    const samples = [
      ...nodeCpu(T),
      ...nodeCpu(T + 60_000, 1.001),
      ...nodeCpu(T).map(other),
      { name: "node_memory_MemTotal_bytes", labels: {}, value: 1, timestampMs: T },
      { name: "go_goroutines", labels: {}, value: 8, timestampMs: T },
      s("node_load1", {}, 0.42),
    ];
    const { groups, seriesWithoutServer } = groupsFromPromSamples(samples, byInstance);
    expect(seriesWithoutServer).toBe(1);
    expect(groups.map((g) => [g.server, g.timestamp])).toEqual([
      ["db-01", T],
      ["web-01", T],
      ["web-01", T + 60_000],
    ]);
  });

  it("leaves out a family whose value is NaN or negative, and gives no group for unknown families only", () => {
    const { groups } = groupsFromPromSamples(
      [
        s("node_memory_MemTotal_bytes", {}, Number.NaN),
        s("node_memory_MemAvailable_bytes", {}, 100),
        s("node_cpu_seconds_total", { cpu: "0", mode: "idle" }, -5),
        s("node_filesystem_size_bytes", { mountpoint: "/", fstype: "ext4" }, 100),
        s("node_filesystem_avail_bytes", { mountpoint: "/", fstype: "ext4" }, 50),
      ],
      byInstance,
    );
    expect(groups).toEqual([{ server: "web-01", timestamp: T, disks: [] }]);
    expect(groupsFromPromSamples([s("node_load1", {}, 1)], byInstance).groups).toEqual([]);
  });
});

describe("groupsFromPromSamples: windows_exporter", () => {
  function winCpu(at: number, idlePerCore: number): PromSample[] {
    const out: PromSample[] = [];
    for (const core of ["0,0", "0,1", "0,2", "0,3"]) {
      out.push(s("windows_cpu_time_total", { core, mode: "idle" }, idlePerCore, at));
      // Overlapping modes: privileged already includes dpc and interrupt.
      out.push(s("windows_cpu_time_total", { core, mode: "privileged" }, 900, at));
      out.push(s("windows_cpu_time_total", { core, mode: "dpc" }, 80, at));
      out.push(s("windows_cpu_time_total", { core, mode: "interrupt" }, 60, at));
      out.push(s("windows_cpu_time_total", { core, mode: "user" }, 1500, at));
    }
    return out;
  }

  it("uses the idle rate only: total = wall seconds × cores", () => {
    const a = groupsFromPromSamples(winCpu(T, 10_000), byInstance).groups[0]?.cpuCounters;
    const b = groupsFromPromSamples(winCpu(T + 60_000, 10_045), byInstance).groups[0]?.cpuCounters;
    expect(a?.idle).toBe(40_000);
    expect(a?.total).toBe((T / 1000) * 4);
    if (a === undefined || b === undefined) throw new Error("no cpu counters");
    // 4 cores × 60 s = 240 core-seconds, 180 of them idle: 25 % busy.
    const busy = (100 * (b.total - a.total - (b.idle - a.idle))) / (b.total - a.total);
    expect(busy).toBeCloseTo(25, 6);
  });

  it("reads 0.31 memory names, older names when those are absent, and drive-letter volumes only", () => {
    const { groups } = groupsFromPromSamples(
      [
        s("windows_memory_physical_total_bytes", {}, 17_179_869_184),
        s("windows_memory_physical_free_bytes", {}, 8_589_934_592),
        s("windows_logical_disk_size_bytes", { volume: "C:" }, 255_465_615_360),
        s("windows_logical_disk_free_bytes", { volume: "C:" }, 120_000_000_000),
        s("windows_logical_disk_size_bytes", { volume: "HarddiskVolume1" }, 523_235_328),
        s("windows_logical_disk_free_bytes", { volume: "HarddiskVolume1" }, 90_000_000),
      ],
      byInstance,
    );
    expect(groups).toEqual([
      {
        server: "web-01",
        timestamp: T,
        memory: { totalBytes: 17_179_869_184, availableBytes: 8_589_934_592 },
        disks: [
          {
            mount: "C:",
            fsType: null,
            totalBytes: 255_465_615_360,
            usedBytes: 135_465_615_360,
            freeBytes: 120_000_000_000,
          },
        ],
      },
    ]);
    const old = groupsFromPromSamples(
      [
        s("windows_cs_physical_memory_bytes", {}, 8_589_934_592),
        s("windows_os_physical_memory_free_bytes", {}, 2_147_483_648),
      ],
      byInstance,
    ).groups;
    expect(old[0]?.memory).toEqual({ totalBytes: 8_589_934_592, availableBytes: 2_147_483_648 });
  });
});
