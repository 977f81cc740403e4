/**
 * `npm run bench:agent`: how light the agent is, measured in one run on this
 * machine next to baselines measured in the same run.
 *
 * 1. One-shot: wall time, CPU time (user+sys) and peak RSS of the bundled agent
 *    (`collect`, and `run --once` uploading to a loopback sink) next to
 *    `node -e 0` (the runtime's floor) and, when python3 has psutil, a psutil
 *    script collecting the same figures. Medians of BENCH_RUNS runs (default 5),
 *    measured with GNU time.
 *    The linux-x64 single executable (dist/bin, `npm run build:agent-bin`) runs
 *    the same commands; its `--version` is the floor of a Node SEA start-up.
 *    Sizes of every executable present in dist/bin are listed.
 * 2. Daemon: the bundled agent sampling every 1 s for BENCH_DAEMON_SECONDS
 *    (default 120) against the sink; CPU share from /proc/<pid>/stat after a
 *    warm-up, RSS from /proc/<pid>/status; extrapolated to the default 60 s
 *    interval.
 * Linux only (reads /proc). Everything stops by itself.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "../..");
const BUNDLE = join(ROOT, "dist", "srvutil-agent.mjs");
const BIN_DIR = join(ROOT, "dist", "bin");
const EXE = join(BIN_DIR, "srvutil-agent-linux-x64");
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const DAEMON_SECONDS = Number(process.env.BENCH_DAEMON_SECONDS ?? 120);
const WARMUP_SECONDS = 5;
const CPU_WINDOW_MS = 100;
const TOKEN = "bench-token";

if (process.platform !== "linux") {
  console.error("bench:agent reads /proc and uses GNU time: run it on Linux");
  process.exit(1);
}
if (!existsSync(BUNDLE))
  execFileSync("npm", ["run", "--silent", "build:agent"], { cwd: ROOT, stdio: "inherit" });
if (!existsSync(EXE))
  execFileSync("npm", ["run", "--silent", "build:agent-bin", "--", "--targets", "linux-x64"], {
    cwd: ROOT,
    stdio: "inherit",
  });

// A loopback sink standing in for the central: accepts every upload.
let received = 0;
const sink = createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    received++;
    res.writeHead(201, { "content-type": "application/json" });
    res.end('{"upload_id":"b","rows":1,"duplicates":0}');
  });
});
await new Promise<void>((r) => sink.listen(0, "127.0.0.1", () => r()));
const centralUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;

const work = mkdtempSync(join(tmpdir(), "srvutil-bench-agent-"));
const agentDir = join(work, "agent");
mkdirSync(agentDir);
const baseEnv = {
  PATH: process.env.PATH ?? "",
  SRVUTIL_CENTRAL_URL: centralUrl,
  SRVUTIL_AGENT_TOKEN: TOKEN,
  SRVUTIL_SERVER_NAME: "bench",
  SRVUTIL_AGENT_DIR: agentDir,
  SRVUTIL_AGENT_CPU_MEASURE_MS: String(CPU_WINDOW_MS),
};

interface Measure {
  wallS: number;
  cpuS: number;
  rssKiB: number;
  /** Ranges over the runs: [min, max]. */
  wallRange?: [number, number];
  rssRange?: [number, number];
}

