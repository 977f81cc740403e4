import { SrvutilError } from "../../errors.js";
import { mountIsReported } from "./disk.js";
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

/**
 * Parses Win32_LogicalDisk rows as CSV, in either of the two shapes Windows
 * prints them:
 *  - PowerShell: `Get-CimInstance Win32_LogicalDisk | Select-Object DeviceID,DriveType,FileSystem,FreeSpace,Size | ConvertTo-Csv -NoTypeInformation`
 *  - wmic: `wmic logicaldisk get DeviceID,DriveType,FileSystem,FreeSpace,Size /format:csv`
 *    (leading blank line and a `Node` column).
 * FreeSpace is the space available to the calling account (quota-aware),
 * the same meaning as df's "Avail"; NTFS has no root reserve, so used = Size − FreeSpace.
 */
export function parseLogicalDisks(text: string, filter: DiskFilter): DiskReading[] {
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#TYPE"));
  if (lines.length === 0) return [];
  const split = (l: string) => l.split(",").map((f) => f.replace(/^"(.*)"$/, "$1"));
  const header = split(lines[0]!);
  const col = (name: string) => header.findIndex((h) => h.toLowerCase() === name.toLowerCase());
  const iId = col("DeviceID");
  const iType = col("DriveType");
  const iFs = col("FileSystem");
  const iFree = col("FreeSpace");
  const iSize = col("Size");
  if (iId < 0 || iFree < 0 || iSize < 0) {
    throw new Win32DiskParseError(`logical disk listing lacks DeviceID/FreeSpace/Size columns: ${lines[0]}`);
  }
  const disks: DiskReading[] = [];
  for (const line of lines.slice(1)) {
    const f = split(line);
    const mount = (f[iId] ?? "").toUpperCase();
    if (!/^[A-Z]:$/.test(mount)) continue;
    if (iType >= 0 && f[iType] !== FIXED_DISK && filter.includeMounts.length === 0) continue;
    const size = Number(f[iSize]);
    const free = Number(f[iFree]);
    if (!(f[iSize] !== "" && Number.isSafeInteger(size) && size > 0 && Number.isSafeInteger(free))) continue;
    const fsType = (iFs >= 0 ? f[iFs] : "") || "unknown";
    if (!mountIsReported(mount, fsType, filter)) continue;
    const freeBytes = Math.min(free, size);
    disks.push({ mount, fsType, device: mount, totalBytes: size, usedBytes: size - freeBytes, freeBytes });
  }
  return disks.sort((a, b) => (a.mount < b.mount ? -1 : 1));
}

const POWERSHELL_QUERY =
  "Get-CimInstance Win32_LogicalDisk | Select-Object DeviceID,DriveType,FileSystem,FreeSpace,Size | ConvertTo-Csv -NoTypeInformation";

export async function readDisksWin32(run: CommandRunner, filter: DiskFilter): Promise<DiskCollectResult> {
  let text: string;
  try {
    text = await run("powershell.exe", ["-NoProfile", "-NonInteractive", "-Command", POWERSHELL_QUERY]);
  } catch {
    // Server Core images without PowerShell still have wmic (deprecated, but present).
    text = await run("wmic", [
      "logicaldisk",
      "get",
      "DeviceID,DriveType,FileSystem,FreeSpace,Size",
      "/format:csv",
    ]);
  }
  return { disks: parseLogicalDisks(text, filter), problems: [] };
}
