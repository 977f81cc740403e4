/**
 * `npm run bench:dashboard`: dashboard server times and Chromium first paint
 * against the floors of issue 15, on SQLite and PostgreSQL side by side, each
 * seeded with 1,000 servers (any number works) with 13 months of hourly rollups (2 mounts each).
 *
 * 1. Seed: hour buckets written straight into the rollup tables by
 *    bench/support/synthetic-rollups.ts, ~9.5 M of them. SQLite once (cached in
 *    .tmp/bench-dashboard/, delete it to reseed); PostgreSQL every run, in a
 *    throwaway schema dropped at the end.
 * 2. The first 1-year view of up to ROUNDS servers, one each (it fills that
 *    server's daily rollups, which the serve-time refresher then keeps
 *    current), then a warm-up request per page.
 * 3. ROUNDS rounds × REPS requests per page through app.inject (server time:
 *    routing, session lookup, reads, HTML). Ranges are min–max of the round
 *    medians. Baselines in the same run: the fleet page's data read with one
 *    rollups.readHourly per server instead of the batched read, and the
 *    1-year chart from hour points instead of daily rollups.
 * 4. Chromium: first-contentful-paint of the fleet page over real HTTP.
 *
 * Env: SRVUTIL_BENCH_SERVERS (1000), SRVUTIL_BENCH_MONTHS (13), SRVUTIL_BENCH_ROUNDS (5), SRVUTIL_BENCH_REPS (5),
 * BENCH_PG_URL (postgres://postgres@127.0.0.1:5432/postgres), BENCH_PG=0 for SQLite only.
 */

import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createIngestService } from "../../src/central/central-process.js";
import { loadCentralConfig } from "../../src/central/config.js";
import { loadFleet } from "../../src/central/dashboard/fleet-data.js";
import { addUser } from "../../src/central/dashboard/users.js";
import { parseDeliveryGroups } from "../../src/central/delivery/groups.js";
import { createApiApp } from "../../src/central/http/app.js";
import { DEFAULT_THRESHOLDS } from "../../src/central/report/index.js";
import { openStorage } from "../../src/central/storage/open.js";
import { PgStore } from "../../src/central/storage/postgres/pg-store.js";
import type { Storage } from "../../src/central/storage/store.js";
import { launchTestBrowser } from "../../test/helpers/browser.js";
import { createTestSchema } from "../../test/helpers/postgres.js";
import { seedSyntheticRollups } from "../support/synthetic-rollups.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const SERVERS = Number(process.env.SRVUTIL_BENCH_SERVERS ?? 1000);
const MONTHS = Number(process.env.SRVUTIL_BENCH_MONTHS ?? 13);
const ROUNDS = Number(process.env.SRVUTIL_BENCH_ROUNDS ?? 5);
const REPS = Number(process.env.SRVUTIL_BENCH_REPS ?? 5);
const PG_URL = process.env.BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const WITH_PG = process.env.BENCH_PG !== "0";
const HOUR = 3_600_000;
const NOW = Date.UTC(2026, 10, 25, 10, 30);
const TO = Math.floor(NOW / HOUR) * HOUR + HOUR;
const FROM = TO - Math.round(MONTHS * 30.44 * 24) * HOUR;
const PASSWORD = "bench password 1";

const dir = path.join(ROOT, ".tmp", "bench-dashboard");
mkdirSync(dir, { recursive: true });
const names = Array.from({ length: SERVERS }, (_, i) => `srv-${String(i).padStart(4, "0")}`);
/** The fleet size as the case names print it ("1,000"). */
const N = SERVERS.toLocaleString("en");

