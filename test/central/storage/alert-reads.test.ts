import { afterEach, describe, expect, it } from "vitest";
import { HOUR_MS, memoryPercent } from "../../../src/central/aggregate/rows.js";
import type { AlertHour, AlertWindow } from "../../../src/central/storage/alert-store.js";
import type { MetricRow } from "../../../src/protocol/index.js";
import { type StoreBackend, storeBackends, type TempStore, upload } from "../../helpers/store-backends.js";

/**
 * The reads the alert rules make every minute (store.alerts.lastSeen,
 * recentWindow, hours), on a real SQLite file and the real PostgreSQL, over
 * samples of several ages stored through the real ingest path and folded by
 * the real rollup refresh. Every expected figure is computed here from the
 * rows sent, with the report's own memory formula (memoryPercent).
 */
const BACKENDS = await storeBackends();
const MIN = 60_000;

/** A sample of `server` at `ts` on each mount, CPU and memory repeated per mount as agents send them. */
function samplesAt(
  server: string,
  ts: number,
  i: number,
  mounts: readonly string[],
  memTotal: number,
): MetricRow[] {
  const cpu = 35 + ((i * 37) % 50) / 3;
  const used = memTotal === 0 ? 0 : 3_000_000_000 + ((i * 7_654_321) % 900_000_007);
  return mounts.map((mount, m) => ({
    timestamp: ts,
    server,
    // e-01 disagrees with itself across mounts: its smallest mount ("/", sent second) has the higher
    // figures, and its row is the one that counts, as in the report (not the lowest of all rows).
    cpuPercent: server === "e-01" && m > 0 ? cpu + 5 : cpu,
    // Higher than the average: the window's CPU is the average (what the report averages), not the peak.
    cpuPeakPercent: cpu + 30,
    intervalSeconds: 60,
    memTotalBytes: memTotal,
    memUsedBytes: server === "e-01" && m > 0 ? used + 1_000_000 : used,
    memAvailableBytes: memTotal - used,
    diskMount: mount,
    diskTotalBytes: (m + 1) * 100_000_000_000,
    diskUsedBytes: (m + 1) * 40_000_000_000 + i * 1_048_576,
    diskFreeBytes: (m + 1) * 60_000_000_000 - i * 1_048_576,
  }));
}

function series(
  server: string,
  from: number,
  step: number,
  count: number,
  mounts: readonly string[],
): MetricRow[] {
  const rows: MetricRow[] = [];
  for (let i = 0; i < count; i++) {
    // One sample of c-01 reports no memory total: 0 %, as the report counts it.
    const total = server === "c-01" && i === 5 ? 0 : 8_000_012_345;
    rows.push(...samplesAt(server, from + i * step, i, mounts, total));
  }
  return rows;
}

/** Per server, one row per timestamp (the smallest mount's, as the report takes it), in time order. */
function perTimestamp(rows: readonly MetricRow[]): Map<string, MetricRow[]> {
  const sorted = [...rows].sort(
    (a, b) =>
      a.server.localeCompare(b.server) || a.timestamp - b.timestamp || (a.diskMount < b.diskMount ? -1 : 1),
  );
  const out = new Map<string, MetricRow[]>();
  for (const r of sorted) {
    const list = out.get(r.server) ?? [];
    if (list.at(-1)?.timestamp !== r.timestamp) list.push(r);
    out.set(r.server, list);
  }
  return out;
}

function expectedWindow(rows: readonly MetricRow[], spanMs: number): Map<string, AlertWindow> {
  const out = new Map<string, AlertWindow>();
  const last = new Map<string, number>();
  for (const r of rows) last.set(r.server, Math.max(last.get(r.server) ?? 0, r.timestamp));
  const inWindow = rows.filter((r) => r.timestamp >= last.get(r.server)! - spanMs);
  for (const [server, list] of perTimestamp(inWindow)) {
    out.set(server, {
      samples: list.length,
      firstTs: list[0]!.timestamp,
      lastTs: list.at(-1)!.timestamp,
      cpuMin: Math.min(...list.map((r) => r.cpuPercent)),
      memMin: Math.min(...list.map((r) => memoryPercent(r.memUsedBytes, r.memTotalBytes))),
    });
  }
  return out;
}

