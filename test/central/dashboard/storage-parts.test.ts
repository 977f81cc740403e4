import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { localDays } from "../../../src/central/aggregate/week.js";
import type { ArchivedReport } from "../../../src/central/storage/report-archive-store.js";
import type { Storage } from "../../../src/central/storage/store.js";
import type { MetricRow } from "../../../src/protocol/index.js";
import { findTestPostgres, requirePostgres } from "../../helpers/postgres.js";
import { storeBackends } from "../../helpers/store-backends.js";

/** The dashboard's parts of the storage port (users, report archive, batched reads), on both backends. */
const PG = await findTestPostgres();
const HOUR = 3_600_000;
const T0 = Date.parse("2026-03-09T00:00:00Z");

const [SQLITE, POSTGRES] = await storeBackends();

function sqlite(): Promise<{ store: Storage; cleanup(): Promise<void> }> {
  return SQLITE.make();
}
async function postgres(): Promise<{ store: Storage; cleanup(): Promise<void> }> {
  const t = await POSTGRES.make();
  await t.store.init(); // idempotent
  return t;
}

const archived = (week: string, group: string, createdAt: number): ArchivedReport => ({
  week,
  group,
  createdAt,
  subject: `report ${week} ${group}`,
  servers: 2,
  needingAction: 1,
  digestHtml: "<p>digest</p>",
  reportHtml: "<p>report</p>",
  json: '{"week":"x"}',
  csv: "week,server\n",
  serverRows: [
    { server: "a", status: "ok", reason: null, findings: [], forecasts: [] },
    {
      server: "b",
      status: "critical",
      reason: "disk full",
      findings: [{ severity: "critical", kind: "disk_full", message: "full", mount: "/" }],
      forecasts: [
        {
          mount: "/",
          full_date: "2026-04-01",
          days_to_full: 20,
          growth_bytes_per_day: 5,
          r2: 0.9,
          points: 14,
        },
      ],
    },
  ],
});

function rows(server: string, hours: number, cpu: (i: number) => number): MetricRow[] {
  const out: MetricRow[] = [];
  for (let i = 0; i < hours * 4; i++) {
    const ts = T0 + i * 15 * 60_000;
    for (const mount of ["/", "/var"]) {
      out.push({
        timestamp: ts,
        server,
        cpuPercent: cpu(i),
        cpuPeakPercent: i % 3 === 0 ? null : cpu(i) + 10,
        intervalSeconds: 900,
        memTotalBytes: 1000,
        memUsedBytes: 300 + (i % 7) * 10,
        memAvailableBytes: 700 - (i % 7) * 10,
        diskMount: mount,
        diskTotalBytes: 10_000,
        diskUsedBytes: mount === "/" ? 4000 + i : 9000,
        diskFreeBytes: mount === "/" ? 6000 - i : 1000,
      });
    }
  }
  return out;
}

