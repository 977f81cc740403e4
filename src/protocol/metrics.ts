/**
 * The metrics CSV v1 contract: the one format the agent writes and the central
 * accepts. See docs/protocol.md for the normative description.
 */

/** One row of a metrics file: one disk mount of one sample of one server. */
export interface MetricRow {
  /** End of the sample's interval, epoch milliseconds (UTC). */
  timestamp: number;
  server: string;
  /** Average CPU busy % over the interval ending at `timestamp`. */
  cpuPercent: number;
  /** Highest sub-sample inside the interval, when the agent measured one. */
  cpuPeakPercent: number | null;
  intervalSeconds: number | null;
  memTotalBytes: number;
  memUsedBytes: number;
  memAvailableBytes: number;
  diskMount: string;
  diskTotalBytes: number;
  diskUsedBytes: number;
  diskFreeBytes: number;
}

export const REQUIRED_COLUMNS = [
  "timestamp",
  "server",
  "cpu_percent",
  "mem_total_bytes",
  "mem_used_bytes",
  "mem_available_bytes",
  "disk_mount",
  "disk_total_bytes",
  "disk_used_bytes",
  "disk_free_bytes",
] as const;

export const OPTIONAL_COLUMNS = ["cpu_peak_percent", "interval_seconds"] as const;

export type RequiredColumn = (typeof REQUIRED_COLUMNS)[number];
export type OptionalColumn = (typeof OPTIONAL_COLUMNS)[number];
export type KnownColumn = RequiredColumn | OptionalColumn;

/** The order the agent writes columns in (readers accept any order). */
export const CANONICAL_COLUMNS: readonly KnownColumn[] = [
  "timestamp",
  "server",
  "cpu_percent",
  "cpu_peak_percent",
  "interval_seconds",
  "mem_total_bytes",
  "mem_used_bytes",
  "mem_available_bytes",
  "disk_mount",
  "disk_total_bytes",
  "disk_used_bytes",
  "disk_free_bytes",
];

/** Longest disk_mount accepted, in characters. */
export const MAX_MOUNT_LENGTH = 1024;
/** Longest interval_seconds accepted: a year. */
export const MAX_INTERVAL_SECONDS = 366 * 86400;

export const SERVER_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * Names Windows reserves for devices, with or without an extension. A server
 * name becomes a folder name under received_metrics/, so these are refused
 * even though they match the character pattern.
 */
const WINDOWS_DEVICE_NAME = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$/i;

/** Returns why `name` is not a valid server name, or null when it is. */
export function serverNameProblem(name: string): string | null {
  if (!SERVER_NAME_PATTERN.test(name)) {
    return "server name must be 1-64 characters of A-Z a-z 0-9 . _ - starting with a letter or digit";
  }
  if (WINDOWS_DEVICE_NAME.test(name)) return `server name '${name}' is a reserved device name`;
  if (name.endsWith(".")) return "server name must not end with '.'";
  return null;
}

export function isValidServerName(name: string): boolean {
  return serverNameProblem(name) === null;
}

export const KNOWN_COLUMN_SET: ReadonlySet<string> = new Set<string>([
  ...REQUIRED_COLUMNS,
  ...OPTIONAL_COLUMNS,
]);
