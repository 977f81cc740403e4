import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createAgentToken } from "../../src/central/auth/tokens.js";
import { type RunningCentral, startCentral } from "../../src/central/central-process.js";
import { loadCentralConfig } from "../../src/central/config.js";
import { DEMO_FLEET, simulateServer } from "../../src/demo/fleet.js";
import { startLiveFleet } from "../../src/demo/live.js";

// While `srvutil demo` serves, the simulated fleet keeps uploading through the
// real API, continuing its history; the one silent server stays silent.
let dir = "";
let central: RunningCentral | null = null;
afterEach(async () => {
  await central?.close();
  central = null;
  rmSync(dir, { recursive: true, force: true });
});

const profile = (name: string) => DEMO_FLEET.find((p) => p.name === name)!;

describe("the demo fleet while the demo serves", () => {
  it("uploads each server's new samples through the ingest API, and none for demo-ci-silent", async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-demo-live-"));
    central = await startCentral(
      loadCentralConfig({
        SRVUTIL_DATA_DIR: dir,
        SRVUTIL_LISTEN: "127.0.0.1:0",
        SRVUTIL_REPORT_CRON: "off",
      }),
    );
    const names = ["demo-db-01", "demo-web-01", "demo-ci-silent"];
    const servers = await Promise.all(
      names.map(async (name) => ({
        profile: profile(name),
        token: await createAgentToken(central!.store, name),
      })),
    );
    const now = Date.now();
    const since = now - 10 * 60_000;
    const errors: string[] = [];
    const live = startLiveFleet({
      centralUrl: central.url,
      servers,
      origin: now - 14 * 86_400_000,
      anchor: now - 2 * 86_400_000,
      since,
      everyMs: 3_600_000,
      onError: (server, message) => errors.push(`${server}: ${message}`),
    });
    try {
      const first = await live.tick();
      expect(errors).toEqual([]);
      // Ten one-minute samples (or nine, at a minute's edge), one row per disk: db-01 has two, web-01 one.
      expect(first.rows).toBeGreaterThanOrEqual(9 * 3);
      expect(first.rows).toBeLessThanOrEqual(10 * 3);
      const seen = new Map((await central.store.listServers()).map((s) => [s.server, s.lastSeen]));
      expect([...seen.keys()].sort()).toEqual(["demo-db-01", "demo-web-01"]);
      for (const name of ["demo-db-01", "demo-web-01"]) {
        expect(seen.get(name)!, name).toBeGreaterThan(Date.now() - 2 * 60_000);
      }
      // The next tick sends only what is new since: nothing twice.
      const second = await live.tick();
      expect(second.rows).toBeLessThanOrEqual(3);
    } finally {
      live.stop();
    }
  }, 60_000);

  it("continues the history's curves (the disk keeps its fill level instead of starting over)", () => {
    const p = profile("demo-db-01");
    const origin = Date.now() - 28 * 86_400_000;
    const historyTo = Date.now() - 5 * 60_000;
    const history = simulateServer(p, { from: origin, to: historyTo, intervalSeconds: 300 }).flat();
    const live = simulateServer(p, { from: historyTo, to: Date.now(), intervalSeconds: 60, origin }).flat();
    const data = (rows: typeof history) => rows.filter((r) => r.diskMount === "/var/lib/postgresql");
    const lastHistory = data(history).at(-1)!;
    const firstLive = data(live)[0]!;
    expect(firstLive.timestamp).toBeGreaterThan(lastHistory.timestamp);
    expect(
      Math.abs(firstLive.diskUsedBytes - lastHistory.diskUsedBytes) / firstLive.diskTotalBytes,
    ).toBeLessThan(0.002);
    // Without the origin, the day count restarts and the disk jumps back by weeks of growth.
    const restarted = data(
      simulateServer(p, { from: historyTo, to: Date.now(), intervalSeconds: 60 }).flat(),
    )[0]!;
    expect((lastHistory.diskUsedBytes - restarted.diskUsedBytes) / restarted.diskTotalBytes).toBeGreaterThan(
      0.1,
    );
  });
});
