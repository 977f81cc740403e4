import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { aggregateRows, type HourAggregate } from "../../../src/central/aggregate/rows.js";
import { localDays, resolveReportWeek } from "../../../src/central/aggregate/week.js";
import { buildWeeklyReport } from "../../../src/central/report/index.js";
import type { WeeklyReport } from "../../../src/central/report/types.js";
import { refreshRollups } from "../../../src/central/storage/rollups/sqlite/rollups.js";
import { SqliteStore } from "../../../src/central/storage/sqlite/sqlite-store.js";
import type { Storage } from "../../../src/central/storage/store.js";
import type { MetricRow } from "../../../src/protocol/index.js";
import { profileRows, randomProfile, rng } from "../../helpers/fleet.js";
import { storeBackends, type TempStore, upload } from "../../helpers/store-backends.js";

/**
 * Rollups against raw rows, through the port (store.rollups), on SQLite and
 * on PostgreSQL: the same messy uploads, the same reports, bit for bit.
 */
const NOW = Date.UTC(2026, 10, 26, 12);
const BACKENDS = await storeBackends();
const withoutSource = (r: WeeklyReport): WeeklyReport => ({ ...r, source: undefined });

/** Every server's hour buckets over [from, to), through the port. */
async function hourlySnapshot(
  store: Storage,
  from: number,
  to: number,
): Promise<Record<string, HourAggregate[]>> {
  const out: Record<string, HourAggregate[]> = {};
  for (const s of await store.listServers())
    out[s.server] = await store.rollups.readHourly(s.server, from, to);
  return out;
}

/** A random fleet around `week`, uploaded the messy way: shuffled chunks, late data, duplicates. */
async function messyFleet(t: TempStore, seed: number, from: number, to: number): Promise<MetricRow[]> {
  const r = rng(seed);
  const all: MetricRow[] = [];
  const chunks: MetricRow[][] = [];
  for (let i = 0; i < 5; i++) {
    const p = randomProfile(r, `srv-${seed}-${i}`);
    p.intervalSeconds = r() < 0.5 ? 300 : 600;
    if (i === 1) p.stopAt = from + (to - from) * 0.6;
    const rows = [...profileRows(p, from, to, seed * 10 + i)];
    all.push(...rows);
    for (let k = 0; k < rows.length; ) {
      const size = 1 + Math.floor(r() * 400);
      chunks.push(rows.slice(k, k + size));
      k += size;
    }
  }
  // Late and out-of-order arrival, and some files uploaded twice.
  for (let i = chunks.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [chunks[i], chunks[j]] = [chunks[j]!, chunks[i]!];
  }
  for (let i = 0; i < chunks.length; i++) {
    await upload(t.store, chunks[i]!);
    if (r() < 0.1) await upload(t.store, chunks[Math.floor(r() * (i + 1))]!);
    // Fold in incrementally now and then, as `central serve` does after ingest:
    // all at once, or (as serve does) a few uploads per step, leaving the rest.
    if (r() < 0.1) {
      if (r() < 0.5) await t.store.rollups.refresh();
      else {
        const bound = 1 + Math.floor(r() * 5);
        await t.store.rollups.refresh({
          maxBatches: 1 + Math.floor(r() * 3),
          batchSize: bound,
        });
      }
    }
  }
  return all;
}

