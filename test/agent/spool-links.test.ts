/**
 * Entries planted in the agent's spool that are not regular files: a
 * symbolic link to a file outside the spool (which, followed, would send any
 * file the agent can read to the central, or delete it) and a FIFO (which,
 * opened, would hang the agent). They are skipped with a warning, never read,
 * never counted toward the caps and never deleted through. Linux only: it
 * needs symlink(2) without privileges and mkfifo(1).
 */
import { spawnSync } from "node:child_process";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AgentLog } from "../../src/agent/log.js";
import { runAgentOnce } from "../../src/agent/once.js";
import { SpoolDirectory, SpoolEntryRefused, spoolFileName } from "../../src/agent/spool.js";
import { type MetricRow, serializeMetricsCsv } from "../../src/protocol/index.js";
import { configFor, makeAgentDir } from "./helpers/agent-env.js";
import { TestCentral } from "./helpers/central.js";

const TOKEN = "tok_test_links";
const T0 = Date.UTC(2026, 10, 16, 12, 0, 0);

const row = (timestamp: number, mount: string): MetricRow => ({
  timestamp,
  server: "test-srv",
  cpuPercent: 1,
  cpuPeakPercent: null,
  intervalSeconds: 60,
  memTotalBytes: 100,
  memUsedBytes: 40,
  memAvailableBytes: 60,
  diskMount: mount,
  diskTotalBytes: 1000,
  diskUsedBytes: 400,
  diskFreeBytes: 500,
});

function mkfifo(path: string): void {
  const r = spawnSync("mkfifo", [path]);
  if (r.status !== 0) throw new Error(`mkfifo failed: ${r.stderr}`);
}

let agent: { dir: string; cleanup: () => void };
let outside: string | undefined;
let secret: string;
const secretContent = serializeMetricsCsv([row(T0 - 3_600_000, "/LEAKED")]);

const NOT_LINUX =
  process.platform === "linux"
    ? undefined
    : `plants symlinks and FIFOs with symlink(2) and mkfifo(1): Linux only (this is ${process.platform})`;

beforeEach((ctx) => {
  if (NOT_LINUX !== undefined) ctx.skip(NOT_LINUX);
  agent = makeAgentDir();
  outside = mkdtempSync(join(tmpdir(), "srvutil-outside-"));
  secret = join(outside, "secret.csv");
  writeFileSync(secret, secretContent);
});
afterEach(() => {
  agent?.cleanup();
  if (outside !== undefined) rmSync(outside, { recursive: true, force: true });
});

const logEntries = () =>
  readFileSync(join(agent.dir, "Logs", "agent.log"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { event: string; level: string; path?: string; kind?: string });

describe("spool entries that are not regular files", () => {
  it("a run skips a link to a file outside the spool and a FIFO: not sent, not deleted, warned once", async () => {
    const central = new TestCentral(TOKEN);
    await central.start();
    try {
      const metrics = join(agent.dir, "metrics");
      mkdirSync(metrics, { recursive: true });
      const link = join(metrics, spoolFileName(T0 - 7_200_000));
      const fifo = join(metrics, spoolFileName(T0 - 10_800_000));
      symlinkSync(secret, link);
      mkfifo(fifo);

      const config = configFor(agent.dir, central.url, TOKEN);
      const result = await runAgentOnce(config, { now: T0 });
      expect(result.upload).toMatchObject({ uploadedFiles: 1, pendingFiles: 0, rejectedFiles: 0 });
      const mounts = [...central.rows.values()].map((r) => r.diskMount);
      expect(mounts).not.toContain("/LEAKED");
      expect(new Set([...central.rows.values()].map((r) => r.timestamp))).toEqual(new Set([T0]));
      // Left where they were, and the file outside untouched.
      expect(lstatSync(link).isSymbolicLink()).toBe(true);
      expect(lstatSync(fifo).isFIFO()).toBe(true);
      expect(readFileSync(secret, "utf8")).toBe(secretContent);
      const skipped = logEntries().filter((e) => e.event === "spool_entry_skipped");
      expect(skipped.map((e) => [e.level, e.path, e.kind]).sort()).toEqual(
        [
          ["warn", link, "a symbolic link"],
          ["warn", fifo, "a FIFO"],
        ].sort(),
      );
    } finally {
      await central.stop();
    }
  }, 30_000);

  it("the caps never count or delete through them", async () => {
    const log = new AgentLog(join(agent.dir, "Logs"), { echoToStderr: false });
    const spool = new SpoolDirectory(join(agent.dir, "metrics"), { maxAgeMs: 60_000, maxBytes: 0 }, log);
    await spool.init();
    const real = await spool.write([row(T0 - 7_200_000, "/")], T0 - 7_200_000);
    const link = join(spool.dir, spoolFileName(T0 - 10_800_000));
    symlinkSync(secret, link);
    const fifo = join(spool.rejectedDir, spoolFileName(T0 - 10_800_000));
    mkfifo(fifo);
    expect((await spool.list()).map((f) => f.path)).toEqual([real.path]);
    const dropped = await spool.enforceLimits(T0);
    expect(dropped.droppedFiles).toBe(1);
    expect(existsSync(real.path)).toBe(false);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(lstatSync(fifo).isFIFO()).toBe(true);
    expect(readFileSync(secret, "utf8")).toBe(secretContent);
  });

  it("a file swapped for a link or a FIFO after it was listed is not read", async () => {
    const spool = new SpoolDirectory(join(agent.dir, "metrics"), { maxAgeMs: 1e12, maxBytes: 1e9 });
    await spool.init();
    const a = await spool.write([row(T0, "/")], T0);
    const b = await spool.write([row(T0 + 1000, "/")], T0 + 1000);
    const listed = await spool.list();
    expect(listed.map((f) => f.name)).toEqual([a.name, b.name]);
    rmSync(a.path);
    symlinkSync(secret, a.path);
    rmSync(b.path);
    mkfifo(b.path);
    await expect(spool.read(listed[0]!)).rejects.toBeInstanceOf(SpoolEntryRefused);
    // Would block forever if opened for reading without O_NONBLOCK.
    await expect(spool.read(listed[1]!)).rejects.toBeInstanceOf(SpoolEntryRefused);
  });

  it("a refused file's reason is not written through a link planted under its name", async () => {
    const spool = new SpoolDirectory(join(agent.dir, "metrics"), { maxAgeMs: 1e12, maxBytes: 1e9 });
    await spool.init();
    const file = await spool.write([row(T0, "/")], T0);
    const reasonFile = join(spool.rejectedDir, `${file.name}.error.txt`);
    symlinkSync(secret, reasonFile);
    const target = await spool.reject(file, "400 bad file");
    expect(readFileSync(secret, "utf8")).toBe(secretContent);
    expect(lstatSync(reasonFile).isFile()).toBe(true);
    expect(readFileSync(reasonFile, "utf8")).toBe("400 bad file\n");
    expect(existsSync(target)).toBe(true);
  });
});
