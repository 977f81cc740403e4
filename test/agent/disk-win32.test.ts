import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  parseDriveList,
  readDisksWin32,
  selectDrives,
  Win32DiskParseError,
  Win32DriveList,
} from "../../src/agent/collector/disk_win32.js";
import { decodeOutput } from "../../src/agent/collector/index.js";
import { type CommandRunner, DEFAULT_DISK_FILTER, type DiskFilter } from "../../src/agent/collector/types.js";

const fixtureBytes = (name: string) =>
  readFileSync(join(import.meta.dirname, "../fixtures/agent/win32", name));
const filter = (over: Partial<DiskFilter> = {}): DiskFilter => ({ ...DEFAULT_DISK_FILTER, ...over });

const POWERSHELL_KEY =
  "powershell.exe -NoProfile -NonInteractive -Command Get-CimInstance Win32_LogicalDisk | Select-Object DeviceID,DriveType,FileSystem | ConvertTo-Csv -NoTypeInformation";

/** Answers listing commands from captured output and counts what was started. */
function recordingRunner(outputs: Record<string, string>) {
  const started: string[] = [];
  const run: CommandRunner = async (command, args) => {
    const key = [command, ...args].join(" ");
    started.push(key);
    const out = outputs[key];
    if (out === undefined) throw new Error(`spawn ${command} ENOENT`);
    return out;
  };
  return { run, started };
}

describe("Windows drive listing", () => {
  it("reads the three shapes: PowerShell CSV, wmic CSV, and wmic's table in UTF-16 (captured under Wine)", () => {
    const ps = parseDriveList(fixtureBytes("get-ciminstance-logicaldisk.csv").toString("utf8"));
    expect(ps.map((d) => `${d.mount}/${d.driveType}/${d.fsType}`)).toEqual([
      "A:/2/unknown",
      "C:/3/NTFS",
      "D:/3/NTFS",
      "E:/5/unknown",
      "Z:/4/NTFS",
    ]);
    const wmic = parseDriveList(fixtureBytes("wmic-logicaldisk-csv.txt").toString("utf8"));
    expect(wmic.map((d) => d.mount)).toEqual(["C:", "D:", "E:"]);
    const raw = fixtureBytes("wine-wmic-logicaldisk-table.utf16.txt");
    expect([raw[0], raw[1]]).toEqual([0xff, 0xfe]);
    const table = parseDriveList(decodeOutput(raw));
    expect(table).toEqual([
      { mount: "C:", driveType: "3", fsType: "NTFS" },
      { mount: "Z:", driveType: "3", fsType: "NTFS" },
    ]);
    expect(decodeOutput(Buffer.from("DeviceID\r\nC:\r\n"))).toBe("DeviceID\r\nC:\r\n");
    expect(() => parseDriveList("Name,Foo\nC:,1\n")).toThrow(Win32DiskParseError);
  });

  it("keeps fixed drives unless include_mounts names others; exclude lists apply", () => {
    const drives = parseDriveList(fixtureBytes("get-ciminstance-logicaldisk.csv").toString("utf8"));
    expect(selectDrives(drives, filter()).map((d) => d.mount)).toEqual(["C:", "D:"]);
    expect(selectDrives(drives, filter({ includeMounts: ["Z:"] })).map((d) => d.mount)).toEqual(["Z:"]);
    expect(selectDrives(drives, filter({ excludeMounts: ["D:"] })).map((d) => d.mount)).toEqual(["C:"]);
  });

  it("starts PowerShell at the first sample and then once an hour, not per sample", async () => {
    const csv = fixtureBytes("get-ciminstance-logicaldisk.csv").toString("utf8");
    const { run, started } = recordingRunner({ [POWERSHELL_KEY]: csv });
    let now = 1_000_000;
    const list = new Win32DriveList(run, 3_600_000, () => now);
    const measured: string[] = [];
    const measure = async (path: string) => {
      measured.push(path);
      return { totalBytes: 1000, usedBytes: 300, freeBytes: 700 };
    };
    // A daemon's first hour at the default 60 s interval.
    for (let minute = 0; minute < 60; minute++) {
      const { disks, problems } = await readDisksWin32(list, filter(), measure);
      expect(disks.map((d) => d.mount)).toEqual(["C:", "D:"]);
      expect(problems).toEqual([]);
      now += 60_000;
    }
    expect(started).toEqual([POWERSHELL_KEY]);
    expect(measured).toHaveLength(120);
    await readDisksWin32(list, filter(), measure); // 60 minutes later: listed again
    expect(started).toEqual([POWERSHELL_KEY, POWERSHELL_KEY]);
    expect(list.listings).toBe(2);
  });

  it("falls back past an empty PowerShell (Wine's stub) and wmic /format:csv to wmic's table", async () => {
    const table = decodeOutput(fixtureBytes("wine-wmic-logicaldisk-table.utf16.txt"));
    const { run, started } = recordingRunner({
      [POWERSHELL_KEY]: "",
      "wmic logicaldisk get DeviceID,DriveType,FileSystem": table,
    });
    const { disks } = await readDisksWin32(new Win32DriveList(run), filter(), async () => ({
      totalBytes: 10,
      usedBytes: 4,
      freeBytes: 6,
    }));
    expect(disks.map((d) => d.mount)).toEqual(["C:", "Z:"]);
    expect(started).toHaveLength(3);
  });

  it("with no listing at all the system drive still gets its row, and a statfs failure is a problem, not a lost sample", async () => {
    const { run } = recordingRunner({});
    const result = await readDisksWin32(new Win32DriveList(run), filter(), async (path) => {
      if (path === "C:\\") return { totalBytes: 10, usedBytes: 4, freeBytes: 6 };
      throw new Error("EPERM");
    });
    expect(result.disks.map((d) => d.mount)).toEqual([(process.env.SystemDrive ?? "C:").toUpperCase()]);
    expect(result.problems.join("\n")).toMatch(
      /drive listing failed \(powershell\.exe: spawn powershell\.exe ENOENT; wmic/,
    );

    const csv = "DeviceID,DriveType,FileSystem\nC:,3,NTFS\nD:,3,NTFS\n";
    const two = recordingRunner({ [POWERSHELL_KEY]: csv });
    const partial = await readDisksWin32(new Win32DriveList(two.run), filter(), async (path) => {
      if (path === "C:\\") return { totalBytes: 10, usedBytes: 4, freeBytes: 6 };
      throw new Error("EBUSY: resource busy");
    });
    expect(partial.disks.map((d) => d.mount)).toEqual(["C:"]);
    expect(partial.problems).toEqual(["D:: EBUSY: resource busy"]);
  });
});
