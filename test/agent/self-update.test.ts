/**
 * Self-update end to end on this machine: a real central (startCentral on a
 * SQLite file, loopback) serving a temp dist dir, and the real plain-Node
 * bundle run as a process. Version N is a copy of dist/srvutil-agent.mjs with
 * its version string set to 0.0.9; N+1 is the build itself (0.1.0, the
 * central's version). The "service manager" is this test: it starts the agent
 * again whenever it exits with the restart code, as systemd does.
 */
import { type ChildProcess, spawn } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RESTART_EXIT_CODE } from "../../src/agent/commands.js";
import { AGENT_VERSION } from "../../src/agent/version.js";
import { AgentCatalog } from "../../src/central/agent-dist/catalog.js";
import { ManifestSigner } from "../../src/central/agent-dist/signing.js";
import { createAgentToken } from "../../src/central/auth/tokens.js";
import { type RunningCentral, startCentral } from "../../src/central/central-process.js";
import { loadCentralConfig } from "../../src/central/config.js";
import { SqliteStore } from "../../src/central/storage/sqlite/sqlite-store.js";
import { AGENT_BUNDLE, agentBundle } from "../helpers/agent-bundle.js";

const _ROOT = resolve(import.meta.dirname, "../..");
const BUNDLE = AGENT_BUNDLE;
const OLD = "0.0.9";
const NEW = AGENT_VERSION;

let work: string;
let store: SqliteStore;
let central: RunningCentral;
let serveDir: string;

function variant(version: string, patch: (s: string) => string = (s) => s): string {
  const text = readFileSync(BUNDLE, "utf8");
  expect(text.split(`"${NEW}"`).length - 1).toBe(1);
  return patch(text.replace(`"${NEW}"`, `"${version}"`));
}

async function startWith(env: Record<string, string>) {
  await central?.close();
  central = await startCentral(
    loadCentralConfig({
      SRVUTIL_DATA_DIR: join(work, "central"),
      SRVUTIL_LISTEN: "127.0.0.1:0",
      SRVUTIL_REPORT_CRON: "off",
      SRVUTIL_AGENT_AUTO_UPDATE: "on",
      ...env,
    }),
    { store, agentCatalog: new AgentCatalog({ binDir: join(serveDir, "bin"), bundleDir: serveDir }) },
  );
}

beforeAll(async () => {
  agentBundle();
  work = mkdtempSync(join(tmpdir(), "srvutil-self-update-"));
  serveDir = join(work, "serve");
  mkdirSync(join(serveDir, "bin"), { recursive: true });
  store = new SqliteStore(join(work, "central", "srvutil.db"));
  await store.init();
  await startWith({});
});
afterAll(async () => {
  await central?.close();
  await store?.close();
  rmSync(work, { recursive: true, force: true });
});

interface Agent {
  dir: string;
  target: string;
  env: NodeJS.ProcessEnv;
}

async function newAgent(name: string, pin: string): Promise<Agent> {
  const dir = join(work, name);
  mkdirSync(join(dir, "bin"), { recursive: true });
  const target = join(dir, "bin", "srvutil-agent.mjs");
  writeFileSync(target, variant(OLD), { mode: 0o755 });
  writeFileSync(
    join(dir, "agent.json"),
    JSON.stringify({ self_update: { check_seconds: 1, rollback_seconds: 6 }, cpu_subsample_seconds: 0.2 }),
  );
  writeFileSync(join(dir, "agent-signing.pub"), `${pin}\n`, { mode: 0o600 });
  const token = await createAgentToken(store, name);
  return {
    dir,
    target,
    env: {
      ...process.env,
      SRVUTIL_CENTRAL_URL: central.url,
      SRVUTIL_AGENT_TOKEN: token,
      SRVUTIL_SERVER_NAME: name,
      SRVUTIL_AGENT_DIR: dir,
      SRVUTIL_AGENT_SAMPLE_SECONDS: "0.5",
      SRVUTIL_AGENT_UPLOAD_SECONDS: "1",
    },
  };
}

