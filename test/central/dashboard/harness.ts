import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { FastifyInstance } from "fastify";
import { AutomationLog } from "../../../src/central/automation-log.js";
import { createIngestService } from "../../../src/central/central-process.js";
import { loadCentralConfig } from "../../../src/central/config.js";
import type { DashboardAlerting, DashboardOptions } from "../../../src/central/dashboard/context.js";
import { addUser } from "../../../src/central/dashboard/users.js";
import { archiveEntry } from "../../../src/central/delivery/archive.js";
import { composeReportMail } from "../../../src/central/delivery/composer.js";
import { parseDeliveryGroups } from "../../../src/central/delivery/groups.js";
import { createApiApp } from "../../../src/central/http/app.js";
import { buildWeeklyReport, DEFAULT_THRESHOLDS } from "../../../src/central/report/index.js";
import { PgStore } from "../../../src/central/storage/postgres/pg-store.js";
import { SqliteStore } from "../../../src/central/storage/sqlite/sqlite-store.js";
import type { Storage } from "../../../src/central/storage/store.js";
import type { MetricRow } from "../../../src/protocol/index.js";
import { createTestSchema } from "../../helpers/postgres.js";

export const ADMIN = { name: "alice", password: "correct horse battery" };
export const VIEWER = { name: "victor", password: "viewer password 1" };
/** "Now" of every dashboard test: Wednesday 2026-03-11 12:30 UTC. */
export const NOW = Date.parse("2026-03-11T12:30:00Z");
export const REPORT_WEEK = "2026-W10";
const HOUR = 3_600_000;

export interface DashboardHarness {
  store: Storage;
  app: FastifyInstance;
  /** automation.log of this dashboard. */
  logFile: string;
  /** Base URL once `listen()` ran; on `port` when given (0: any free one). */
  listen(port?: number): Promise<string>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  publicUrl?: string;
  /** The dashboard's clock (default: NOW, the seeded data's "now"); the alerts tests use the real one. */
  clock?: () => number;
  /** The central's alerting (channels page, send test); default none. */
  alerting?: DashboardAlerting | null;
  /** Sign-in settings (OpenID Connect, SRVUTIL_LOCAL_LOGIN); default: local passwords only. */
  signIn?: DashboardOptions["signIn"];
}