function expectedHours(rows: readonly MetricRow[], from: number, to: number): Map<string, AlertHour[]> {
  const inRange = rows.filter((r) => r.timestamp >= from && r.timestamp < to);
  const out = new Map<string, AlertHour[]>();
  for (const [server, list] of perTimestamp(inRange)) {
    const hours: AlertHour[] = [];
    for (const r of list) {
      const hour = r.timestamp - (r.timestamp % HOUR_MS);
      const inHour = list.filter((x) => x.timestamp - (x.timestamp % HOUR_MS) === hour);
      if (hours.at(-1)?.hour === hour) continue;
      let sum = 0; // in time order, as the buckets add them
      for (const x of inHour) sum += memoryPercent(x.memUsedBytes, x.memTotalBytes);
      const lastTs = inHour.at(-1)!.timestamp;
      const disks = inRange
        .filter((x) => x.server === server && x.timestamp === lastTs)
        .sort((a, b) => (a.diskMount < b.diskMount ? -1 : 1))
        .map((x) => ({
          mount: x.diskMount,
          usedBytes: x.diskUsedBytes,
          freeBytes: x.diskFreeBytes,
          totalBytes: x.diskTotalBytes,
        }));
      const cpuPeak = Math.max(
        ...inHour.map((x) => Math.max(x.cpuPercent, x.cpuPeakPercent ?? x.cpuPercent)),
      );
      const memMax = Math.max(...inHour.map((x) => memoryPercent(x.memUsedBytes, x.memTotalBytes)));
      hours.push({ hour, lastTs, memAvg: sum / inHour.length, cpuPeak, memMax, disks });
    }
    out.set(server, hours);
  }
  return out;
}

describe.each(BACKENDS)("store.alerts reads: $name", (backend: StoreBackend) => {
  let t: TempStore | undefined;
  afterEach(async () => {
    await t?.cleanup();
    t = undefined;
  });

  it("last seen, the recent window and the hours of every server, as computed by hand from the samples", async (ctx) => {
    if (backend.skipReason !== undefined) ctx.skip(backend.skipReason);
    t = await backend.make({ schemaPrefix: "srvutil_alert_reads" });
    const store = t.store;
    const now = Date.now();
    const t0 = now - (now % MIN);
    const uploads = [
      // a-01: two hours ago, and every minute of the last 20.
      series("a-01", t0 - 2 * HOUR_MS - 30 * MIN, 5 * MIN, 8, ["/", "/data"]),
      series("a-01", t0 - 19 * MIN, MIN, 20, ["/", "/data"]),
      // b-01: silent for three hours.
      series("b-01", t0 - 4 * HOUR_MS, 10 * MIN, 7, ["/"]),
      // c-01: every five minutes of the last half hour, one sample without a memory total.
      series("c-01", t0 - 30 * MIN, 5 * MIN, 7, ["C:\\", "D:\\"]),
      series("e-01", t0 - 8 * MIN, 2 * MIN, 5, ["/srv", "/"]),
      // d-01: only yesterday.
      series("d-01", t0 - 26 * HOUR_MS, 10 * MIN, 6, ["/"]),
    ];
    for (const rows of uploads) await upload(store, rows);
    const all = uploads.flat();
    await store.rollups.refresh();

    const last = new Map<string, number>();
    for (const r of all) last.set(r.server, Math.max(last.get(r.server) ?? 0, r.timestamp));
    expect(await store.alerts.lastSeen()).toEqual(last);

    // Each server's own last 10 minutes, whenever its last sample was; from exactly a sample time: that sample counts.
    const window = await store.alerts.recentWindow(10 * MIN);
    expect([...window.keys()].sort()).toEqual(["a-01", "b-01", "c-01", "d-01", "e-01"]);
    expect(window).toEqual(expectedWindow(all, 10 * MIN));
    expect(window.get("a-01")).toMatchObject({ samples: 11, firstTs: t0 - 10 * MIN, lastTs: t0 });
    // b-01 went silent three hours ago: its window is its last 10 minutes then, two samples.
    expect(window.get("b-01")).toMatchObject({ samples: 2, lastTs: t0 - 3 * HOUR_MS });
    expect(window.get("c-01")!.memMin).toBe(0);
    expect(window.get("a-01")!.memMin).toBeGreaterThan(30);
    const lastOnly = await store.alerts.recentWindow(0);
    expect([...lastOnly.values()].map((w) => w.samples)).toEqual([1, 1, 1, 1, 1]);
    expect(lastOnly).toEqual(expectedWindow(all, 0));

    const hourNow = t0 - (t0 % HOUR_MS);
    const hoursFrom = hourNow - 5 * HOUR_MS;
    const hours = await store.alerts.hours(hoursFrom, hourNow + HOUR_MS);
    expect([...hours.keys()].sort()).toEqual(["a-01", "b-01", "c-01", "e-01"]);
    expect(hours).toEqual(expectedHours(all, hoursFrom, hourNow + HOUR_MS));
    expect(hours.get("a-01")!.at(-1)).toMatchObject({ hour: hourNow, lastTs: t0 });
    expect(
      hours
        .get("a-01")!
        .at(-1)!
        .disks.map((d) => d.mount),
    ).toEqual(["/", "/data"]);
    // [from, to): the current hour is left out when `to` is its start.
    const before = await store.alerts.hours(hoursFrom, hourNow);
    expect(before).toEqual(expectedHours(all, hoursFrom, hourNow));
    expect([...before.values()].flat().some((h) => h.hour === hourNow)).toBe(false);
    const yesterday = await store.alerts.hours(hourNow - 30 * HOUR_MS, hourNow - 20 * HOUR_MS);
    expect([...yesterday.keys()]).toEqual(["d-01"]);
    expect(yesterday).toEqual(expectedHours(all, hourNow - 30 * HOUR_MS, hourNow - 20 * HOUR_MS));
  });
});
