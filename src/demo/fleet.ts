/**
 * A simulated fleet for `srvutil demo`: ten servers, clearly named `demo-…`,
 * each with a personality (busy, leaking memory, filling a disk) so the weekly
 * report has something to say. Exactly one, `demo-ci-silent`, stopped reporting
 * on purpose, to show that status; the others report up to now and on while the
 * demo serves. Deterministic for a given seed and time range, so demos and
 * tests are reproducible.
 */
import { AGENT_VERSION } from "../agent/version.js";
import { agentUserAgent } from "../protocol/agent-identity.js";
import type { MetricRow } from "../protocol/index.js";
import type { Tags } from "../protocol/tags.js";

const GiB = 1024 ** 3;

export interface DemoServerProfile {
  name: string;
  role: string;
  /** What its agent declares (`tags` in agent.json): the fleet page's chips and filter. */
  tags: Readonly<Record<string, string>>;
  /** The OS its agent reports in its User-Agent (the fleet page's Agent column); Linux unless said. */
  windows?: true;
  memTotalBytes: number;
  disks: { mount: string; totalBytes: number; usedFraction: number; growthPerDay: number }[];
  /** Baseline CPU % and the daily swing added during business hours. */
  cpuBase: number;
  cpuSwing: number;
  memBaseFraction: number;
  /** Memory fraction added per day (a leak), reset on restarts every `leakResetDays`. */
  memLeakPerDay: number;
  /** The server stops reporting this many hours before the range's `anchor` (silent), for good. */
  silentForHours?: number;
  /** Windows of hours into the week before the range's `anchor` with no samples (gaps). */
  gaps?: [number, number][];
}

/** How a demo server's agent introduces itself: its tags, and a User-Agent of this release as a real agent sends it (OS type and kernel release). */
export function demoSender(p: DemoServerProfile): { tags: Tags; userAgent: string } {
  return {
    tags: p.tags,
    userAgent:
      p.windows === true
        ? agentUserAgent(AGENT_VERSION, "win32", "x64", "Windows_NT 10.0.20348")
        : agentUserAgent(AGENT_VERSION, "linux", "x64", "Linux 6.1.0-28-amd64"),
  };
}

