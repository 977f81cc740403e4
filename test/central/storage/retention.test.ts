import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { buildWeeklyReport } from "../../../src/central/report/index.js";
import { pruneReceivedMetrics, rawCutoff, runRetention } from "../../../src/central/retention.js";
import { SamplePartitions } from "../../../src/central/storage/postgres/partitions.js";
import { PgStore } from "../../../src/central/storage/postgres/pg-store.js";
import { deleteFoldedSamples } from "../../../src/central/storage/postgres/retention.js";
import { lockAllServersForSession } from "../../../src/central/storage/rollups/postgres/rollups.js";
import type { Storage } from "../../../src/central/storage/store.js";
import type { MetricRow } from "../../../src/protocol/index.js";
import { profileRows, randomProfile, rng } from "../../helpers/fleet.js";
import { createTestSchema, findTestPostgres, requirePostgres } from "../../helpers/postgres.js";
import { storeBackends } from "../../helpers/store-backends.js";

/**
 * Raw retention through the port on both backends: rows before the cutoff
 * are gone, rows after it untouched, and the reports of weeks inside
 * retention are identical before and after.
 */
const PG = await findTestPostgres();
const DAY = 86_400_000;
const NOW = Date.UTC(2026, 10, 25, 9, 30); // Wednesday of 2026-W48
const FROM = Date.UTC(2026, 8, 14); // Monday, ten weeks earlier
const CUTOFF = rawCutoff(NOW, 35); // Wed 21 Oct 2026 09:00 UTC
const dirs: string[] = [];

type Open = (ctx: { skip: (note?: string) => never }) => Promise<{ store: Storage; close(): Promise<void> }>;
const backends: [string, Open][] = (await storeBackends()).map((backend) => [
  backend.name,
  async (ctx) => {
    if (backend.skipReason !== undefined) ctx.skip(backend.skipReason);
    const t = await backend.make({ max: 3, schemaPrefix: "srvutil_ret" });
    return { store: t.store, close: () => t.cleanup() };
  },
]);

afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function fill(store: Storage): Promise<void> {
  const r = rng(7);
  for (let i = 0; i < 3; i++) {
    const p = randomProfile(r, `srv-${i}`);
    p.intervalSeconds = 1800;
    let day: MetricRow[] = [];
    let n = 0;
    const flush = async () => {
      if (day.length === 0) return;
      const id = `u-${i}-${n++}`;
      await store.ingest(
        { uploadId: id, server: p.server, receivedAt: NOW, rawPath: `x/${id}`, sha256: id, bytes: 0 },
        day,
      );
      day = [];
    };
    for (const row of profileRows(p, FROM, NOW, i)) {
      if (day.length > 0 && Math.floor(row.timestamp / DAY) !== Math.floor(day[0]!.timestamp / DAY))
        await flush();
      day.push(row);
    }
    await flush();
  }
}

async function count(store: Storage, from: number, to: number): Promise<number> {
  let n = 0;
  for await (const _ of store.samples({ from, to })) n++;
  return n;
}

const report = (store: Storage, week: string) =>
  buildWeeklyReport(store, { week, timeZone: "UTC", now: NOW, thresholds: { history_days: 14 } });

