import type { MetricRow } from "../../../src/protocol/index.js";
import { rng } from "../../helpers/fleet.js";

export const GiB = 1024 ** 3;
export const HOUR = 3_600_000;
export const DAY = 86_400_000;

/** One server drawn by functions of time: every figure is what the test says it is at `ts`. */
export interface Shape {
  server: string;
  intervalSeconds?: number;
  from: number;
  to: number;
  /** Memory used, % of the total. */
  memPercent: (ts: number) => number;
  cpu: (ts: number) => number;
  memTotal?: (ts: number) => number;
  /** Mounts present at `ts` with their total and used bytes (free = total − used). */
  mounts?: (ts: number) => { mount: string; total: number; used: number }[];
  /** Skip this sample (the agent did not run). */
  skip?: (ts: number) => boolean;
}

/** Rows of a shape, with a little noise (±0.5 points) so that no line is exact. */
export function* shapeRows(s: Shape, seed = 1): Generator<MetricRow> {
  const r = rng(seed);
  const step = (s.intervalSeconds ?? 600) * 1000;
  for (let ts = Math.ceil(s.from / step) * step; ts < s.to; ts += step) {
    if (s.skip?.(ts)) continue;
    const memTotal = s.memTotal?.(ts) ?? 16 * GiB;
    const memPct = Math.min(99.9, Math.max(0.1, s.memPercent(ts) + (r() - 0.5)));
    const memUsed = Math.round((memTotal * memPct) / 100);
    const cpu = Math.round(Math.min(100, Math.max(0, s.cpu(ts) + (r() - 0.5))) * 100) / 100;
    const mounts = s.mounts?.(ts) ?? [{ mount: "/", total: 100 * GiB, used: 40 * GiB }];
    for (const m of mounts) {
      yield {
        timestamp: ts,
        server: s.server,
        cpuPercent: cpu,
        cpuPeakPercent: Math.min(100, cpu + 5),
        intervalSeconds: s.intervalSeconds ?? 600,
        memTotalBytes: memTotal,
        memUsedBytes: memUsed,
        memAvailableBytes: memTotal - memUsed,
        diskMount: m.mount,
        diskTotalBytes: m.total,
        diskUsedBytes: m.used,
        diskFreeBytes: Math.max(0, m.total - m.used),
      };
    }
  }
}

/** A gentle daily swing (±amplitude, peak in the afternoon UTC) for shapes that should look alive. */
export function diurnal(ts: number, amplitude: number): number {
  return amplitude * Math.sin((((ts / HOUR) % 24) - 8) * ((2 * Math.PI) / 24));
}
