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

  it("gives what one read of every hour gives, and reads again only the servers whose last sample moved or was not folded yet", async (ctx) => {
    if (skipReason !== undefined) ctx.skip(skipReason);
    t = await make();
    const store = t.store;
    const now = Date.now();
    // Every 20 minutes of the last 10 hours for seven servers; o-01 fell silent 5 hours ago (an outage).
    for (const server of ["a-01", "b-01", "d-01", "e-01", "f-01", "g-01", "h-01", "o-01"]) {
      const rows: MetricRow[] = [];
      const last = server === "o-01" ? 16 : 1;
      for (let k = 30; k >= last; k--) rows.push(row(server, now - k * 20 * MIN, 300 + (30 - k) * 10));
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
    const from = hourNow - 7 * HOUR;
    const to = hourNow + HOUR;
    const whole = () => store.alerts.hours(from, to);
    const read = async (at: number) => cache.read(at, 6, await store.alerts.lastSeen());
    const readSince = (n: number) => calls.slice(n).map(([f, t2, servers]) => [f, t2, [...servers!].sort()]);
    expect(await read(now)).toEqual(await whole());
    expect(readSince(0)).toEqual([
      [from, to, ["a-01", "b-01", "d-01", "e-01", "f-01", "g-01", "h-01", "o-01"]],
    ]);
    // Within the same hour, nothing new: nothing is read.
    expect(await read(now + 1000)).toEqual(await whole());
    expect(calls).toHaveLength(1);
    // A new upload is there at the next read: only its server is read, from the hour of its last sample before.
    const aBefore = (await store.alerts.lastSeen()).get("a-01")!;
    await upload(store, [row("a-01", now, 900)]);
    await store.rollups.refresh();
    const fresh = await read(now + 2000);
    expect(fresh.get("a-01")!.at(-1)!.disks[0]!.usedBytes).toBe(900);
    expect(fresh).toEqual(await whole());
    expect(readSince(1)).toEqual([[aBefore - (aBefore % HOUR), to, ["a-01"]]]);
    // An upload the rollup has not folded yet: read as it stands, and again at each read until folded.
    await upload(store, [row("e-01", now + 100, 950)]);
    const unfolded = await read(now + 2500);
    expect(unfolded.get("e-01")!.at(-1)!.disks[0]!.usedBytes).not.toBe(950);
    const eFrom = readSince(2)[0]![0] as number;
    expect(eFrom).toBeGreaterThan(from);
    expect(readSince(2)).toEqual([[eFrom, to, ["e-01"]]]);
    await store.rollups.refresh();
    const folded = await read(now + 2600);
    expect(folded.get("e-01")!.at(-1)!.disks[0]!.usedBytes).toBe(950);
    expect(folded).toEqual(await whole());
    expect(readSince(3)).toEqual([[eFrom, to, ["e-01"]]]);
    await read(now + 2700);
    expect(calls).toHaveLength(4);
    // A backlog (an agent back after an outage) rewrites older hours: seen at the next read, not an hour
    // later; a server not seen before is read whole.
    const oBefore = (await store.alerts.lastSeen()).get("o-01")!;
    await upload(store, [
      row("o-01", now - 4 * HOUR, 111),
      row("o-01", now - 3 * HOUR, 222),
      row("o-01", now + 500, 333),
    ]);
    await upload(store, [row("c-01", now - 5 * HOUR, 444), row("c-01", now + 600, 555)]);
    await store.rollups.refresh();
    const backlog = await read(now + 3000);
    expect(backlog).toEqual(await whole());
    expect(
      backlog
        .get("o-01")!
        .slice(-3)
        .map((h) => h.disks[0]!.usedBytes),
    ).toEqual([111, 222, 333]);
    expect(readSince(4).sort((x, y) => (x[0] as number) - (y[0] as number))).toEqual([
      [from, to, ["c-01"]],
      [oBefore - (oBefore % HOUR), to, ["o-01"]],
    ]);
    // A sample sent behind a server's last one (an import, a second input) is seen at the next hourly read.
    // In the last second of an hour five hours back: the last figures of that hour once folded.
    const lateHour = now - 5 * HOUR - ((now - 5 * HOUR) % HOUR);
    const lateAt = lateHour + HOUR - 1000;
    await upload(store, [row("b-01", lateAt, 777), row("b-01", now + 700, 888)]);
    await store.rollups.refresh();
    const late = await read(now + 4000);
    expect(late.get("b-01")!.find((h) => h.hour === lateHour)!.disks[0]!.usedBytes).not.toBe(777);
    expect(late.get("b-01")!.at(-1)!.disks[0]!.usedBytes).toBe(888);
    // The next hour reads every server's hours again, the late sample with them.
    const before = calls.length;
    const nextHour = await read(now + HOUR);
    const servers = (await store.alerts.lastSeen()).size;
    expect(calls.slice(before).map((c) => c[2]!.length)).toEqual([servers]);
    expect(nextHour).toEqual(await store.alerts.hours(from + HOUR, to + HOUR));
    expect(nextHour.get("b-01")!.find((h) => h.hour === lateHour)!.disks[0]!.usedBytes).toBe(777);
  });
});