describe.each(backends)("raw retention: %s", (name, open) => {
  let h: Awaited<ReturnType<Open>> | undefined;
  beforeEach(async (ctx) => {
    h = await open(ctx);
    return async () => {
      await h?.close();
      h = undefined;
    };
  });

  it("prunes rows before the cutoff, keeps the rest, and reports inside retention stay identical", async () => {
    const store = h!.store;
    await fill(store);
    // W47 with the default 28-day history reaches back past the cutoff: those days come from the rollups.
    const fullHistory = () => buildWeeklyReport(store, { week: "2026-W47", timeZone: "UTC", now: NOW });
    const before = {
      w46: await report(store, "2026-W46"),
      w47: await report(store, "2026-W47"),
      full: await fullHistory(),
    };
    const kept = await count(store, CUTOFF, NOW);
    expect(await count(store, 0, CUTOFF)).toBeGreaterThan(0);

    const run = await runRetention(
      store,
      { rawDays: 35, receivedMetricsDays: null, hourlyMonths: 13 },
      { now: NOW, receivedMetricsDir: path.join(os.tmpdir(), "srvutil-no-such-dir") },
    );
    expect(run.rawCutoff).toBe(Date.UTC(2026, 9, 21, 9));
    expect(run.receivedMetricsDaysRemoved).toBeNull();
    expect(run.rollups.rawHorizon).toBe(CUTOFF); // the rollup side: no hour before it is recomputed
    expect(run.rollups.hourlyDeleted).toBe(0); // nothing is 13 months old
    expect(await count(store, 0, CUTOFF)).toBe(0);
    expect(await count(store, CUTOFF, NOW)).toBe(kept);
    expect(run.samples!.rowsDeleted).toBeGreaterThan(0); // the boundary week (PG) or everything (SQLite)
    if (name === "postgres") {
      // The five whole weeks from 14 Sep to 18 Oct go as partitions; 19 Oct is the boundary.
      expect(run.samples!.partitionsDropped).toEqual([
        "samples_p20260914",
        "samples_p20260921",
        "samples_p20260928",
        "samples_p20261005",
        "samples_p20261012",
      ]);
    } else {
      expect(run.samples!.partitionsDropped).toEqual([]);
    }
    expect(await report(store, "2026-W46")).toEqual(before.w46);
    expect(await report(store, "2026-W47")).toEqual(before.w47);
    expect(await fullHistory()).toEqual(before.full);
    // The servers stay listed (first seen, rows ever stored): older weeks are the rollups' to serve.
    expect((await store.listServers()).map((s) => s.firstSeen)).toEqual(
      expect.arrayContaining([expect.any(Number)]),
    );
    expect((await store.listServers()).every((s) => s.firstSeen < CUTOFF)).toBe(true);

    const again = await store.retention.pruneSamples(CUTOFF);
    expect(again).toEqual({ cutoff: CUTOFF, rowsDeleted: 0, partitionsDropped: [] });
    // A late upload for a pruned week is still taken (and pruned by the next run).
    const late = await store.ingest(
      { uploadId: "late", server: "srv-0", receivedAt: NOW, rawPath: "x/late", sha256: "late", bytes: 0 },
      [{ ...(await firstRow(store, CUTOFF)), timestamp: Date.UTC(2026, 8, 15) }],
    );
    expect(late.inserted).toBe(1);
    const lateRun = await store.retention.pruneSamples(CUTOFF);
    if (name === "postgres") expect(lateRun.partitionsDropped).toEqual(["samples_p20260914"]);
    else expect(lateRun.rowsDeleted).toBe(1);
    expect(await count(store, 0, CUTOFF)).toBe(0);
  }, 90_000); // ten weeks of samples and six report builds on a shared 2-core machine

  it("deletes in batches smaller than one timestamp's rows", async () => {
    const store = h!.store;
    const rows: MetricRow[] = [];
    for (let t = 0; t < 30; t++) {
      for (const mount of ["/", "/a", "/b"])
        rows.push({ ...sample("srv-x", Date.UTC(2026, 9, 1) + t * 60_000), diskMount: mount });
    }
    await store.ingest(
      { uploadId: "b", server: "srv-x", receivedAt: NOW, rawPath: "x/b", sha256: "b", bytes: 0 },
      rows,
    );
    const cut = Date.UTC(2026, 9, 1) + 20 * 60_000;
    const res = await store.retention.pruneSamples(cut, { batchSize: 2 });
    expect(res.rowsDeleted).toBe(60);
    expect(await count(store, 0, cut)).toBe(0);
    expect(await count(store, cut, NOW)).toBe(30);
  });
});

