import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, statfsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseMetricsCsv } from "../../src/protocol/index.js";
import {
  CPU_TYPE_ARM64,
  CPU_TYPE_X86_64,
  EM_AARCH64,
  EM_X86_64,
  type FoundResource,
  PE_MACHINE_AMD64,
  parseElf,
  parseMachO,
  parsePe,
  RT_RCDATA,
} from "./helpers/exe-formats.js";

/**
 * `npm run check:agent-bin`: builds all five executables, then checks each
 * one's structure from its headers: the right machine, the SEA blob where
 * Node looks for it (PE resource RT_RCDATA/NODE_SEA_BLOB, Mach-O segment
 * NODE_SEA section __NODE_SEA_BLOB, ELF note NODE_SEA_BLOB) holding exactly
 * the blob the build wrote, the fuse flipped, no stale signature, and
 * SHA256SUMS right. Not part of `npm test` (building all five takes a
 * minute or more); CI runs it as its own step.
 */
const BIN = resolve(import.meta.dirname, "../../dist/bin");
const FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";
/** First four bytes of every SEA blob (kMagic in Node's src/node_sea.cc). */
const SEA_MAGIC = 0x0143da20;

const read = (name: string) => readFileSync(join(BIN, name));

function expectBlob(exe: Buffer, found: FoundResource | null, target: string): void {
  expect(found, `${target}: blob not found from the headers`).not.toBeNull();
  const blob = read(join(".work", `${target}.blob`));
  const injected = exe.subarray(found!.offset, found!.offset + blob.length);
  expect(injected.readUInt32LE(0)).toBe(SEA_MAGIC);
  expect(found!.size).toBeGreaterThanOrEqual(blob.length);
  expect(injected.equals(blob), `${target}: injected bytes differ from the built blob`).toBe(true);
  // postject flips the fuse's trailing 0 to 1; Node only looks for a blob when it is 1.
  const fuse = exe.indexOf(FUSE);
  expect(fuse).toBeGreaterThan(0);
  expect(exe.toString("latin1", fuse + FUSE.length, fuse + FUSE.length + 2)).toBe(":1");
  expect(exe.indexOf(FUSE, fuse + 1)).toBe(-1);
}

describe("single executables for every platform", () => {
  it("windows-x64: a PE32+ AMD64 console image with the blob as RT_RCDATA resource NODE_SEA_BLOB, unsigned", () => {
    const exe = read("srvutil-agent-windows-x64.exe");
    const pe = parsePe(exe);
    expect(pe.machine).toBe(PE_MACHINE_AMD64);
    expect(pe.subsystem).toBe(3); // IMAGE_SUBSYSTEM_WINDOWS_CUI: a console program
    expect(pe.sections.map((s) => s.name)).toContain(".rsrc");
    // node.exe's Authenticode signature covers bytes the injection changed: it is removed, not left broken.
    expect(pe.signed).toBe(false);
    expectBlob(exe, pe.resource(RT_RCDATA, "NODE_SEA_BLOB"), "windows-x64");
    expect(pe.resource(RT_RCDATA, "NO_SUCH_RESOURCE")).toBeNull(); // the lookup can fail (control)
  });

  for (const [target, cpu] of [
    ["darwin-x64", CPU_TYPE_X86_64],
    ["darwin-arm64", CPU_TYPE_ARM64],
  ] as const) {
    it(`${target}: a Mach-O executable for its CPU with segment NODE_SEA / __NODE_SEA_BLOB, signature removed for codesign`, () => {
      const exe = read(`srvutil-agent-${target}`);
      const macho = parseMachO(exe);
      expect(macho.cpuType).toBe(cpu);
      expect(macho.fileType).toBe(2); // MH_EXECUTE
      const names = macho.segments.map((s) => s.name);
      expect(names).toContain("NODE_SEA");
      expect(names.at(-1)).toBe("__LINKEDIT"); // still last, as the loader and codesign expect
      expect(macho.hasCodeSignature).toBe(false);
      expectBlob(exe, macho.section("NODE_SEA", "__NODE_SEA_BLOB"), target);
    });
  }

  for (const [target, machine] of [
    ["linux-x64", EM_X86_64],
    ["linux-arm64", EM_AARCH64],
  ] as const) {
    it(`${target}: an ELF for its machine with the blob in note NODE_SEA_BLOB`, () => {
      const exe = read(`srvutil-agent-${target}`);
      const elf = parseElf(exe);
      expect(elf.machine).toBe(machine);
      expectBlob(exe, elf.note("NODE_SEA_BLOB"), target);
    });
  }

  it("SHA256SUMS lists the five executables with their hashes (sha256sum -c format)", () => {
    const lines = read("SHA256SUMS").toString("utf8").trim().split("\n");
    const names = lines.map((l) => l.split("  ")[1]);
    expect(names).toEqual([
      "srvutil-agent-darwin-arm64",
      "srvutil-agent-darwin-x64",
      "srvutil-agent-linux-arm64",
      "srvutil-agent-linux-x64",
      "srvutil-agent-windows-x64.exe",
    ]);
    for (const line of lines) {
      const [hash, name] = line.split("  ");
      expect(createHash("sha256").update(read(name!)).digest("hex"), name).toBe(hash);
    }
  });
});