describe.each([
  ["sqlite", undefined, sqlite],
  ["postgres", PG.skipReason, postgres],
] as const)("dashboard storage parts: %s", (_name, skipReason, make) => {
  let h: Awaited<ReturnType<typeof sqlite>> | undefined;
  beforeAll(async () => {
    if (skipReason === undefined) h = await make();
  });
  afterAll(async () => h?.cleanup());
  beforeEach((ctx) => {
    if (skipReason !== undefined) ctx.skip(skipReason);
  });

  it("users: unique names, replace ends sessions, remove ends sessions, expiry", async () => {
    const u = h!.store.users;
    const user = {
      name: "ann",
      role: "admin" as const,
      groups: null,
      passwordHash: "scrypt$x",
      createdAt: 1,
    };
    expect(await u.addUser(user)).toBe(true);
    expect(await u.addUser({ ...user, role: "viewer" })).toBe(false);
    expect((await u.findUser("ann"))?.role).toBe("admin");
    await u.createSession({ idHash: "s1", user: "ann", csrfToken: "c1", createdAt: 10, expiresAt: 100 });
    expect(await u.findSession("s1", 50)).toEqual({
      idHash: "s1",
      user: "ann",
      csrfToken: "c1",
      createdAt: 10,
      expiresAt: 100,
      role: "admin",
      groups: null,
    });
    expect(await u.findSession("s1", 100)).toBeNull();
    await u.touchSession("s1", 200);
    expect((await u.findSession("s1", 150))?.expiresAt).toBe(200);
    await u.putUser({ ...user, role: "viewer", passwordHash: "scrypt$y" });
    expect(await u.findSession("s1", 150)).toBeNull();
    expect((await u.findUser("ann"))?.role).toBe("viewer");
    // A scoped viewer keeps its groups through the store and into its sessions.
    await u.putUser({ ...user, role: "viewer", groups: ["payments", "db"], passwordHash: "scrypt$y" });
    expect((await u.findUser("ann"))?.groups).toEqual(["payments", "db"]);
    await u.createSession({ idHash: "s9", user: "ann", csrfToken: "c9", createdAt: 10, expiresAt: 1000 });
    expect(await u.findSession("s9", 50)).toMatchObject({ role: "viewer", groups: ["payments", "db"] });
    await u.putUser({ ...user, role: "viewer", passwordHash: "scrypt$y" });
    expect((await u.findUser("ann"))?.groups).toBeNull();
    await u.createSession({ idHash: "s2", user: "ann", csrfToken: "c2", createdAt: 10, expiresAt: 1000 });
    await u.createSession({ idHash: "s3", user: "ann", csrfToken: "c3", createdAt: 10, expiresAt: 20 });
    expect(await u.deleteExpiredSessions(50)).toBe(1);
    expect(await u.removeUser("ann")).toBe(true);
    expect(await u.removeUser("ann")).toBe(false);
    expect(await u.findSession("s2", 50)).toBeNull();
    expect(await u.listUsers()).toEqual([]);
  });

  it("OpenID Connect sessions: stored apart from users, found with their claims, ended by subject or provider session", async () => {
    const u = h!.store.users;
    const now = Date.now();
    const sso = (subject: string, providerSid: string | null) => ({
      role: "viewer" as const,
      groups: ["payments"],
      idToken: `id-token-${subject}`,
      subject,
      providerSid,
    });
    const session = (idHash: string, subject: string, providerSid: string | null) => ({
      idHash,
      user: `${subject}@example.com`,
      csrfToken: `csrf-${idHash}`,
      createdAt: now,
      expiresAt: now + HOUR,
      sso: sso(subject, providerSid),
    });
    await u.createSession(session("o1", "sub-1", "sid-1"));
    await u.createSession(session("o2", "sub-1", "sid-2"));
    await u.createSession(session("o3", "sub-2", null));
    // No dashboard user named after it: the session stands on its own.
    expect(await u.findUser("sub-1@example.com")).toBeNull();
    expect(await u.findSession("o1", now + 1)).toEqual({
      idHash: "o1",
      user: "sub-1@example.com",
      csrfToken: "csrf-o1",
      createdAt: now,
      expiresAt: now + HOUR,
      role: "viewer",
      groups: ["payments"],
      sso: sso("sub-1", "sid-1"),
    });
    expect(await u.findSession("o1", now + HOUR)).toBeNull();
    await u.touchSession("o1", now + 2 * HOUR);
    expect((await u.findSession("o1", now + HOUR))?.expiresAt).toBe(now + 2 * HOUR);
    expect(await u.endSsoSessions({ subject: "sub-1", providerSid: "sid-2" })).toBe(1);
    expect(await u.findSession("o2", now + 1)).toBeNull();
    expect(await u.findSession("o1", now + 1)).not.toBeNull();
    expect(await u.endSsoSessions({ subject: "sub-2", providerSid: null })).toBe(1);
    expect(await u.findSession("o3", now + 1)).toBeNull();
    expect(await u.endSsoSessions({ subject: null, providerSid: null })).toBe(0);
    await u.deleteSession("o1");
    expect(await u.findSession("o1", now + 1)).toBeNull();
  });

  it("sign-in throttle: each update reads and writes its keys atomically, even 40 at once", async () => {
    const u = h!.store.users;
    const bump = (keys: string[], at: number) =>
      u.updateLoginThrottle(keys, (states) => ({
        states: states.map((s) => ({ failures: (s?.failures ?? 0) + 1, lastAt: at })),
        result: states.map((s) => s?.failures ?? 0),
      }));
    // 40 concurrent read-modify-writes of two keys (given in both orders): none is lost, none deadlocks.
    const seen = await Promise.all(
      Array.from({ length: 40 }, (_, i) => bump(i % 2 === 0 ? ["a", "b"] : ["b", "a"], 1000 + i)),
    );
    const before = seen.map((r, i) => (i % 2 === 0 ? r[0]! : r[1]!)).sort((x, y) => x - y);
    expect(before).toEqual(Array.from({ length: 40 }, (_, i) => i));
    const read = () => u.updateLoginThrottle(["a", "b", "c"], (states) => ({ states, result: states }));
    const [a, b, c] = await read();
    expect(a?.failures).toBe(40);
    expect(b?.failures).toBe(40);
    expect(c).toBeNull();
    // null removes a key; prune drops what is older than its bound.
    await u.updateLoginThrottle(["a"], () => ({ states: [null], result: undefined }));
    await bump(["c"], 5_000);
    await u.pruneLoginThrottle(2_000);
    expect((await read()).map((s) => s?.failures ?? null)).toEqual([null, null, 1]);
  });

  it("report archive: save replaces, lists newest first, serves parts and server history", async () => {
    const r = h!.store.reports;
    await r.save(archived("2026-W09", "default", 1));
    await r.save(archived("2026-W10", "default", 2));
    await r.save(archived("2026-W10", "web", 3));
    await r.save({
      ...archived("2026-W10", "default", 4),
      subject: "resent",
      serverRows: archived("", "", 0).serverRows.slice(1),
    });
    expect((await r.list()).map((x) => [x.week, x.group, x.createdAt])).toEqual([
      ["2026-W10", "default", 4],
      ["2026-W10", "web", 3],
      ["2026-W09", "default", 1],
    ]);
    expect((await r.listWeek("2026-W10")).map((x) => x.subject)).toEqual(["resent", "report 2026-W10 web"]);
    expect(await r.part("2026-W10", "web", "csv")).toBe("week,server\n");
    expect(await r.part("2026-W10", "web", "json")).toBe('{"week":"x"}');
    expect(await r.part("2026-W11", "web", "html")).toBeNull();
    expect((await r.serverRows("2026-W10", "default")).map((x) => x.server)).toEqual(["b"]);
    const hist = await r.serverHistory("b", 10);
    expect(hist.map((x) => [x.week, x.group])).toEqual([
      ["2026-W10", "default"],
      ["2026-W10", "web"],
      ["2026-W09", "default"],
    ]);
    expect(hist[0]!.findings[0]!.kind).toBe("disk_full");
    expect(hist[0]!.forecasts[0]!.days_to_full).toBe(20);
    expect(await r.serverHistory("a", 1)).toHaveLength(1);
  });

  it("dashboard reads: hour points with peaks and disks, the fleet's hours and newest hour", async () => {
    const s = h!.store;
    await s.ingest(
      { uploadId: "u1", server: "a", receivedAt: 1, rawPath: "a", sha256: "a", bytes: 1 },
      rows("a", 5, (i) => 10 + i),
    );
    await s.ingest(
      { uploadId: "u2", server: "b", receivedAt: 1, rawPath: "b", sha256: "b", bytes: 1 },
      rows("b", 3, () => 50),
    );
    await s.rollups.refresh();
    const points = await s.dashboard.hourPoints("a", T0 + HOUR, T0 + 3 * HOUR);
    expect(points.map((p) => p.hour)).toEqual([T0 + HOUR, T0 + 2 * HOUR]);
    expect(points[0]!.samples).toBe(4);
    // Hour 1 holds samples 4..7: CPU 14..17, average 15.5, peak max(cpu, cpu+10 when sent) = 27.
    expect(points[0]!.cpuAvg).toBeCloseTo(15.5, 10);
    expect(points[0]!.cpuPeak).toBeCloseTo(27, 10);
    expect(points[0]!.disks.map((d) => d.mount)).toEqual(["/", "/var"]);
    expect(points[0]!.disks[0]!.usedBytes).toBe(4007);
    expect(points[0]!.disks[1]!.percent).toBeCloseTo(90, 10);
    const fleet = await s.dashboard.fleetHours(T0, T0 + 24 * HOUR);
    expect([...fleet.keys()].sort()).toEqual(["a", "b"]);
    expect(fleet.get("a")!.hours).toHaveLength(5);
    expect(fleet.get("b")!.latest.hour).toBe(T0 + 2 * HOUR);
    expect(fleet.get("b")!.latest.cpuAvg).toBeCloseTo(50, 10);
    expect(fleet.get("b")!.latest.worstDisk).toEqual({ mount: "/var", percent: 90 });
    expect(await s.dashboard.hourPoints("nobody", T0, T0 + HOUR)).toEqual([]);
  });
});