async function seed(store: Storage, label: string): Promise<void> {
  const t0 = performance.now();
  const rows = await seedSyntheticRollups(store, {
    servers: names,
    from: FROM,
    to: TO,
    mounts: ["/", "/data"],
  });
  await addUser(store.users, { name: "bench", role: "admin", password: PASSWORD, now: NOW });
  console.log(
    `${label}: seeded ${rows.toLocaleString("en")} hour buckets (${SERVERS} servers × ${MONTHS} months) in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface BackendRun {
  /** Round medians per case name. */
  results: Map<string, number[]>;
  /** The first 1-year view of each of a few servers (each fills that server's daily rollups). */
  cold1y: number[];
  paints: number[];
  paintsAll: number[];
  paintKind: string;
}

/** Case names and floors, in print order (the same on every backend). */
const C = {
  fleet: `fleet page (first 100 of ${N} servers)`,
  filtered: "fleet page, filtered and sorted",
  fleetAll: `fleet page, all ${N} rows`,
  uncached: `fleet page, no cache (reads ${N} × 24 h)`,
  server24h: "server page, 24 h",
  server30d: "server page, 30-day chart",
  server1y: "server page, 1-year chart",
  perServer: `baseline: fleet data via ${N} rollups.readHourly`,
  batched: "batched: fleet data via dashboard.fleetHours",
  hourPoints1y: "baseline: 1-year chart from 8,760 hour points",
} as const;
const CASES: [string, number | null][] = [
  [C.fleet, 150],
  [C.filtered, 150],
  [C.fleetAll, 150],
  [C.uncached, 150],
  [C.server24h, null],
  [C.server30d, 150],
  [C.server1y, 300],
  [C.perServer, null],
  [C.batched, null],
  [C.hourPoints1y, null],
];

async function measure(store: Storage): Promise<BackendRun> {
  const config = loadCentralConfig({ SRVUTIL_DATA_DIR: dir, SRVUTIL_LISTEN: "127.0.0.1:0" });
  const dashboard = {
    store,
    groups: parseDeliveryGroups({}, []),
    timeZone: "UTC",
    thresholds: DEFAULT_THRESHOLDS,
    publicUrl: null,
    tls: false,
    retryForMs: HOUR,
    clock: () => NOW,
  };
  const app = await createApiApp({
    store,
    ingest: createIngestService(config, store, null),
    maxBodyBytes: config.maxBodyBytes,
    dashboard,
  });
  // The same dashboard without the fleet cache: every fleet request reads 1,000 servers × 24 h.
  const uncached = await createApiApp({
    store,
    ingest: createIngestService(config, store, null),
    maxBodyBytes: config.maxBodyBytes,
    dashboard: { ...dashboard, fleetCacheMs: 0 },
  });
  try {
    // Sign in once through the form.
    const login = await app.inject({ method: "GET", url: "/login" });
    const loginCookie = String(login.headers["set-cookie"]).split(";")[0]!;
    const csrf = /name="_csrf" value="([^"]+)"/.exec(login.body)![1]!;
    const signed = await app.inject({
      method: "POST",
      url: "/login",
      headers: { cookie: loginCookie, "content-type": "application/x-www-form-urlencoded" },
      payload: new URLSearchParams({ _csrf: csrf, username: "bench", password: PASSWORD }).toString(),
    });
    const cookie = (signed.headers["set-cookie"] as string[])
      .find((c) => c.startsWith("srvutil_session="))!
      .split(";")[0]!;

    const page = async (url: string, on = app): Promise<number> => {
      const t0 = performance.now();
      const res = await on.inject({ method: "GET", url, headers: { cookie } });
      const ms = performance.now() - t0;
      if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${res.body.slice(0, 200)}`);
      return ms;
    };

    // Cold 1-year reads (each fills that server's daily rollups), then warm-up of every page.
    // Servers this database has most likely not shown a year of yet (daily rollups are kept once
    // filled; the SQLite database is reused across runs): a different stride of the fleet each run.
    // The probe of the warm cases is another server when there is one.
    const start = Date.now() % SERVERS;
    const coldServers = Array.from(
      { length: Math.min(ROUNDS, Math.max(1, SERVERS - 1)) },
      (_, k) => names[(start + 1 + k * 37) % SERVERS]!,
    ).filter((s, i, all) => all.indexOf(s) === i);
    const probe = names.find((n) => !coldServers.includes(n)) ?? names[0]!;
    const cold1y: number[] = [];
    for (const s of coldServers) cold1y.push(await page(`/servers/${s}?range=1y`));
    const runs: Record<string, () => Promise<number>> = {
      [C.fleet]: () => page("/"),
      [C.filtered]: () => page("/?q=srv-0&sort=cpu&dir=desc"),
      [C.fleetAll]: () => page("/?per=all"),
      [C.uncached]: () => page("/", uncached),
      [C.server24h]: () => page(`/servers/${probe}?range=24h`),
      [C.server30d]: () => page(`/servers/${probe}?range=30d`),
      [C.server1y]: () => page(`/servers/${probe}?range=1y`),
      [C.perServer]: async () => {
        const t0 = performance.now();
        for (const n of names) await store.rollups.readHourly(n, TO - 24 * HOUR, TO);
        return performance.now() - t0;
      },
      [C.batched]: async () => {
        const t0 = performance.now();
        await loadFleet({
          ...dashboard,
          assetsDir: "",
          autoUpdateDefault: false,
          tagsOf: () => ({}),
          sessions: null as never,
          oidc: null,
          localLogin: true,
          fleetCache: null as never,
          freshRollups: async () => 0,
          log: null,
          alerting: null,
          missingAgents: null,
        });
        return performance.now() - t0;
      },
      [C.hourPoints1y]: async () => {
        const t0 = performance.now();
        await store.dashboard.hourPoints(probe, TO - 365 * 24 * HOUR, TO);
        return performance.now() - t0;
      },
    };
    for (const [name] of CASES) await runs[name]!();

    const results = new Map<string, number[]>();
    for (let r = 0; r < ROUNDS; r++) {
      for (const [name] of CASES) {
        const times: number[] = [];
        for (let i = 0; i < REPS; i++) times.push(await runs[name]!());
        results.set(name, [...(results.get(name) ?? []), median(times)]);
      }
    }

    // Chromium: first contentful paint of the fleet page over loopback HTTP.
    await app.listen({ host: "127.0.0.1", port: 0 });
    const port = (app.server.address() as { port: number }).port;
    const browser = await launchTestBrowser();
    let paintKind = "";
    try {
      const context = await browser.newContext({ locale: "en-US", viewport: { width: 1280, height: 900 } });
      await context.addCookies([
        { name: "srvutil_session", value: cookie.split("=")[1]!, url: `http://127.0.0.1:${port}` },
      ]);
      const paintsOf = async (url: string): Promise<number[]> => {
        const out: number[] = [];
        for (let r = 0; r < ROUNDS + 1; r++) {
          const p = await context.newPage();
          await p.goto(`http://127.0.0.1:${port}${url}`, { waitUntil: "load" });
          // first-contentful-paint when the browser reports it; the headless shell may not,
          // then the first frame after load (two animation frames) stands in for it.
          const fcp = (await p.evaluate(`new Promise((done) => {
            const e = performance.getEntriesByName("first-contentful-paint")[0];
            if (e) return done(["fcp", e.startTime]);
            requestAnimationFrame(() => requestAnimationFrame(() => done(["frame", performance.now()])));
          })`)) as [string, number];
          paintKind = fcp[0];
          if (r > 0) out.push(fcp[1]); // the first load also warms the stylesheet cache
          await p.close();
        }
        return out;
      };
      const paints = await paintsOf("/");
      const paintsAll = await paintsOf("/?per=all");
      return { results, cold1y, paints, paintsAll, paintKind };
    } finally {
      await browser.close();
    }
  } finally {
    await app.close();
    await uncached.close();
  }
}