function versionOf(file: string): string {
  return /"(0\.\d+\.\d+)"/.exec(readFileSync(file, "utf8"))?.[1] ?? "?";
}

/** Runs the agent's file like a service manager: again after each restart exit, until `done` or the time is up. */
async function superviseUntil(a: Agent, done: () => boolean, ms: number): Promise<number[]> {
  const exits: number[] = [];
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const child: ChildProcess = spawn(process.execPath, [a.target, "run"], {
      env: a.env,
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr?.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    const code = await new Promise<number>((res) => {
      // One SIGTERM, as systemd sends: the agent stops on the first (a second one would kill it).
      const tick = setInterval(() => {
        if (done() || Date.now() > until) {
          clearInterval(tick);
          child.kill("SIGTERM");
        }
      }, 100);
      child.on("exit", (c) => {
        clearInterval(tick);
        res(c ?? -1);
      });
    });
    exits.push(code);
    // A crash (a stack trace) is a failure of the agent under test: show it.
    expect(stderr, `agent exited ${code}`).not.toMatch(/\n\s+at .+:\d+:\d+/);
    if (code !== RESTART_EXIT_CODE) break;
  }
  return exits;
}

function logEvents(a: Agent): { event: string; version?: string; to?: string }[] {
  const file = join(a.dir, "Logs", "agent.log");
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as { event: string });
}

function centralTimestamps(server: string): Set<number> {
  const rows = store.db
    .prepare("SELECT DISTINCT ts FROM samples WHERE server = ?")
    .pluck()
    .all(server) as number[];
  return new Set(rows);
}

function spooled(a: Agent): number {
  return readdirSync(join(a.dir, "metrics")).filter((f) => f.endsWith(".csv")).length;
}