/** Debian's wine64 package puts the loader here; `wine` is the wrapper that picks it. */
const WINE = ["/usr/lib/wine/wine64", "/usr/bin/wine64", "/usr/bin/wine"].find((p) => existsSync(p));

describe("the Windows executable under Wine (the Windows collectors for real)", () => {
  let prefix: string;
  beforeAll(() => {
    if (WINE === undefined) throw new Error("wine is not installed: apt-get install -y wine64");
    prefix = mkdtempSync(join(tmpdir(), "srvutil-wine-"));
    // A fresh prefix reports Windows 7, which Node 20 refuses to start on: say Windows 10.
    execFileSync(WINE, ["reg", "add", "HKCU\\Software\\Wine", "/v", "Version", "/d", "win10", "/f"], {
      env: { ...process.env, WINEPREFIX: prefix, WINEDEBUG: "-all" },
      stdio: "ignore",
      timeout: 120_000,
    });
  }, 180_000);
  afterAll(() => {
    if (prefix !== undefined) {
      spawnSync("wineserver", ["-k"], { env: { ...process.env, WINEPREFIX: prefix } });
      rmSync(prefix, { recursive: true, force: true });
    }
  });

  it("collect prints rows whose C: figures are the host filesystem under the prefix (statfs through Windows APIs)", () => {
    // Wine cannot hand a Linux pipe to node as stdout (open EBADF in net.Socket): use files.
    const outFile = join(prefix, "collect.out");
    const errFile = join(prefix, "collect.err");
    const [out, err] = [openSync(outFile, "w"), openSync(errFile, "w")];
    const r = spawnSync(
      WINE!,
      [join(BIN, "srvutil-agent-windows-x64.exe"), "collect", "--agent-dir", "C:\\srvutil"],
      {
        env: { ...process.env, WINEPREFIX: prefix, WINEDEBUG: "-all", SRVUTIL_SERVER_NAME: "WINE-HOST" },
        stdio: ["ignore", out, err],
        timeout: 120_000,
      },
    );
    closeSync(out);
    closeSync(err);
    const stdout = readFileSync(outFile, "utf8");
    expect(r.status, readFileSync(errFile, "utf8")).toBe(0);
    const { rows } = parseMetricsCsv(stdout, { now: Date.now() + 60_000 });
    const c = rows.find((row) => row.diskMount === "C:");
    expect(c, stdout).toBeDefined();
    expect(c!.server).toBe("WINE-HOST");
    expect(c!.memTotalBytes).toBeGreaterThan(0);
    // Wine's C: is the folder drive_c in the prefix: the same filesystem as seen from Linux.
    const host = statfsSync(prefix, { bigint: true });
    expect(c!.diskTotalBytes).toBe(Number(host.blocks * host.bsize));
    const hostAvail = Number(host.bavail * host.bsize);
    expect(Math.abs(c!.diskFreeBytes - hostAvail)).toBeLessThan(256 * 1024 * 1024);
  });
});