export const DEMO_FLEET: readonly DemoServerProfile[] = [
  {
    name: "demo-web-01",
    tags: { team: "web", env: "prod", site: "fra" },
    role: "web frontend",
    memTotalBytes: 8 * GiB,
    disks: [{ mount: "/", totalBytes: 80 * GiB, usedFraction: 0.41, growthPerDay: 0.0005 }],
    cpuBase: 8,
    cpuSwing: 25,
    memBaseFraction: 0.45,
    memLeakPerDay: 0,
  },
  {
    name: "demo-web-02",
    tags: { team: "web", env: "prod", site: "ams" },
    role: "web frontend",
    memTotalBytes: 8 * GiB,
    disks: [{ mount: "/", totalBytes: 80 * GiB, usedFraction: 0.39, growthPerDay: 0.0005 }],
    cpuBase: 9,
    cpuSwing: 27,
    memBaseFraction: 0.47,
    memLeakPerDay: 0,
  },
  {
    name: "demo-api-01",
    tags: { team: "payments", env: "prod", site: "fra" },
    role: "API, CPU-bound",
    memTotalBytes: 16 * GiB,
    disks: [{ mount: "/", totalBytes: 100 * GiB, usedFraction: 0.3, growthPerDay: 0.001 }],
    cpuBase: 70,
    cpuSwing: 30,
    memBaseFraction: 0.55,
    memLeakPerDay: 0,
  },
  {
    name: "demo-db-01",
    tags: { team: "data", env: "prod", site: "fra" },
    role: "PostgreSQL primary, data disk filling",
    memTotalBytes: 64 * GiB,
    disks: [
      { mount: "/", totalBytes: 50 * GiB, usedFraction: 0.35, growthPerDay: 0.0003 },
      { mount: "/var/lib/postgresql", totalBytes: 1024 * GiB, usedFraction: 0.6, growthPerDay: 0.007 },
    ],
    cpuBase: 20,
    cpuSwing: 30,
    memBaseFraction: 0.7,
    memLeakPerDay: 0,
  },
  {
    name: "demo-db-02",
    tags: { team: "data", env: "prod", site: "ams" },
    role: "PostgreSQL replica",
    memTotalBytes: 64 * GiB,
    disks: [
      { mount: "/", totalBytes: 50 * GiB, usedFraction: 0.33, growthPerDay: 0.0003 },
      { mount: "/var/lib/postgresql", totalBytes: 1024 * GiB, usedFraction: 0.52, growthPerDay: 0.004 },
    ],
    cpuBase: 10,
    cpuSwing: 12,
    memBaseFraction: 0.6,
    memLeakPerDay: 0,
  },
  {
    name: "demo-cache-01",
    tags: { team: "payments", env: "prod", site: "fra" },
    role: "Redis cache, memory leak",
    memTotalBytes: 32 * GiB,
    disks: [{ mount: "/", totalBytes: 40 * GiB, usedFraction: 0.22, growthPerDay: 0 }],
    cpuBase: 6,
    cpuSwing: 8,
    memBaseFraction: 0.62,
    memLeakPerDay: 0.045,
  },
  {
    name: "demo-batch-01",
    tags: { team: "data", env: "prod", site: "fra" },
    role: "nightly batch jobs",
    memTotalBytes: 32 * GiB,
    disks: [
      { mount: "/", totalBytes: 60 * GiB, usedFraction: 0.5, growthPerDay: 0 },
      { mount: "/scratch", totalBytes: 500 * GiB, usedFraction: 0.8, growthPerDay: 0.001 },
    ],
    cpuBase: 5,
    cpuSwing: 0,
    memBaseFraction: 0.3,
    memLeakPerDay: 0,
  },
  {
    name: "demo-files-01",
    windows: true,
    tags: { team: "it", env: "prod", site: "fra" },
    role: "file server (Windows)",
    memTotalBytes: 16 * GiB,
    disks: [
      { mount: "C:", totalBytes: 120 * GiB, usedFraction: 0.6, growthPerDay: 0.0008 },
      { mount: "D:", totalBytes: 4096 * GiB, usedFraction: 0.78, growthPerDay: 0.002 },
    ],
    cpuBase: 4,
    cpuSwing: 6,
    memBaseFraction: 0.5,
    memLeakPerDay: 0,
    gaps: [[60, 74]],
  },
  {
    name: "demo-ci-silent",
    tags: { team: "dev", env: "ci", site: "ams" },
    role: "CI runner, went silent on purpose (shows the Silent status)",
    memTotalBytes: 16 * GiB,
    disks: [{ mount: "/", totalBytes: 200 * GiB, usedFraction: 0.64, growthPerDay: 0.003 }],
    cpuBase: 30,
    cpuSwing: 45,
    memBaseFraction: 0.5,
    memLeakPerDay: 0,
    silentForHours: 60,
  },
  {
    name: "demo-mail-01",
    tags: { team: "it", env: "prod", site: "ams" },
    role: "mail relay",
    memTotalBytes: 4 * GiB,
    disks: [{ mount: "/", totalBytes: 30 * GiB, usedFraction: 0.45, growthPerDay: 0.0004 }],
    cpuBase: 3,
    cpuSwing: 4,
    memBaseFraction: 0.4,
    memLeakPerDay: 0,
  },
];

/** Small, fast, seedable PRNG (mulberry32): demos must be reproducible. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hashName(name: string): number {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
  return h >>> 0;
}

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

export interface SimulationRange {
  /** First sample time, epoch ms (rounded up to the interval). */
  from: number;
  /** Samples strictly before this, epoch ms. */
  to: number;
  intervalSeconds: number;
  /**
   * Day 0 of each personality (disk growth, memory leaks count from here), so
   * a later range continues the same curves; defaults to `from`.
   */
  origin?: number;
  /**
   * The end of the report week: gaps and going silent are placed relative to
   * it, so last week's report has them however late the history runs; defaults to `to`.
   */
  anchor?: number;
}

