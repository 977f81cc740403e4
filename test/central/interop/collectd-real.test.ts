/**
 * The real collectd 5.12 (Debian's /usr/sbin/collectd) with the docs'
 * collectd.conf block (cpu, memory, df, write_http Format "JSON" with a
 * bearer token, StoreRates false, flushed every interval), Interval 2, sending to `central serve` on
 * loopback; then the weekly report built from what arrived names the server
 * with today's figures: this machine's memory and its root filesystem's size.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { statfsSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAgentToken } from "../../../src/central/http/app.js";
import { type FuzzCentral, startFuzzCentral } from "../../fuzz/central.js";
import { requireProgram } from "../../helpers/programs.js";
import { COLLECTD_BIN, collectdConf } from "./collectd-conf.js";
import { samplesOf, todayInReport } from "./push-harness.js";

const SERVER = "collectd-real-01";

describe("the real collectd → POST /api/v1/collectd → report", () => {
  let c: FuzzCentral;
  let collectd: ChildProcess | undefined;
  let output = "";

  beforeAll(async () => {
    requireProgram(path.basename(COLLECTD_BIN), "collectd");
    c = await startFuzzCentral({ kind: "sqlite" }, { SRVUTIL_REPORT_TZ: "UTC" });
    const token = await createAgentToken(c.store, SERVER);
    const conf = path.join(c.dir, "collectd.conf");
    writeFileSync(
      conf,
      collectdConf({
        dir: c.dir,
        url: `${c.url}/api/v1/collectd`,
        token,
        hostname: SERVER,
        intervalSeconds: 2,
      }),
    );
    // -t loads every plugin and checks the file: write_http needs libyajl2 and libcurl.
    const check = spawnSync(COLLECTD_BIN, ["-t", "-C", conf], { encoding: "utf8" });
    if (check.status !== 0) {
      throw new Error(
        `collectd -t failed (exit ${check.status}): ${check.stdout}${check.stderr}\n` +
          "write_http.so needs libyajl2 (Debian: apt-get install libyajl2)",
      );
    }
    collectd = spawn(COLLECTD_BIN, ["-C", conf, "-f"], { stdio: ["ignore", "pipe", "pipe"] });
    collectd.stdout?.on("data", (d: Buffer) => {
      output += d.toString();
    });
    collectd.stderr?.on("data", (d: Buffer) => {
      output += d.toString();
    });
  }, 60_000);

  afterAll(async () => {
    if (collectd !== undefined && collectd.exitCode === null) {
      const exited = new Promise((r) => collectd!.once("exit", r));
      collectd.kill("SIGTERM");
      await exited;
    }
    await c?.close();
  });

  it("stores collectd's samples and the report shows the server with today's figures", async () => {
    const deadline = Date.now() + 45_000;
    // Samples with CPU need two cycles of counters: wait for a few of them.
    while ((await samplesOf(c, SERVER)).length < 3) {
      if (Date.now() > deadline)
        throw new Error(`no samples from collectd within 45 s; its output:\n${output}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    const rows = await samplesOf(c, SERVER);
    const root = statfsSync("/");
    for (const row of rows) {
      expect(row.diskMount).toBe("/");
      // df's free + reserved + used is every block of the filesystem.
      expect(row.diskTotalBytes).toBe(root.blocks * root.bsize);
      expect(Math.abs(row.memTotalBytes - os.totalmem()) / os.totalmem()).toBeLessThan(0.01);
      expect(row.cpuPercent).toBeGreaterThanOrEqual(0);
      expect(row.cpuPercent).toBeLessThanOrEqual(100);
    }
    // write_http logs every refused or failed POST. A cycle split by a flush may make a POST a 400
    // (no family complete), which costs that cycle only; nothing else may be refused.
    expect(output).not.toMatch(/write_http plugin: (HTTP Error code: (?!400\b)|curl_easy_perform failed)/);

    const today = (await todayInReport(c, SERVER))!;
    expect(today, "the report names the server today").toBeDefined();
    expect(today.samples).toBeGreaterThanOrEqual(3);
    expect(today.cpu.avg).not.toBeNull();
    expect(Math.abs(today.memory.total_bytes - os.totalmem()) / os.totalmem()).toBeLessThan(0.01);
    expect(today.disks).toEqual([
      expect.objectContaining({ mount: "/", total_bytes: root.blocks * root.bsize }),
    ]);
  }, 90_000);
});