describe.each(backends)("raw retention and rows not folded yet: %s", (_name, open) => {
  let h: Awaited<ReturnType<Open>> | undefined;
  beforeEach(async (ctx) => {
    h = await open(ctx);
    return async () => {
      await h?.close();
      h = undefined;
    };
  });

  it("never deletes rows the rollups do not have yet (a late upload just before the prune)", async () => {
    const store = h!.store;
    const now = Date.now(); // the real clock: the week below is six weeks back from today
    await runRetention(
      store,
      { rawDays: 35, receivedMetricsDays: null, hourlyMonths: 13 },
      { now, receivedMetricsDir: path.join(os.tmpdir(), "srvutil-no-such-dir") },
    );
    // A late upload for a sealed week, stored and not refreshed yet (on PostgreSQL its week's
    // partition is created anew, and is past the cutoff: the prune drops whole weeks like it).
    const monday =
      Math.floor((now - 45 * DAY - Date.UTC(1970, 0, 5)) / (7 * DAY)) * 7 * DAY + Date.UTC(1970, 0, 5);
    const rows = Array.from({ length: 7 * 24 }, (_, i) =>
      sample("late-01", monday + i * 3_600_000 + 120_000),
    );
    await store.ingest(
      { uploadId: "late-week", server: "late-01", receivedAt: now, rawPath: "x/lw", sha256: "lw", bytes: 0 },
      rows,
    );
    const run = await store.retention.pruneSamples(rawCutoff(now, 35));
    if (store.kind === "postgres") {
      expect(run.partitionsDropped).toContain(
        `samples_p${new Date(monday).toISOString().slice(0, 10).replaceAll("-", "")}`,
      );
    }
    const week = isoWeekOf(monday);
    const days = (await buildWeeklyReport(store, { week, timeZone: "UTC", now })).servers[0]!.days;
    expect(days.reduce((n, d) => n + d.samples, 0)).toBe(rows.length);
    // Folded now: the next prune takes them.
    await store.retention.pruneSamples(rawCutoff(now, 35));
    expect(await count(store, monday, monday + 7 * DAY)).toBe(0);
    const again = (await buildWeeklyReport(store, { week, timeZone: "UTC", now })).servers[0]!.days;
    expect(again.reduce((n, d) => n + d.samples, 0)).toBe(rows.length);
  });
});

describe("PostgreSQL: a week dropped with rows the rollups do not have yet", () => {
  it("puts those rows back in a new partition, for the refresh to fold", async (ctx) => {
    const url = requirePostgres(ctx, PG);
    const { schema, drop } = await createTestSchema(url, "srvutil_rescue");
    const store = new PgStore(url, { schema, max: 3 });
    try {
      await store.init();
      const now = Date.now();
      await runRetention(
        store,
        { rawDays: 35, receivedMetricsDays: null, hourlyMonths: 13 },
        { now, receivedMetricsDir: path.join(os.tmpdir(), "srvutil-no-such-dir") },
      );
      const monday = Math.floor((now - 45 * DAY - MONDAY) / (7 * DAY)) * 7 * DAY + MONDAY;
      const week = isoWeekOf(monday);
      // Two late uploads for a sealed week: one folded, one committed after the last refresh.
      const folded = Array.from({ length: 24 }, (_, i) => sample("rescue-01", monday + i * 3_600_000));
      const unfolded = Array.from({ length: 24 }, (_, i) =>
        sample("rescue-01", monday + 2 * DAY + i * 3_600_000),
      );
      await store.ingest(
        { uploadId: "f", server: "rescue-01", receivedAt: now, rawPath: "x/f", sha256: "f", bytes: 0 },
        folded,
      );
      await store.rollups.refresh();
      await store.ingest(
        { uploadId: "u", server: "rescue-01", receivedAt: now, rawPath: "x/u", sha256: "u", bytes: 0 },
        unfolded,
      );
      // The drop itself (what pruneSamples does after its refresh), as if the upload came in between.
      const partitions = new SamplePartitions(store.pool);
      const client = await store.pool.connect();
      let dropped: string[];
      try {
        await lockAllServersForSession(client);
        dropped = (await partitions.dropBefore(rawCutoff(now, 35), client)).map((p) => p.name);
        await client.query("SELECT pg_advisory_unlock_all()");
      } finally {
        client.release();
      }
      const name = `samples_p${new Date(monday).toISOString().slice(0, 10).replaceAll("-", "")}`;
      expect(dropped).toContain(name);
      // The folded rows went with the week; the others are back, in a new partition of the same week.
      expect(await count(store, monday, monday + DAY)).toBe(0);
      expect(await count(store, monday + 2 * DAY, monday + 3 * DAY)).toBe(24);
      expect((await partitions.list()).map((p) => p.name)).toContain(name);
      const days = (await buildWeeklyReport(store, { week, timeZone: "UTC", now })).servers[0]!.days;
      expect(days.map((d) => d.samples)).toEqual([24, 0, 24, 0, 0, 0, 0]);
      // Folded now, they go with the next prune.
      const next = await store.retention.pruneSamples(rawCutoff(now, 35));
      expect(next.partitionsDropped).toEqual([name]);
      expect(await count(store, monday, monday + 7 * DAY)).toBe(0);
      const again = (await buildWeeklyReport(store, { week, timeZone: "UTC", now })).servers[0]!.days;
      expect(again.map((d) => d.samples)).toEqual([24, 0, 24, 0, 0, 0, 0]);
    } finally {
      await store.close();
      await drop();
    }
  });
});