describe("agent self-update (plain-Node bundle, real central)", () => {
  it("updates N → N+1, restarts, uploads as N+1, and loses no sample across the swap", async () => {
    copyFileSync(BUNDLE, join(serveDir, "srvutil-agent.mjs"));
    const pin = (await (await fetch(`${central.url}/agent/manifest.json`)).json()) as { public_key: string };
    const a = await newAgent("upd-01", pin.public_key);
    const exits = await superviseUntil(
      a,
      () => logEvents(a).some((e) => e.event === "update_confirmed"),
      40_000,
    );
    expect(exits[0]).toBe(RESTART_EXIT_CODE);
    expect(versionOf(a.target)).toBe(NEW);
    expect(versionOf(`${a.target}.previous`)).toBe(OLD);
    const events = logEvents(a);
    const starts = events.filter((e) => e.event === "daemon_start").map((e) => e.version);
    expect(starts.slice(0, 2)).toEqual([OLD, NEW]);
    expect(existsSync(join(a.dir, "update-pending.json"))).toBe(false);
    // Every sample the agent took is at the central or still in the spool.
    const taken = events.filter((e) => e.event === "sample").length;
    const atCentral = centralTimestamps("upd-01").size;
    // N sampled before the swap (at start), so there was something to lose across it.
    const swappedAt = events.findIndex((e) => e.event === "update_swapped");
    expect(events.slice(0, swappedAt).filter((e) => e.event === "sample").length).toBeGreaterThan(0);
    expect(atCentral + spooled(a)).toBe(taken);
    expect(atCentral).toBeGreaterThan(0);
  }, 60_000);

  it("rolls back to N when N+1 cannot upload, and N uploads again (and does not retry that version)", async () => {
    // N+1 posts to a path the central does not have: it starts, but never uploads. It is a
    // release of the central (recorded and signed afresh at start), not a tampered file.
    writeFileSync(
      join(serveDir, "srvutil-agent.mjs"),
      variant(NEW, (s) => s.replaceAll("api/v1/metrics", "api/v1/nowhere")),
    );
    rmSync(join(work, "central", "agent-release.json"), { force: true });
    await startWith({});
    const pin = (await (await fetch(`${central.url}/agent/manifest.json`)).json()) as { public_key: string };
    const a = await newAgent("upd-02", pin.public_key);
    let uploadsAfterRollback = 0;
    const exits = await superviseUntil(
      a,
      () => {
        const ev = logEvents(a);
        const i = ev.findIndex((e) => e.event === "update_rolled_back");
        uploadsAfterRollback = i < 0 ? 0 : centralTimestamps("upd-02").size;
        return (
          i >= 0 && ev.slice(i).filter((e) => e.event === "upload_ok" || e.event === "uploaded").length > 0
        );
      },
      40_000,
    );
    expect(exits.slice(0, 2)).toEqual([RESTART_EXIT_CODE, RESTART_EXIT_CODE]);
    expect(versionOf(a.target)).toBe(OLD);
    expect(JSON.parse(readFileSync(join(a.dir, "update-failed.json"), "utf8"))).toEqual([NEW]);
    const starts = logEvents(a)
      .filter((e) => e.event === "daemon_start")
      .map((e) => e.version);
    expect(starts.slice(0, 3)).toEqual([OLD, NEW, OLD]);
    expect(uploadsAfterRollback).toBeGreaterThan(0);
  }, 60_000);

  it("refuses a manifest signed with another key, and a tampered file (digest mismatch)", async () => {
    copyFileSync(BUNDLE, join(serveDir, "srvutil-agent.mjs"));
    rmSync(join(work, "central", "agent-release.json"), { force: true });
    await startWith({});
    const pin = (await (await fetch(`${central.url}/agent/manifest.json`)).json()) as { public_key: string };
    const other = ManifestSigner.generate().publicKey;
    const foreign = await newAgent("upd-03", other);
    await superviseUntil(foreign, () => logEvents(foreign).some((e) => e.event === "update_refused"), 15_000);
    expect(versionOf(foreign.target)).toBe(OLD);
    expect(JSON.stringify(logEvents(foreign))).toContain("signature does not verify");

    // The file store alone is written: the central still signs the digest it recorded, the agent refuses the file.
    const manifest = await (await fetch(`${central.url}/agent/manifest.json`)).text();
    // Same size, other bytes (a file that would run): only the digest tells.
    writeFileSync(
      join(serveDir, "srvutil-agent.mjs"),
      variant(NEW, (s) => s.replace("spooled", "SPOOLED")),
    );
    expect(await (await fetch(`${central.url}/agent/manifest.json`)).text()).toBe(manifest);
    const tampered = await newAgent("upd-04", pin.public_key);
    await superviseUntil(
      tampered,
      () => logEvents(tampered).some((e) => e.event === "update_refused"),
      15_000,
    );
    expect(versionOf(tampered.target)).toBe(OLD);
    expect(JSON.stringify(logEvents(tampered))).toContain("size or SHA-256 is not the signed one");
    expect(existsSync(join(tampered.dir, "bin", ".new.srvutil-agent.mjs"))).toBe(false);
    expect(existsSync(join(tampered.dir, "update-pending.json"))).toBe(false);
  }, 60_000);

  it("refuses an N+1 that crashes at start before swapping (its --version fails), and stays on N", async () => {
    const crashing = variant(NEW, (s) =>
      s.replace(/^(#![^\n]*\n)?/, (m) => `${m}throw new Error("boom at start");\n`),
    );
    writeFileSync(join(serveDir, "srvutil-agent.mjs"), crashing);
    rmSync(join(work, "central", "agent-release.json"), { force: true });
    await startWith({});
    const pin = (await (await fetch(`${central.url}/agent/manifest.json`)).json()) as { public_key: string };
    const a = await newAgent("upd-05", pin.public_key);
    const exits = await superviseUntil(
      a,
      () => logEvents(a).some((e) => e.event === "update_refused"),
      20_000,
    );
    // No swap, so no restart: the one run ends, with 0, when the test stops it.
    expect(exits).toEqual([0]);
    expect(versionOf(a.target)).toBe(OLD);
    expect(existsSync(`${a.target}.previous`)).toBe(false);
    expect(JSON.stringify(logEvents(a))).toContain("the new file does not start");
    expect(JSON.parse(readFileSync(join(a.dir, "update-failed.json"), "utf8"))).toEqual([NEW]);
  }, 60_000);
});