/** Runs a command under GNU time (async, so the sink keeps answering). */
function timed(cmd: string[], env: Record<string, string>): Promise<Measure> {
  const out = join(work, "time.txt");
  return new Promise((done, fail) => {
    const child = spawn("/usr/bin/time", ["-o", out, "-f", "%e %U %S %M", ...cmd], {
      env,
      cwd: work,
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr!.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.once("close", (code) => {
      clearTimeout(timer);
      if (code !== 0) return fail(new Error(`${cmd.join(" ")} exited ${code}: ${stderr}`));
      const [wall, user, sys, rss] = readFileSync(out, "utf8")
        .trim()
        .split("\n")
        .at(-1)!
        .split(" ")
        .map(Number);
      done({ wallS: wall!, cpuS: user! + sys!, rssKiB: rss! });
    });
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function measure(cmd: string[], env: Record<string, string> = baseEnv): Promise<Measure> {
  const runs: Measure[] = [];
  for (let i = 0; i < RUNS; i++) runs.push(await timed(cmd, env));
  const range = (xs: number[]): [number, number] => [Math.min(...xs), Math.max(...xs)];
  return {
    wallS: median(runs.map((r) => r.wallS)),
    cpuS: median(runs.map((r) => r.cpuS)),
    rssKiB: median(runs.map((r) => r.rssKiB)),
    wallRange: range(runs.map((r) => r.wallS)),
    rssRange: range(runs.map((r) => r.rssKiB)),
  };
}

const hasPsutil = spawnSync("/usr/bin/python3", ["-c", "import psutil"]).status === 0;

console.log(
  `srvutil agent benchmark — ${new Date().toISOString()}, node ${process.version}, ${RUNS} runs each (median)\n`,
);

const floor = await measure([process.execPath, "-e", "0"]);
const collect = await measure([process.execPath, BUNDLE, "collect"]);
// `run --once` as cron runs it: previous counters in the state file, so no CPU window; upload to the sink.
await timed([process.execPath, BUNDLE, "run", "--once"], baseEnv);
const once = await measure([process.execPath, BUNDLE, "run", "--once"]);
// The executable with an empty PATH, as on a server without node.
const exeEnv = { ...baseEnv, PATH: "" };
const seaFloor = await measure([EXE, "--version"], exeEnv);
const exeCollect = await measure([EXE, "collect"], exeEnv);
await timed([EXE, "run", "--once"], exeEnv);
const exeOnce = await measure([EXE, "run", "--once"], exeEnv);
const rows: [string, Measure][] = [
  ["node -e 0 (runtime floor)", floor],
  [`node srvutil-agent.mjs collect (${CPU_WINDOW_MS} ms CPU window)`, collect],
  ["node srvutil-agent.mjs run --once (CPU from state file, gzip upload)", once],
  ["srvutil-agent-linux-x64 --version (SEA start-up floor)", seaFloor],
  [`srvutil-agent-linux-x64 collect (${CPU_WINDOW_MS} ms CPU window)`, exeCollect],
  ["srvutil-agent-linux-x64 run --once", exeOnce],
];
let pyFloor: Measure | null = null;
if (hasPsutil) {
  pyFloor = await measure(["/usr/bin/python3", "-c", "0"]);
  const psutilRun = await measure([
    "/usr/bin/python3",
    join(ROOT, "bench/agent/psutil_collect.py"),
    String(CPU_WINDOW_MS / 1000),
  ]);
  rows.push(
    ["python3 -c 0 (python floor)", pyFloor],
    [`psutil script (${CPU_WINDOW_MS} ms CPU window)`, psutilRun],
  );
}

const sizes = existsSync(BIN_DIR)
  ? readdirSync(BIN_DIR).filter((f) => f.startsWith("srvutil-agent-") && !f.endsWith(".tmp"))
  : [];
console.log("Executables (dist/bin)");
console.log("| file | MiB |");
console.log("|---|---:|");
for (const f of sizes.sort())
  console.log(`| ${f} | ${(statSync(join(BIN_DIR, f)).size / 1048576).toFixed(1)} |`);
console.log(`| (dist/srvutil-agent.mjs, needs node) | ${(statSync(BUNDLE).size / 1048576).toFixed(2)} |`);
if (sizes.length < 5)
  console.log("(only the executables built so far: npm run build:agent-bin builds all five)");
console.log("");

const ms = (s: number) => (s * 1000).toFixed(0);
const mib = (k: number) => (k / 1024).toFixed(1);
console.log("One-shot collection");
console.log("| command | wall ms (min–max) | CPU ms | peak RSS MiB (min–max) | RSS × node -e 0 |");
console.log("|---|---:|---:|---:|---:|");
for (const [name, m] of rows) {
  const wr = m.wallRange ?? [m.wallS, m.wallS];
  const rr = m.rssRange ?? [m.rssKiB, m.rssKiB];
  console.log(
    `| ${name} | ${ms(m.wallS)} (${ms(wr[0])}–${ms(wr[1])}) | ${ms(m.cpuS)} | ${mib(m.rssKiB)} (${mib(rr[0])}–${mib(rr[1])}) | ${(m.rssKiB / floor.rssKiB).toFixed(2)} |`,
  );
}
if (!hasPsutil)
  console.log("(psutil rows skipped: /usr/bin/python3 cannot import psutil; apt-get install python3-psutil)");
const onceRatio = Math.max(collect.rssKiB, once.rssKiB) / floor.rssKiB;
const exeRatio = Math.max(exeCollect.rssKiB, exeOnce.rssKiB) / floor.rssKiB;
const exeOverSea = Math.max(exeCollect.rssKiB, exeOnce.rssKiB) / seaFloor.rssKiB;
const verdict = (r: number) => `${r.toFixed(2)} × → ${r <= 1.2 ? "met" : "NOT met"}`;
console.log(`\nTarget one-shot peak RSS ≤ 1.2 × node -e 0, node bundle: ${verdict(onceRatio)}`);
console.log(`Target one-shot peak RSS ≤ 1.2 × node -e 0, executable: ${verdict(exeRatio)}`);
console.log(
  `Executable against its own start-up floor (--version): ${exeOverSea.toFixed(2)} × (the rest is what a Node SEA maps of its binary at start)`,
);
console.log(
  "(GNU time on Linux reports peak RSS in KiB; CPU = user + sys; wall includes node's start-up and the CPU window.)\n",
);

// --- Daemon ---------------------------------------------------------------
const daemonDir = join(work, "daemon");
mkdirSync(daemonDir);
writeFileSync(
  join(daemonDir, "agent.json"),
  JSON.stringify({ sample_interval_seconds: 1, upload_interval_seconds: 20 }),
);
const clkTck = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
const procCpuS = (pid: number) => {
  const s = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / clkTck;
};
const procStatus = (pid: number, key: string) =>
  Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]);

const uploadsBefore = received;
const daemon = spawn(process.execPath, [BUNDLE, "run"], {
  env: { ...baseEnv, SRVUTIL_AGENT_DIR: daemonDir },
  stdio: "ignore",
});
await new Promise((r) => setTimeout(r, WARMUP_SECONDS * 1000));
const cpu0 = procCpuS(daemon.pid!);
const t0 = Date.now();
const rssSamples: number[] = [];
const deadline = t0 + DAEMON_SECONDS * 1000;
while (Date.now() < deadline) {
  await new Promise((r) => setTimeout(r, Math.min(5000, deadline - Date.now())));
  rssSamples.push(procStatus(daemon.pid!, "VmRSS"));
}
const cpu1 = procCpuS(daemon.pid!);
const elapsedS = (Date.now() - t0) / 1000;
const hwm = procStatus(daemon.pid!, "VmHWM");
daemon.kill("SIGTERM");
await new Promise((r) => daemon.once("exit", r));
const log = readFileSync(join(daemonDir, "Logs", "agent.log"), "utf8");
const samples = (log.match(/"event":"sample"/g) ?? []).length;

const cpuS = cpu1 - cpu0;
const share1s = (cpuS / elapsedS) * 100;
// Per-sample cost at 1 s includes everything the daemon did (timers, GC, uploads).
// At the default 60 s there is 1 sample and 11 five-second CPU sub-samples per minute;
// counting each sub-sample as a full sample gives an upper bound.
const perSample = cpuS / Math.max(1, elapsedS);
const share60 = ((perSample * 12) / 60) * 100;
console.log(
  `Daemon (sample every 1 s for ${elapsedS.toFixed(0)} s after ${WARMUP_SECONDS} s warm-up, upload every 20 s)`,
);
console.log("| figure | value |");
console.log("|---|---:|");
console.log(`| samples spooled (whole run) | ${samples} |`);
console.log(`| uploads received by the sink | ${received - uploadsBefore} |`);
console.log(`| CPU time in measured window | ${(cpuS * 1000).toFixed(0)} ms |`);
console.log(`| CPU share at 1 s interval | ${share1s.toFixed(3)} % of one core |`);
console.log(`| CPU per sample-second | ${(perSample * 1000).toFixed(2)} ms |`);
console.log(`| extrapolated CPU share at 60 s (upper bound) | ${share60.toFixed(4)} % of one core |`);
console.log(
  `| RSS (median of ${rssSamples.length} readings) | ${(median(rssSamples) / 1024).toFixed(1)} MiB |`,
);
console.log(`| peak RSS (VmHWM) | ${(hwm / 1024).toFixed(1)} MiB |`);
console.log(
  `\nTarget daemon < 0.2 % of one core at the default interval: ${share60 < 0.2 ? "met" : "NOT met"}`,
);

sink.close();
rmSync(work, { recursive: true, force: true });