/**
 * Simulates one server's samples over the range, returning one array of rows
 * per UTC day (one upload file per day, as a backlog-flushing agent would).
 */
export function simulateServer(profile: DemoServerProfile, range: SimulationRange, seed = 1): MetricRow[][] {
  const rnd = seededRandom(seed ^ hashName(profile.name));
  const step = range.intervalSeconds * 1000;
  const start = Math.ceil(range.from / step) * step;
  const origin = range.origin ?? range.from;
  const anchor = range.anchor ?? range.to;
  const silentFrom =
    profile.silentForHours === undefined ? Infinity : anchor - profile.silentForHours * 3600_000;
  const files = new Map<number, MetricRow[]>();
  for (let ts = start; ts < range.to; ts += step) {
    if (ts >= silentFrom) break;
    const hoursSinceOrigin = (ts - origin) / 3600_000;
    // Gaps are placed relative to the week before the anchor.
    const hoursIntoLastWeek = (ts - (anchor - 7 * 86400_000)) / 3600_000;
    if (profile.gaps?.some(([a, b]) => hoursIntoLastWeek >= a && hoursIntoLastWeek < b)) continue;
    const days = hoursSinceOrigin / 24;
    const hourOfDay = new Date(ts).getUTCHours() + new Date(ts).getUTCMinutes() / 60;
    const weekday = new Date(ts).getUTCDay();
    const business =
      weekday >= 1 && weekday <= 5 ? Math.max(0, Math.sin(((hourOfDay - 6) / 14) * Math.PI)) : 0.15;
    const nightly = profile.cpuSwing === 0 && hourOfDay >= 1 && hourOfDay < 4 ? 85 : 0;
    const noise = (rnd() - 0.5) * 6;
    const cpu = clamp(profile.cpuBase + profile.cpuSwing * business + nightly + noise, 0, 100);
    const spike = rnd() < 0.02 ? 20 + rnd() * 40 : rnd() * 10;
    const peak = clamp(cpu + spike, cpu, 100);
    const leak = profile.memLeakPerDay * (days % 9);
    const memFraction = clamp(
      profile.memBaseFraction + leak + 0.08 * business + (rnd() - 0.5) * 0.02,
      0.05,
      0.995,
    );
    const memUsed = Math.round(profile.memTotalBytes * memFraction);
    for (const disk of profile.disks) {
      const usedFraction = clamp(
        disk.usedFraction + disk.growthPerDay * days + (rnd() - 0.5) * 0.0005,
        0,
        0.999,
      );
      const used = Math.round(disk.totalBytes * usedFraction);
      // ext4 reserves ~5 % for root: "free" (df Avail) excludes it.
      const reserved = disk.mount.endsWith(":") ? 0 : Math.round(disk.totalBytes * 0.05);
      const free = Math.max(0, disk.totalBytes - used - reserved);
      const day = Math.floor(ts / 86400_000);
      let rows = files.get(day);
      if (rows === undefined) {
        rows = [];
        files.set(day, rows);
      }
      rows.push({
        timestamp: ts,
        server: profile.name,
        cpuPercent: Math.round(cpu * 100) / 100,
        cpuPeakPercent: Math.round(peak * 100) / 100,
        intervalSeconds: range.intervalSeconds,
        memTotalBytes: profile.memTotalBytes,
        memUsedBytes: memUsed,
        memAvailableBytes: profile.memTotalBytes - memUsed,
        diskMount: disk.mount,
        diskTotalBytes: disk.totalBytes,
        diskUsedBytes: used,
        diskFreeBytes: free,
      });
    }
  }
  return [...files.entries()].sort((a, b) => a[0] - b[0]).map(([, rows]) => rows);
}