// The reference reports read every raw row: slow on a PostgreSQL shared with other test files.
describe.each(BACKENDS)("rollups on $name", { timeout: 120_000 }, ({ name, skipReason, make }) => {
  let t: TempStore | undefined;
  beforeEach((ctx) => {
    if (skipReason !== undefined) ctx.skip(skipReason);
  });
  afterEach(async () => {
    await t?.cleanup();
    t = undefined;
  });

  it("refresh in bounded steps stops with more = true and ends exactly where one full refresh would", async () => {
    t = await make();
    const from = Date.UTC(2026, 10, 16);
    await messyFleet(t, 11, from, from + 3 * 86_400_000);
    await t.store.rollups.refresh(); // caught up
    expect(await t.store.rollups.refresh()).toMatchObject({ hours: 0, more: false });
    const p = randomProfile(rng(99), "srv-late");
    const rows = [...profileRows(p, from, from + 86_400_000, 7)];
    for (let k = 0; k < rows.length; k += 50) await upload(t.store, rows.slice(k, k + 50));

    // SQLite counts uploads (7 here, 3 per batch), PostgreSQL dirty hours (24, 3 per batch).
    const bounds = { batchSize: 3 };
    const first = await t.store.rollups.refresh({ maxBatches: 2, ...bounds });
    expect(first.more).toBe(true);
    if (name === "sqlite") {
      expect(first.uploads).toBe(6);
      // A row bound below one upload's rows still moves on, one upload per batch (SQLite's own limit).
      if (!(t.store instanceof SqliteStore)) throw new Error("expected the SQLite store");
      const byRows = refreshRollups(t.store.db, { maxBatches: 1, batchUploads: 3, batchRows: 1 });
      expect(byRows).toMatchObject({ uploads: 1, more: true });
    } else {
      expect(first.hours).toBe(6);
    }
    let steps = 0;
    for (let guard = 0; guard < 1000; guard++) {
      steps++;
      if (!(await t.store.rollups.refresh({ maxBatches: 1, ...bounds })).more) break;
    }
    expect(steps).toBeGreaterThan(1);
    expect(await t.store.rollups.refresh()).toMatchObject({ hours: 0, more: false });

    const span = { from, to: from + 4 * 86_400_000 };
    const stepped = await hourlySnapshot(t.store, span.from, span.to);
    expect(stepped["srv-late"]).toHaveLength(24);
    await t.store.rollups.rebuild();
    expect(await hourlySnapshot(t.store, span.from, span.to)).toEqual(stepped);
  });

  it("after the store is cleared (central rebuild) holds only what was ingested since", async () => {
    t = await make();
    const from = Date.UTC(2026, 10, 16);
    await messyFleet(t, 21, from, from + 86_400_000);
    await t.store.rollups.refresh();
    const before = await hourlySnapshot(t.store, from, from + 86_400_000);
    expect(Object.keys(before)).toHaveLength(5);
    await t.store.clearIngestedData(); // what `central rebuild` does first
    const p = randomProfile(rng(5), "srv-after");
    await upload(t.store, [...profileRows(p, from, from + 6 * 3_600_000, 3)]);
    await t.store.rollups.refresh();
    for (const server of Object.keys(before)) {
      expect(await t.store.rollups.readHourly(server, from, from + 86_400_000)).toEqual([]);
    }
    const refreshed = await hourlySnapshot(t.store, from, from + 86_400_000);
    expect(Object.keys(refreshed)).toEqual(["srv-after"]);
    expect(refreshed["srv-after"]).toHaveLength(6);
    await t.store.rollups.rebuild();
    expect(await hourlySnapshot(t.store, from, from + 86_400_000)).toEqual(refreshed);
  });

  it.each([
    ["Europe/Berlin", "2026-W43", 1],
    ["Europe/Berlin", "2026-W13", 2],
    ["America/New_York", "2026-W45", 3],
    ["UTC", "2026-W47", 4],
    ["Australia/Sydney", "2026-W14", 5],
  ])("give the raw rows' figures exactly: %s %s (seed %i)", async (timeZone, weekSpec, seed) => {
    t = await make();
    const week = resolveReportWeek(weekSpec, timeZone);
    await messyFleet(t, seed, week.from - 9 * 86_400_000, week.to + 86_400_000);
    const now = week.to + 2 * 86_400_000;
    const rollups = await buildWeeklyReport(t.store, { week: weekSpec, timeZone, now });
    expect(rollups.source).toBe("rollups");
    const raw = await buildWeeklyReport(t.store, { week: weekSpec, timeZone, now, source: "raw" });
    expect(raw.source).toBe("raw");
    expect(rollups.servers.length).toBeGreaterThan(0);
    // Bit-identical, including every derived field (findings, week over week).
    expect(withoutSource(rollups)).toEqual(withoutSource(raw));
    // A second build (daily rollups now cached) and a full rebuild give the same report.
    expect(withoutSource(await buildWeeklyReport(t.store, { week: weekSpec, timeZone, now }))).toEqual(
      withoutSource(raw),
    );
    await t.store.rollups.rebuild();
    expect(withoutSource(await buildWeeklyReport(t.store, { week: weekSpec, timeZone, now }))).toEqual(
      withoutSource(raw),
    );
  });

  it("gives the raw rows' figures for names that need quoting (days are read packed, per server)", async () => {
    t = await make();
    const week = resolveReportWeek("2026-W47", "Europe/Berlin");
    // Names with the characters of PostgreSQL's array syntax and of JSON, and names whose order
    // differs between code units and a locale's collation.
    const servers = ['db "eu", {1}', "Zeta", "alpha", "Ärger\\x"];
    const mounts = ["C:\\", '/mnt/a,b "q"', "/mnt/{x}", "/ü"];
    for (const [i, server] of servers.entries()) {
      const p = randomProfile(rng(20 + i), server);
      p.intervalSeconds = 600;
      p.mounts = mounts.slice(i % 2, (i % 2) + 2 + (i % 3));
      p.diskTotal = p.mounts.map((_, m) => (50 + 10 * m) * 1024 ** 3);
      p.diskUsed0 = p.diskTotal.map((d) => d / 3);
      p.diskGrowthPerDay = p.diskTotal.map(() => 1024 ** 3);
      await upload(t.store, [...profileRows(p, week.from - 9 * 86_400_000, week.to, 20 + i)]);
    }
    const opts = { week: "2026-W47", timeZone: "Europe/Berlin", now: week.to + 86_400_000 };
    const raw = await buildWeeklyReport(t.store, { ...opts, source: "raw" });
    expect(raw.servers.map((s) => s.server).sort()).toEqual([...servers].sort());
    expect(new Set(raw.servers.flatMap((s) => s.days.flatMap((d) => d.disks.map((x) => x.mount))))).toEqual(
      new Set(mounts),
    );
    // The first build fills the daily rollups, the second reads them back.
    for (let build = 0; build < 2; build++) {
      const rollups = await buildWeeklyReport(t.store, { ...opts, source: "rollups" });
      expect(withoutSource(rollups)).toEqual(withoutSource(raw));
    }
  });

  it("keeps cached days current when late rows arrive after a report was built", async () => {
    t = await make();
    const week = resolveReportWeek("2026-W47", "Europe/Berlin");
    const r = rng(9);
    const p = randomProfile(r, "late-01");
    p.intervalSeconds = 300;
    const rows = [...profileRows(p, week.from, week.to, 9)];
    const wednesday = (row: MetricRow) =>
      row.timestamp >= week.dayStarts[2]! && row.timestamp < week.dayStarts[3]!;
    await upload(
      t.store,
      rows.filter((x) => !wednesday(x)),
    );
    const before = await buildWeeklyReport(t.store, {
      week: "2026-W47",
      timeZone: "Europe/Berlin",
      now: NOW,
    });
    expect(before.servers[0]!.days[2]!.samples).toBe(0);
    await upload(t.store, rows.filter(wednesday)); // a late upload of Wednesday
    const after = await buildWeeklyReport(t.store, { week: "2026-W47", timeZone: "Europe/Berlin", now: NOW });
    const raw = await buildWeeklyReport(t.store, {
      week: "2026-W47",
      timeZone: "Europe/Berlin",
      now: NOW,
      source: "raw",
    });
    expect(after.servers[0]!.days[2]!.samples).toBe(288);
    expect(withoutSource(after)).toEqual(withoutSource(raw));
  });

  it("serves overlapping weeks from partly cached days", async () => {
    t = await make();
    const w47 = resolveReportWeek("2026-W47", "Europe/Berlin");
    await messyFleet(t, 7, w47.from - 20 * 86_400_000, w47.to + 8 * 86_400_000);
    for (const week of ["2026-W46", "2026-W48", "2026-W47"]) {
      const opts = { week, timeZone: "Europe/Berlin", now: NOW + 7 * 86_400_000 };
      const rollups = await buildWeeklyReport(t.store, opts);
      const raw = await buildWeeklyReport(t.store, { ...opts, source: "raw" });
      expect(rollups.source).toBe("rollups");
      expect(withoutSource(rollups)).toEqual(withoutSource(raw));
    }
  });

  it("starts over when the stored data was cleared (central rebuild)", async () => {
    t = await make();
    const week = resolveReportWeek("2026-W47", "UTC");
    const p = randomProfile(rng(3), "gone-01");
    await upload(t.store, [...profileRows(p, week.from, week.to, 3)]);
    const first = await buildWeeklyReport(t.store, { week: "2026-W47", timeZone: "UTC", now: NOW });
    expect(first.servers).toHaveLength(1);
    await t.store.clearIngestedData();
    const q = randomProfile(rng(4), "new-01");
    await upload(t.store, [...profileRows(q, week.from, week.to, 4)]);
    const after = await buildWeeklyReport(t.store, { week: "2026-W47", timeZone: "UTC", now: NOW });
    const raw = await buildWeeklyReport(t.store, {
      week: "2026-W47",
      timeZone: "UTC",
      now: NOW,
      source: "raw",
    });
    expect(after.servers.map((s) => s.server)).toEqual(["new-01"]);
    expect(withoutSource(after)).toEqual(withoutSource(raw));
  });

  it("falls back to raw rows in a zone whose midnights are not whole UTC hours (Asia/Kolkata)", async () => {
    t = await make();
    const week = resolveReportWeek("2026-W47", "Asia/Kolkata");
    const all = await messyFleet(t, 6, week.from - 3 * 86_400_000, week.to + 86_400_000);
    const report = await buildWeeklyReport(t.store, { week: "2026-W47", timeZone: "Asia/Kolkata", now: NOW });
    expect(report.source).toBe("raw");
    await expect(
      buildWeeklyReport(t.store, { week: "2026-W47", timeZone: "Asia/Kolkata", now: NOW, source: "rollups" }),
    ).rejects.toThrow(/whole UTC hours/);
    // The store path equals the pure reference over the generated rows.
    const reference = aggregateRows(all, localDays(week.dates[0]!, 7, "Asia/Kolkata"));
    for (const s of report.servers) {
      const days = s.days.map(({ expected_samples: _e, coverage: _c, ...d }) => d);
      expect(days).toEqual(reference.get(s.server));
    }
  });
});