describe("PostgreSQL: the boundary week's DELETE", () => {
  it("keeps the rows of hours the rollups do not have yet (a dirty mark)", async (ctx) => {
    const url = requirePostgres(ctx, PG);
    const { schema, drop } = await createTestSchema(url, "srvutil_keep");
    const store = new PgStore(url, { schema, max: 3 });
    try {
      await store.init();
      const hour = Math.floor((Date.now() - 40 * DAY) / 3_600_000) * 3_600_000;
      const rows = [0, 1, 2].map((h) => sample("keep-01", hour + h * 3_600_000 + 60_000));
      await store.ingest(
        { uploadId: "k", server: "keep-01", receivedAt: Date.now(), rawPath: "x/k", sha256: "k", bytes: 0 },
        rows,
      );
      // Hour 1 is folded; hours 0 and 2 are still marked (uploaded after the last refresh).
      await store.pool.query("DELETE FROM rollup_dirty WHERE server = 'keep-01' AND hour = $1", [
        hour + 3_600_000,
      ]);
      expect(await deleteFoldedSamples(store.pool, ["keep-01"], hour, hour + 3 * 3_600_000)).toBe(1);
      expect(await count(store, hour, hour + 3 * 3_600_000)).toBe(2);
      expect(await count(store, hour + 3_600_000, hour + 2 * 3_600_000)).toBe(0);
    } finally {
      await store.close();
      await drop();
    }
  });
});

const MONDAY = Date.UTC(1970, 0, 5);

/** The ISO week (UTC) of a Monday 00:00 UTC. */
function isoWeekOf(monday: number): string {
  const thursday = new Date(monday + 3 * DAY);
  const jan4 = Date.UTC(thursday.getUTCFullYear(), 0, 4);
  const week1 = jan4 - ((new Date(jan4).getUTCDay() + 6) % 7) * DAY;
  return `${thursday.getUTCFullYear()}-W${String(Math.floor((monday - week1) / (7 * DAY)) + 1).padStart(2, "0")}`;
}

async function firstRow(store: Storage, from: number): Promise<MetricRow> {
  for await (const r of store.samples({ from, to: NOW, servers: ["srv-0"] })) return r;
  throw new Error("no row");
}

function sample(server: string, timestamp: number): MetricRow {
  return {
    server,
    timestamp,
    cpuPercent: 10,
    cpuPeakPercent: null,
    intervalSeconds: 60,
    memTotalBytes: 8e9,
    memUsedBytes: 4e9,
    memAvailableBytes: 4e9,
    diskMount: "/",
    diskTotalBytes: 1e11,
    diskUsedBytes: 5e10,
    diskFreeBytes: 5e10,
  };
}

describe("received_metrics/ retention", () => {
  it("removes the day directories received before the horizon and nothing else", async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), "srvutil-rm-"));
    dirs.push(root);
    for (const [server, day] of [
      ["alpha", "2026-09-01"],
      ["alpha", "2026-10-25"],
      ["alpha", "2026-10-26"],
      ["beta", "2026-10-01"],
      ["beta", "not-a-day"],
    ] as const) {
      mkdirSync(path.join(root, server, day), { recursive: true });
      writeFileSync(path.join(root, server, day, "f.csv"), "x");
    }
    writeFileSync(path.join(root, "README"), "x");
    // 30 days before NOW (25 Nov 09:30) is 26 Oct 09:30: days up to 25 Oct have ended before it.
    expect(await pruneReceivedMetrics(root, NOW - 30 * DAY)).toBe(3);
    expect(readdirSync(path.join(root, "alpha"))).toEqual(["2026-10-26"]);
    expect(readdirSync(path.join(root, "beta"))).toEqual(["not-a-day"]);
    expect(readdirSync(root).sort()).toEqual(["README", "alpha", "beta"]);
    expect(await pruneReceivedMetrics(path.join(root, "missing"), NOW)).toBe(0);
  });
});