execFileSync(process.execPath, [path.join(ROOT, "scripts/build-dashboard.mjs")]);
const runs: [string, BackendRun][] = [];

const file = path.join(dir, `fleet-${SERVERS}-${MONTHS}m.db`);
const fresh = !existsSync(file);
const lite = await openStorage(`sqlite:${file}`);
try {
  if (fresh) await seed(lite, "SQLite");
  else console.log(`SQLite: using the seeded database ${file}`);
  runs.push(["SQLite", await measure(lite)]);
} finally {
  await lite.close();
}

if (WITH_PG) {
  const { schema, drop } = await createTestSchema(PG_URL, "srvutil_bench_dashboard");
  try {
    const store = new PgStore(PG_URL, { schema });
    try {
      await store.init();
      await seed(store, "PostgreSQL");
      runs.push(["PostgreSQL", await measure(store)]);
    } finally {
      await store.close();
    }
  } finally {
    await drop();
  }
}

const fmt = (v: number) => `${v.toFixed(1)} ms`;
const range = (xs: number[]) => `${fmt(Math.min(...xs))} – ${fmt(Math.max(...xs))}`;
const rows: string[][] = [["what", "floor", ...runs.flatMap(([b]) => [`${b} median`, `${b} range`])]];
for (const [name, floor] of CASES) {
  rows.push([
    name,
    floor === null ? "–" : `< ${floor} ms`,
    ...runs.flatMap(([, r]) => [fmt(median(r.results.get(name)!)), range(r.results.get(name)!)]),
  ]);
}
rows.push([
  "server page, 1-year chart, first view of a server (fills its daily rollups)",
  "< 300 ms",
  ...runs.flatMap(([, r]) => [`${fmt(median(r.cold1y))} (${r.cold1y.length} servers)`, range(r.cold1y)]),
]);
for (const [label, pick] of [
  ["fleet page", (r: BackendRun) => r.paints],
  [`fleet page, all ${N} rows`, (r: BackendRun) => r.paintsAll],
] as const) {
  const kind = runs.every(([, r]) => r.paintKind === "fcp") ? "FCP" : "first frame after load";
  rows.push([
    `${label}, first paint in Chromium (${kind})`,
    "< 300 ms",
    ...runs.flatMap(([, r]) => [fmt(median(pick(r))), range(pick(r))]),
  ]);
}
const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
console.log(
  `\n${SERVERS} servers, ${MONTHS} months of hourly rollups, ${ROUNDS} rounds × ${REPS} requests (${runs.map(([b]) => b).join(", ")})\n`,
);
for (const r of rows) console.log(`| ${r.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`);
for (const [backend, r] of runs) {
  const m = (name: string) => median(r.results.get(name)!);
  console.log(
    `\n${backend}: batched fleet read is ${(m(C.perServer) / m(C.batched)).toFixed(1)}× faster than one read per server; ` +
      `the whole 1-year page costs ${(m(C.server1y) / m(C.hourPoints1y)).toFixed(2)}× the hour-point read alone`,
  );
}
