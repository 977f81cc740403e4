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
    // Every 20 minutes of the last 10 hours, for eight servers (one moving is under a quarter of them).
    for (const server of ["a-01", "b-01", "d-01", "e-01", "f-01", "g-01", "h-01", "i-01"]) {
      const rows: MetricRow[] = [];
      for (let k = 30; k >= 1; k--) rows.push(row(server, now - k * 20 * MIN, 300 + (30 - k) * 10));
      await upload(store, rows);
    }
    await store.rollups.refresh();
    const calls: [number, number, readonly string[] | undefined][] = [];
    const counted = {
      hours: (from: number, to: number, servers?: readonly string[]) => {
        calls.push([from, to, servers]);
        return store.alerts.hours(from, to, servers);
      },
    };
    const cache = new AlertHourCache(counted);
    const hourNow = now - (now % HOUR);
    const whole = () => store.alerts.hours(hourNow - 7 * HOUR, hourNow + HOUR);
    const read = async (at: number) => cache.read(at, 6, await store.alerts.lastSeen());
    expect(await read(now)).toEqual(await whole());
    expect(calls).toHaveLength(2);
    // Within the same hour, nothing new: only the open hours are read again.
    expect(await read(now + 1000)).toEqual(await whole());
    expect(calls).toHaveLength(3);
    expect(calls[2]!.slice(0, 2)).toEqual([hourNow - HOUR, hourNow + HOUR]);
    expect([...calls[2]![2]!].sort()).toEqual([...(await store.alerts.lastSeen()).keys()].sort());
    // A new upload into the current hour is there at the next read; its server's settled hours are read again.
    await upload(store, [row("a-01", now, 900)]);
    await store.rollups.refresh();
    const fresh = await read(now + 2000);
    expect(fresh.get("a-01")!.at(-1)!.disks[0]!.usedBytes).toBe(900);
    expect(fresh).toEqual(await whole());
    expect(calls.slice(3).filter((c) => c[0] === hourNow - 7 * HOUR)).toEqual([
      [hourNow - 7 * HOUR, hourNow - HOUR, ["a-01"]],
    ]);
    // A backlog (an agent back after an outage) rewrites a settled hour: seen at the next read, not an hour later.
    await upload(store, [
      row("c-01", now - 5 * HOUR, 111),
      row("c-01", now - 4 * HOUR, 222),
      row("c-01", now + 500, 333),
    ]);
    await upload(store, [row("b-01", now - 5 * HOUR - 5 * MIN, 777), row("b-01", now + 600, 555)]);
    await store.rollups.refresh();
    const backlog = await read(now + 3000);
    expect(backlog).toEqual(await whole());
    expect(backlog.get("c-01")!.map((h) => h.disks[0]!.usedBytes)).toEqual([111, 222, 333]);
    // The next hour re-reads every settled hour.
    const before = calls.length;
    await read(now + HOUR);
    const servers = (await store.alerts.lastSeen()).size;
    expect(calls.slice(before).map((c) => c[2]!.length)).toEqual([servers, servers]);
  });
});
