/**
 * Batched reads the dashboard needs beyond the rollup port: one server's
 * hour points with peaks and disk figures (charts up to a month), and the
 * whole fleet's last hours in one go (the fleet page's current figures and
 * sparklines). Both backends read their hourly rollup tables, so the figures
 * are those of the last `rollups.refresh()` (central serve's RollupMaintainer
 * runs it every 30 s; a caller reading right after its own ingest, as the
 * tests do, refreshes first).
 */
export interface HourPoint {
  /** Start of the UTC hour, epoch ms. */
  hour: number;
  samples: number;
  cpuAvg: number;
  cpuPeak: number;
  memAvg: number;
  memPeak: number;
  /** Last sample of the hour per mount, sorted by mount. */
  disks: { mount: string; percent: number; usedBytes: number; totalBytes: number }[];
}

/** One hour of one server on the fleet page (no per-mount detail). */
export interface FleetHour {
  hour: number;
  cpuAvg: number;
  memAvg: number;
}

export interface FleetLatest {
  /** The newest hour with samples in the window. */
  hour: number;
  cpuAvg: number;
  memAvg: number;
  /** The fullest mount in that hour, or null without disks. */
  worstDisk: { mount: string; percent: number } | null;
  /** The memory size in that hour's last sample, bytes; null when unknown (0 in the rollup). */
  memTotalBytes: number | null;
}

export interface DashboardReads {
  /** One server's hours in [from, to), chronological; hours without samples are left out. */
  hourPoints(server: string, from: number, to: number): Promise<HourPoint[]>;
  /** Every server's hours in [from, to) and its newest hour there. Servers without samples there are absent. */
  fleetHours(from: number, to: number): Promise<Map<string, { hours: FleetHour[]; latest: FleetLatest }>>;
}