/** Fields of a and b equal, numbers within 1e-9; `at` names the place of a difference. */
function expectClose(a: unknown, b: unknown, at = "result"): void {
  if (typeof a === "number" && typeof b === "number") {
    if (!(Math.abs(a - b) <= 1e-9)) expect.fail(`${at}: ${a} ≠ ${b}`);
    return;
  }
  if (typeof a !== "object" || a === null || typeof b !== "object" || b === null) {
    expect(a, at).toEqual(b);
    return;
  }
  expect(Array.isArray(a), at).toBe(Array.isArray(b));
  const ka = Object.keys(a);
  expect(ka, at).toEqual(Object.keys(b));
  for (const k of ka)
    expectClose((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${at}.${k}`);
}

/**
 * Uneven rows for the comparison: 5-minute samples starting mid-hour,
 * irregular figures, missing peaks, a zero memory total and an empty disk,
 * mounts whose order depends on the collation ("/Data" < "/data",
 * "/var-log" < "/var/log" bytewise), a mount that stops before the last
 * hour, two mounts equally full, and a server that stops early.
 */
function unevenRows(): { server: string; rows: MetricRow[] }[] {
  let seed = 12345;
  const next = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const fleet: [string, string[], number][] = [
    ["app-1", ["/", "/data", "/Data"], 7],
    ["Zeta", ["/var/log", "/var-log"], 7],
    ["db.x", ["/", "/gone"], 5],
    ["early", ["/"], 1],
  ];
  return fleet.map(([server, mounts, hours]) => {
    const rows: MetricRow[] = [];
    for (let ts = T0 + 20 * 60_000; ts < T0 + hours * HOUR; ts += 5 * 60_000) {
      const cpu = next() * 100;
      const memTotal = next() < 0.05 ? 0 : 8_000_000_000;
      const memUsed = Math.round(next() * 8_000_000_000);
      for (const mount of mounts) {
        if (mount === "/gone" && ts >= T0 + (hours - 1) * HOUR) continue;
        const empty = mount === "/data" && next() < 0.1;
        // "/var/log" and "/var-log" are equally full: the worst disk is the first in byte order.
        const used = mount.startsWith("/var") ? 500_000 : Math.round(next() * 1_000_000);
        rows.push({
          timestamp: ts,
          server,
          cpuPercent: cpu,
          cpuPeakPercent: next() < 0.3 ? null : Math.min(100, cpu + next() * 20),
          intervalSeconds: 300,
          memTotalBytes: memTotal,
          memUsedBytes: memUsed,
          memAvailableBytes: memTotal - memUsed,
          diskMount: mount,
          diskTotalBytes: 1_000_000,
          diskUsedBytes: empty ? 0 : used,
          diskFreeBytes: empty ? 0 : 1_000_000 - used,
        });
      }
    }
    return { server, rows };
  });
}

describe("dashboard reads: PostgreSQL gives SQLite's figures for the same rows", () => {
  it("hour points and fleet hours, before and after a rollup refresh", async (ctx) => {
    requirePostgres(ctx, PG);
    const lite = await sqlite();
    const onPg = await postgres().catch(async (err: unknown) => {
      await lite.cleanup();
      throw err;
    });
    const backends = [lite, onPg];
    const [liteStore, pgStore] = [lite.store, onPg.store];
    try {
      const fleet = unevenRows();
      for (const { store } of backends) {
        for (const { server, rows } of fleet) {
          // Two uploads per server, overlapping by a few rows (duplicates are not stored twice).
          const half = Math.floor(rows.length / 2);
          for (const [i, part] of [rows.slice(0, half + 5), rows.slice(half)].entries()) {
            const id = `${server}-${i}`;
            await store.ingest(
              { uploadId: id, server, receivedAt: 1, rawPath: id, sha256: id, bytes: 1 },
              part,
            );
          }
        }
      }
      const read = async (store: Storage) => ({
        points: await Promise.all(
          [
            ["app-1", T0, T0 + 24 * HOUR],
            ["Zeta", T0 + 2 * HOUR, T0 + 5 * HOUR],
            ["db.x", T0, T0 + 24 * HOUR],
            ["early", T0 + HOUR, T0 + 2 * HOUR],
          ].map(([server, from, to]) =>
            store.dashboard.hourPoints(server as string, from as number, to as number),
          ),
        ),
        fleet: [...(await store.dashboard.fleetHours(T0 + HOUR, T0 + 6 * HOUR))].sort(([a], [b]) =>
          a < b ? -1 : 1,
        ),
      });
      // Both read the rollups only: what is ingested but not yet refreshed is not there on either.
      const [sqliteStale, pgStale] = await Promise.all([read(liteStore), read(pgStore)]);
      expect(sqliteStale.fleet).toEqual([]);
      expectClose(pgStale, sqliteStale);
      for (const { store } of backends) await store.rollups.refresh();
      const [sqliteRead, pgRead] = await Promise.all([read(liteStore), read(pgStore)]);
      // The fixture reaches what the comparison is about.
      expect(sqliteRead.points[0]!.map((p) => p.disks.map((d) => d.mount))[1]).toEqual([
        "/",
        "/Data",
        "/data",
      ]);
      expect(sqliteRead.fleet.map(([server]) => server)).toEqual(["Zeta", "app-1", "db.x"]);
      const latest = new Map(sqliteRead.fleet.map(([server, f]) => [server, f.latest]));
      expect(latest.get("Zeta")!.worstDisk).toEqual({ mount: "/var-log", percent: 50 });
      expect(latest.get("db.x")!.worstDisk!.mount).toBe("/");
      expect(latest.get("app-1")!.hour).toBe(T0 + 5 * HOUR);
      expectClose(pgRead, sqliteRead);
    } finally {
      for (const b of backends) await b.cleanup();
    }
  });
});

describe("daily rollups: PostgreSQL's first fill gives SQLite's days bit for bit", () => {
  it("a first view fills the days from the hours (folded in SQL on PostgreSQL), a second reads them back", async (ctx) => {
    requirePostgres(ctx, PG);
    const lite = await sqlite();
    const onPg = await postgres().catch(async (err: unknown) => {
      await lite.cleanup();
      throw err;
    });
    const backends = [lite, onPg];
    try {
      for (const { store } of backends) {
        for (const { server, rows } of unevenRows()) {
          await store.ingest(
            { uploadId: server, server, receivedAt: 1, rawPath: server, sha256: server, bytes: 1 },
            rows,
          );
        }
        await store.rollups.refresh();
      }
      const servers = ["app-1", "Zeta", "db.x", "early", "nobody"];
      // New York's 2026-03-08 has 23 hours, and the rows cross its midnight; Berlin's fall on one day.
      for (const [tz, first] of [
        ["America/New_York", "2026-03-06"],
        ["Europe/Berlin", "2026-03-08"],
        ["UTC", "2026-03-09"],
      ] as const) {
        const span = localDays(first, 4, tz);
        const read = async (s: Storage) =>
          [...(await s.rollups.readDaily(tz, span, servers))].sort(([a], [b]) => (a < b ? -1 : 1));
        const [cold, coldPg] = [await read(lite.store), await read(onPg.store)];
        expect(coldPg, tz).toEqual(cold);
        const withSamples = cold.flatMap(([, days]) => days.filter((d) => d.day.samples > 0));
        expect(withSamples.length, tz).toBeGreaterThanOrEqual(tz === "America/New_York" ? 7 : 4);
        const [warm, warmPg] = [await read(lite.store), await read(onPg.store)];
        expect(warm, tz).toEqual(cold);
        expect(warmPg, tz).toEqual(cold);
      }
    } finally {
      for (const b of backends) await b.cleanup();
    }
  });
});
