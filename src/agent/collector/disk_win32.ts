import { SrvutilError } from "../../errors.js";
import { mountIsReported, type StatfsBytes, statfsBytes } from "./disk.js";
import type { DiskCollectResult } from "./disk_linux.js";
import type { CommandRunner, DiskFilter, DiskReading } from "./types.js";

export class Win32DiskParseError extends SrvutilError {
  constructor(message: string) {
    // The OS printed something we cannot read: our bug or an OS we do not know yet.
    super("internal", message);
  }
}

/** Win32_LogicalDisk.DriveType 3 = local fixed disk (2 removable, 4 network, 5 CD). */
const FIXED_DISK = "3";

/** One drive as the listing names it; sizes are read per sample with statfs. */
export interface DriveEntry {
  mount: string;
  /** Win32_LogicalDisk.DriveType as text ("3" fixed), "" when the listing has no such column. */
  driveType: string;
  fsType: string;
}

/**
 * Parses a drive listing in any shape Windows prints it: PowerShell
 * ConvertTo-Csv, `wmic … /format:csv`, or wmic's default table (what Wine's
 * wmic prints). Sizes are ignored: statfs reads them per sample.
 */
export function parseDriveList(text: string): DriveEntry[] {
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.replace(/\s+$/, ""))
    .filter((l) => l.trim() !== "" && !l.startsWith("#TYPE"));
  if (lines.length === 0) return [];
  const headerLine = lines[0]!.trim();
  let rows: string[][];
  let header: string[];
  if (headerLine.includes(",")) {
    const split = (l: string) =>
      l
        .trim()
        .split(",")
        .map((f) => f.replace(/^"(.*)"$/, "$1"));
    header = split(headerLine);
    rows = lines.slice(1).map(split);
  } else {
    // Table: the column names in order (Wine prints them without separating spaces), then
    // whitespace-separated values; only FileSystem, the last column asked for, may be empty.
    header = headerLine.match(/DeviceID|DriveType|FileSystem|FreeSpace|Size|Node/gi) ?? [];
    rows = lines.slice(1).map((l) => l.trim().split(/\s+/));
  }
  const col = (name: string) => header.findIndex((h) => h.toLowerCase() === name.toLowerCase());
  const iId = col("DeviceID");
  const iType = col("DriveType");
  const iFs = col("FileSystem");
  if (iId < 0)
    throw new Win32DiskParseError(`drive listing lacks a DeviceID column: ${headerLine.slice(0, 200)}`);
  const drives: DriveEntry[] = [];
  for (const f of rows) {
    const mount = (f[iId] ?? "").toUpperCase();
    if (!/^[A-Z]:$/.test(mount)) continue;
    drives.push({
      mount,
      driveType: iType >= 0 ? (f[iType] ?? "") : "",
      fsType: (iFs >= 0 ? f[iFs] : "") || "unknown",
    });
  }
  return drives.sort((a, b) => (a.mount < b.mount ? -1 : 1));
}

/** The drives that become rows: fixed ones (or any named in include_mounts) that the filter keeps. */
export function selectDrives(drives: readonly DriveEntry[], filter: DiskFilter): DriveEntry[] {
  return drives.filter(
    (d) =>
      (d.driveType === FIXED_DISK || d.driveType === "" || filter.includeMounts.length > 0) &&
      mountIsReported(d.mount, d.fsType, filter),
  );
}

const LISTINGS: readonly (readonly [string, readonly string[]])[] = [
  [
    "powershell.exe",
    [
      "-NoProfile",
      "-NonInteractive",
      "-Command",
      "Get-CimInstance Win32_LogicalDisk | Select-Object DeviceID,DriveType,FileSystem | ConvertTo-Csv -NoTypeInformation",
    ],
  ],
  // Server Core images without PowerShell still have wmic (deprecated, but present).
  ["wmic", ["logicaldisk", "get", "DeviceID,DriveType,FileSystem", "/format:csv"]],
  // Wine's wmic knows no /format: its table is parsed too.
  ["wmic", ["logicaldisk", "get", "DeviceID,DriveType,FileSystem"]],
];

/**
 * The drive list, asked of PowerShell (or wmic) at the first sample and then
 * about once an hour: starting powershell.exe costs a few hundred ms of CPU
 * and tens of MB, which per sample would dwarf everything else the agent
 * does. Between listings each sample costs one statfs per drive.
 */
export class Win32DriveList {
  private drives: DriveEntry[] | null = null;
  private listedAt = 0;
  /** How many times a listing command was started (for tests and the docs' CPU figure). */
  listings = 0;

  constructor(
    private readonly run: CommandRunner,
    private readonly refreshMs = 3_600_000,
    private readonly now: () => number = Date.now,
  ) {}

  async current(): Promise<{ drives: DriveEntry[]; problem: string | null }> {
    if (this.drives !== null && this.now() - this.listedAt < this.refreshMs) {
      return { drives: this.drives, problem: null };
    }
    const failures: string[] = [];
    for (const [command, args] of LISTINGS) {
      this.listings++;
      try {
        const drives = parseDriveList(await this.run(command, args));
        if (drives.length === 0) {
          failures.push(`${command}: no drives listed`);
          continue;
        }
        this.drives = drives;
        this.listedAt = this.now();
        return { drives, problem: null };
      } catch (err) {
        failures.push(`${command}: ${(err as Error).message.split("\n")[0]}`);
      }
    }
    // Keep the last good list; with none at all, the system drive still gets its row.
    this.listedAt = this.now();
    const problem = `drive listing failed (${failures.join("; ")})`;
    if (this.drives !== null) return { drives: this.drives, problem: `${problem}; kept the previous list` };
    const systemDrive = (process.env.SystemDrive ?? "C:").toUpperCase();
    return { drives: [{ mount: systemDrive, driveType: FIXED_DISK, fsType: "unknown" }], problem };
  }
}

/** Each selected drive measured with statfs (GetDiskFreeSpace*W in libuv): df's Size, Used and Avail. */
export async function readDisksWin32(
  list: Win32DriveList,
  filter: DiskFilter,
  measure: (path: string) => Promise<StatfsBytes> = statfsBytes,
): Promise<DiskCollectResult> {
  const { drives, problem } = await list.current();
  const problems = problem === null ? [] : [problem];
  const disks: DiskReading[] = [];
  await Promise.all(
    selectDrives(drives, filter).map(async (d) => {
      try {
        const bytes = await measure(`${d.mount}\\`);
        if (bytes.totalBytes === 0) return; // a card reader without a card
        disks.push({ mount: d.mount, fsType: d.fsType, device: d.mount, ...bytes });
      } catch (err) {
        problems.push(`${d.mount}: ${(err as Error).message}`);
      }
    }),
  );
  disks.sort((a, b) => (a.mount < b.mount ? -1 : 1));
  return { disks, problems };
}