/** A store of either backend, seeded, with the API app and the dashboard on. */
export async function dashboardHarness(
  backend: { kind: "sqlite" } | { kind: "postgres"; url: string },
  options: HarnessOptions = {},
): Promise<DashboardHarness> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-dash-"));
  let store: Storage;
  let drop = async () => {};
  if (backend.kind === "sqlite") {
    store = new SqliteStore(path.join(dir, "srvutil.db"));
  } else {
    const schema = await createTestSchema(backend.url);
    drop = schema.drop;
    store = new PgStore(backend.url, { schema: schema.schema, max: 4 });
  }
  await store.init();
  await seed(store);
  const config = loadCentralConfig({ SRVUTIL_DATA_DIR: dir, SRVUTIL_LISTEN: "127.0.0.1:0" });
  const groups = parseDeliveryGroups(
    { groups: [{ name: "web", servers: ["web-*"], to: ["web@example.com"] }] },
    ["ops@example.com"],
  );
  const app = await createApiApp({
    store,
    ingest: createIngestService(config, store, null),
    maxBodyBytes: config.maxBodyBytes,
    rateLimit: { perSecond: 0, burst: 1 },
    dashboard: {
      store,
      groups,
      timeZone: "UTC",
      thresholds: DEFAULT_THRESHOLDS,
      publicUrl: options.publicUrl ?? null,
      tls: false,
      retryForMs: 3_600_000,
      clock: options.clock ?? (() => NOW),
      alerting: options.alerting ?? null,
      ...(options.signIn === undefined ? {} : { signIn: options.signIn }),
      log: new AutomationLog(path.join(dir, "automation.log")),
    },
  });
  return {
    store,
    app,
    logFile: path.join(dir, "automation.log"),
    listen: async (port = 0) => {
      await app.listen({ host: "127.0.0.1", port });
      const a = app.server.address();
      return `http://127.0.0.1:${typeof a === "object" && a !== null ? a.port : 0}`;
    },
    close: async () => {
      await app.close();
      await store.close();
      await drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function rowAt(
  server: string,
  ts: number,
  mount: string,
  cpu: number,
  memUsed: number,
  diskUsed: number,
): MetricRow {
  return {
    timestamp: ts,
    server,
    cpuPercent: cpu,
    cpuPeakPercent: Math.min(100, cpu + 15),
    intervalSeconds: 900,
    memTotalBytes: 8_000_000_000,
    memUsedBytes: memUsed,
    memAvailableBytes: 8_000_000_000 - memUsed,
    diskMount: mount,
    diskTotalBytes: 100_000_000_000,
    diskUsedBytes: diskUsed,
    diskFreeBytes: 100_000_000_000 - diskUsed,
  };
}

/**
 * Three servers with 20 days of 15-minute samples up to NOW: web-01 calm,
 * web-02 with a full disk, db-<script> (a hostile name) busy; the report of
 * REPORT_WEEK archived for the default and the web group, deliveries queued.
 */
export async function seed(store: Storage): Promise<void> {
  const servers: [string, number, number, number][] = [
    ["web-01", 15, 3_000_000_000, 40_000_000_000],
    ["web-02", 30, 4_000_000_000, 96_000_000_000],
    ['db-<b>"x"', 92, 7_400_000_000, 50_000_000_000],
  ];
  const start = NOW - 20 * 24 * HOUR;
  let n = 0;
  for (const [server, cpu, mem, disk] of servers) {
    const rows: MetricRow[] = [];
    for (let ts = start; ts <= NOW - 15 * 60_000; ts += 15 * 60_000) {
      const wave = Math.sin(ts / (6 * HOUR)) * 5;
      rows.push(rowAt(server, ts, "/", Math.max(0, cpu + wave), mem, disk + (ts - start) / 1000));
      rows.push(rowAt(server, ts, "/data", Math.max(0, cpu + wave), mem, 20_000_000_000));
    }
    await store.ingest(
      {
        uploadId: `seed-${n++}`,
        server,
        receivedAt: NOW,
        rawPath: `seed/${server}.csv`,
        sha256: `sha-${n}`,
        bytes: 1,
      },
      rows,
    );
  }
  await store.rollups.refresh();
  await addUser(store.users, { ...ADMIN, role: "admin", now: NOW });
  await addUser(store.users, { ...VIEWER, role: "viewer", now: NOW });
  const report = await buildWeeklyReport(store, { week: REPORT_WEEK, timeZone: "UTC", now: NOW });
  for (const group of ["default", "web"]) {
    const part =
      group === "default"
        ? report
        : { ...report, servers: report.servers.filter((s) => s.server.startsWith("web-")) };
    const mail = await composeReportMail(part, { group, timeZone: "UTC" });
    await store.reports.save(await archiveEntry(part, mail, group, NOW));
    await store.deliveries.enqueue(
      { week: REPORT_WEEK, group },
      { now: NOW, trigger: "schedule", retryUntil: NOW + HOUR },
    );
  }
}

/** The backends every dashboard test runs on: SQLite, and PostgreSQL when test/helpers/postgres.ts finds one. */
export async function dashboardBackends(): Promise<
  [string, string | undefined, (options?: HarnessOptions) => Promise<DashboardHarness>][]
> {
  const { findTestPostgres } = await import("../../helpers/postgres.js");
  const pg = await findTestPostgres();
  return [
    ["sqlite", undefined, (options) => dashboardHarness({ kind: "sqlite" }, options)],
    ["postgres", pg.skipReason, (options) => dashboardHarness({ kind: "postgres", url: pg.url! }, options)],
  ];
}

/** A signed-in client over app.inject: keeps the session cookie, fills CSRF tokens. */
export class InjectClient {
  cookies = new Map<string, string>();
  csrf = "";
  /** `remoteAddress`: the TCP peer the app sees (default 127.0.0.1). */
  constructor(
    readonly app: FastifyInstance,
    readonly remoteAddress = "127.0.0.1",
  ) {}

  private cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  }

  private keep(res: { headers: Record<string, unknown> }): void {
    const set = res.headers["set-cookie"];
    for (const c of set === undefined ? [] : Array.isArray(set) ? set : [set]) {
      const [pair] = String(c).split(";");
      const i = pair!.indexOf("=");
      const name = pair!.slice(0, i);
      const value = pair!.slice(i + 1);
      if (value === "") this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  async get(url: string, headers: Record<string, string> = {}) {
    const res = await this.app.inject({
      method: "GET",
      url,
      remoteAddress: this.remoteAddress,
      headers: { cookie: this.cookieHeader(), ...headers },
    });
    this.keep(res);
    const m = /name="_csrf" value="([^"]+)"/.exec(res.body);
    if (m !== null) this.csrf = m[1]!;
    return res;
  }

  async post(
    url: string,
    form: Record<string, string>,
    headers: Record<string, string> = {},
    withCsrf = true,
  ) {
    const res = await this.app.inject({
      method: "POST",
      url,
      remoteAddress: this.remoteAddress,
      headers: {
        cookie: this.cookieHeader(),
        "content-type": "application/x-www-form-urlencoded",
        ...headers,
      },
      payload: new URLSearchParams({ ...(withCsrf ? { _csrf: this.csrf } : {}), ...form }).toString(),
    });
    this.keep(res);
    return res;
  }

  async signIn(user: { name: string; password: string }) {
    await this.get("/login");
    const res = await this.post("/login", { username: user.name, password: user.password, next: "/" });
    if (res.statusCode !== 303)
      throw new Error(`sign-in failed: ${res.statusCode} ${res.body.slice(0, 300)}`);
    await this.get("/");
    return res;
  }
}
