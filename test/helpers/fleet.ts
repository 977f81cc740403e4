import { seededRandom } from "../../src/demo/fleet.js";
import type { MetricRow } from "../../src/protocol/index.js";

/** Small deterministic PRNG (mulberry32) so generated fleets are reproducible from a seed. */
export const rng = seededRandom;

export interface ServerProfile {
  server: string;
  intervalSeconds: number;
  mounts: string[];
  /** Typical CPU % and its daily swing. */
  cpuBase: number;
  cpuSwing: number;
  memTotal: number;
  memBase: number;
  diskTotal: number[];
  /** Used bytes at `from` and growth per day, per mount. */
  diskUsed0: number[];
  diskGrowthPerDay: number[];
  /** Leave out samples with this probability (coverage gaps). */
  dropRate: number;
  /** Stop sending after this instant (a server that went silent). */
  stopAt?: number;
  /** Extra CPU % added in [from, to) (an incident). */
  incident?: { from: number; to: number; cpu: number };
  /** Send cpu_peak_percent and interval_seconds. */
  optionalColumns: boolean;
}

const GiB = 1024 ** 3;

export function randomProfile(r: () => number, server: string): ServerProfile {
  const mountCount = 1 + Math.floor(r() * 3);
  const mounts = ["/", "/data", "/var/log"].slice(0, mountCount);
  const diskTotal = mounts.map(() => Math.round((20 + r() * 480) * GiB));
  return {
    server,
    intervalSeconds: r() < 0.7 ? 60 : 300,
    mounts,
    cpuBase: 5 + r() * 50,
    cpuSwing: r() * 30,
    memTotal: [4, 8, 16, 32, 64][Math.floor(r() * 5)]! * GiB,
    memBase: 0.2 + r() * 0.6,
    diskTotal,
    diskUsed0: diskTotal.map((t) => Math.round(t * (0.1 + r() * 0.6))),
    diskGrowthPerDay: diskTotal.map((t) => Math.round(t * (r() < 0.3 ? r() * 0.01 : 0))),
    dropRate: r() < 0.2 ? r() * 0.3 : 0,
    optionalColumns: r() < 0.8,
  };
}

/** All rows of one server in [from, to), in timestamp order (mount order within a timestamp). */
export function* profileRows(p: ServerProfile, from: number, to: number, seed: number): Generator<MetricRow> {
  const r = rng(seed);
  const step = p.intervalSeconds * 1000;
  const first = Math.ceil(from / step) * step;
  for (let ts = first; ts < to; ts += step) {
    if (p.stopAt !== undefined && ts >= p.stopAt) return;
    if (p.dropRate > 0 && r() < p.dropRate) continue;
    const hourOfDay = (ts / 3_600_000) % 24;
    const daily = Math.sin(((hourOfDay - 8) / 24) * 2 * Math.PI);
    let cpu = p.cpuBase + p.cpuSwing * daily + (r() - 0.5) * 10;
    if (p.incident !== undefined && ts >= p.incident.from && ts < p.incident.to) cpu += p.incident.cpu;
    cpu = Math.round(Math.min(100, Math.max(0, cpu)) * 100) / 100;
    const peak = Math.round(Math.min(100, cpu + r() * 25) * 100) / 100;
    const memUsed = Math.round(
      p.memTotal * Math.min(0.99, Math.max(0.02, p.memBase + daily * 0.05 + (r() - 0.5) * 0.04)),
    );
    const days = (ts - from) / 86_400_000;
    for (let m = 0; m < p.mounts.length; m++) {
      const total = p.diskTotal[m]!;
      const used = Math.min(total, Math.round(p.diskUsed0[m]! + p.diskGrowthPerDay[m]! * days + r() * 1e6));
      const reserved = Math.round(total * 0.05);
      yield {
        timestamp: ts,
        server: p.server,
        cpuPercent: cpu,
        cpuPeakPercent: p.optionalColumns ? peak : null,
        intervalSeconds: p.optionalColumns ? p.intervalSeconds : null,
        memTotalBytes: p.memTotal,
        memUsedBytes: memUsed,
        memAvailableBytes: p.memTotal - memUsed,
        diskMount: p.mounts[m]!,
        diskTotalBytes: total,
        diskUsedBytes: used,
        diskFreeBytes: Math.max(0, total - used - reserved),
      };
    }
  }
}
