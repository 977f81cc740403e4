import { afterEach, describe, expect, it } from "vitest";
import { AlertHourCache } from "../../../src/central/alerts/hour-cache.js";
import type { MetricRow } from "../../../src/protocol/index.js";
import { storeBackends, type TempStore, upload } from "../../helpers/store-backends.js";

const BACKENDS = await storeBackends();
const MIN = 60_000;
const HOUR = 3_600_000;

function row(server: string, timestamp: number, used: number): MetricRow {
  return {
    timestamp,
    server,
    cpuPercent: 10,
    cpuPeakPercent: null,
    intervalSeconds: 600,
    memTotalBytes: 1000,
    memUsedBytes: 400,
    memAvailableBytes: 600,
    diskMount: "/",
    diskTotalBytes: 1000,
    diskUsedBytes: used,
    diskFreeBytes: 1000 - used,
  };
}

describe.each(BACKENDS)("the alerts' hour cache on $name", ({ skipReason, make }) => {
  let t: TempStore | undefined;
  afterEach(async () => {
    await t?.cleanup();
    t = undefined;
  });

  it("gives what one read of every hour gives, reads the settled hours once an hour, and sees new uploads at once", async (ctx) => {
    if (skipReason !== undefined) ctx.skip(skipReason);
    t = await make();
    const store = t.store;
    const now = Date.now();
    // Every 20 minutes of the last 10 hours, for two servers.
    for (const server of ["a-01", "b-01"]) {
      const rows: MetricRow[] = [];
      for (let k = 30; k >= 1; k--) rows.push(row(server, now - k * 20 * MIN, 300 + (30 - k) * 10));
      await upload(store, rows);
    }
    await store.rollups.refresh();
    const calls: [number, number][] = [];
    const counted = {
      hours: (from: number, to: number) => {
        calls.push([from, to]);
        return store.alerts.hours(from, to);
      },
    };
    const cache = new AlertHourCache(counted);
    const hourNow = now - (now % HOUR);
    const whole = () => store.alerts.hours(hourNow - 7 * HOUR, hourNow + HOUR);
    expect(await cache.read(now, 6)).toEqual(await whole());
    expect(calls).toHaveLength(2);
    // Within the same hour only the open hours are read again.
    expect(await cache.read(now + 1000, 6)).toEqual(await whole());
    expect(calls).toHaveLength(3);
    expect(calls[2]).toEqual([hourNow - HOUR, hourNow + HOUR]);
    // A new upload into the current hour is there at the next read.
    await upload(store, [row("a-01", now, 900)]);
    await store.rollups.refresh();
    const fresh = await cache.read(now + 2000, 6);
    expect(fresh.get("a-01")!.at(-1)!.disks[0]!.usedBytes).toBe(900);
    expect(fresh).toEqual(await whole());
    // The next hour re-reads the settled hours.
    await cache.read(now + HOUR, 6);
    expect(calls).toHaveLength(6);
  });
});
