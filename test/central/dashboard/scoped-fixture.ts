import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { FastifyInstance } from "fastify";
import { expect } from "vitest";
import { createIngestService } from "../../../src/central/central-process.js";
import { loadCentralConfig } from "../../../src/central/config.js";
import { addUser } from "../../../src/central/dashboard/users.js";
import { archiveEntry } from "../../../src/central/delivery/archive.js";
import { composeReportMail } from "../../../src/central/delivery/composer.js";
import { type DeliveryGroup, NO_TAGS, parseDeliveryGroups } from "../../../src/central/delivery/groups.js";
import { createApiApp } from "../../../src/central/http/app.js";
import { buildWeeklyReport, DEFAULT_THRESHOLDS } from "../../../src/central/report/index.js";
import { PgStore } from "../../../src/central/storage/postgres/pg-store.js";
import { SqliteStore } from "../../../src/central/storage/sqlite/sqlite-store.js";
import type { Storage } from "../../../src/central/storage/store.js";
import type { MetricRow } from "../../../src/protocol/index.js";
import { alertCommit, alertEpisode } from "../../helpers/alerts.js";
import { createTestSchema, findTestPostgres } from "../../helpers/postgres.js";

/*
 * The world of the scoped-viewers attacker test (./scoped-viewers.test.ts),
 * relative to the real clock: groups alpha (alpha-*) and bravo (bravo-*),
 * two servers each with 15 days of samples, last week's report archived for
 * the whole fleet and each group, bravo's delivery failed naming its
 * recipients, an open alert and a failing scrape on each side, silences
 * naming bravo, and an admin.
 */

export const PG = await findTestPostgres();
const HOUR = 3_600_000;
export const ADMIN = { name: "root", password: "admin password 1" };
export const SCOPED = { name: "ann", password: "viewer password 1" };
export const MARK = "bravo";
/** What of bravo a refusal may not carry; the one the URL itself names is echoed ("No server named 'bravo-01'"). */
export const SECRETS = [
  "bravo-01",
  "bravo-db",
  "bravo-ops@example.com",
  "bravo-cc@example.com",
  "bravo maintenance",
  "mailbox unavailable",
];
export const leaked = (body: string, url: string) =>
  SECRETS.filter((s) => !url.includes(s) && body.includes(s));

export interface World {
  store: Storage;
  app: FastifyInstance;
  week: string;
  groups: DeliveryGroup[];
  close(): Promise<void>;
}

export async function world(backend: "sqlite" | "postgres"): Promise<World> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-scoped-"));
  let store: Storage;
  let drop = async () => {};
  if (backend === "sqlite") {
    store = new SqliteStore(path.join(dir, "srvutil.db"));
  } else {
    const schema = await createTestSchema(PG.url!);
    drop = schema.drop;
    store = new PgStore(PG.url!, { schema: schema.schema, max: 4 });
  }
  await store.init();
  const now = Date.now();
  const groups = parseDeliveryGroups(
    {
      groups: [
        { name: "alpha", servers: ["alpha-*"], to: ["alpha-ops@example.com"] },
        { name: "bravo", servers: ["bravo-*"], to: ["bravo-ops@example.com"], cc: ["bravo-cc@example.com"] },
      ],
    },
    ["fleet-ops@example.com"],
  );
  // 15 days of hourly samples up to now: last week's report has every server.
  const servers: [string, number][] = [
    ["alpha-01", 20],
    ["alpha-02", 35],
    ["bravo-01", 40],
    ["bravo-db", 97],
  ];
  let n = 0;
  for (const [server, cpu] of servers) {
    const rows: MetricRow[] = [];
    for (let ts = Math.floor(now / HOUR) * HOUR - 15 * 24 * HOUR; ts < now; ts += HOUR) {
      rows.push({
        timestamp: ts,
        server,
        cpuPercent: cpu,
        cpuPeakPercent: Math.min(100, cpu + 3),
        intervalSeconds: 3600,
        memTotalBytes: 8e9,
        memUsedBytes: 3e9,
        memAvailableBytes: 5e9,
        diskMount: "/",
        diskTotalBytes: 1e11,
        diskUsedBytes: 4e10,
        diskFreeBytes: 6e10,
      });
    }
    await store.ingest(
      {
        uploadId: `u-${n++}`,
        server,
        receivedAt: now,
        rawPath: `x/${server}`,
        sha256: `s${n}`,
        bytes: 1,
      },
      rows,
    );
  }
  await store.rollups.refresh();
  // Last week's report for the whole fleet and each group, archived and queued as delivery does.
  let week = "";
  for (const g of groups) {
    const report = await buildWeeklyReport(store, {
      week: "last",
      timeZone: "UTC",
      now,
      includeServer: (s) => g.includes(s, NO_TAGS),
    });
    week = report.week;
    const mail = await composeReportMail(report, { group: g.name, timeZone: "UTC" });
    await store.reports.save(await archiveEntry(report, mail, g.name, now));
    await store.deliveries.enqueue(
      { week, group: g.name },
      { now, trigger: "schedule", retryUntil: now + HOUR },
    );
  }
  // Bravo's delivery failed, naming its recipients: what a limited user must never see.
  const claimed = await store.deliveries.claimNext({
    owner: "t",
    now,
    leaseMs: 60_000,
    only: [{ week, group: "bravo" }],
  });
  expect(claimed).not.toBeNull();
  await store.deliveries.markFailed(
    { week, group: "bravo" },
    {
      owner: "t",
      now,
      error: "550 5.1.1 <bravo-ops@example.com>: mailbox unavailable",
      recipients: JSON.stringify(["bravo-ops@example.com", "bravo-cc@example.com"]),
    },
  );
  // An alert and a scrape state on each side, and silences naming bravo.
  const { version } = await store.alerts.readOpen();
  await store.alerts.commitEvaluation(
    alertCommit(now, {
      expectedVersion: version,
      inserts: [
        alertEpisode(now, { server: "alpha-01", summary: "alpha-01 CPU high" }),
        alertEpisode(now, { server: "bravo-db", summary: "bravo-db CPU high" }),
      ],
    }),
  );
  for (const [server, group] of [
    ["bravo-db", null],
    [null, "bravo"],
  ] as const) {
    await store.alerts.addSilence({
      server,
      rule: null,
      group,
      startsAt: now - HOUR,
      endsAt: now + HOUR,
      reason: "bravo maintenance",
      createdBy: ADMIN.name,
      createdAt: now - HOUR,
    });
  }
  for (const server of ["alpha-02", "bravo-01"]) {
    await store.scrapeStatus.record({
      server,
      url: `http://${server}.example:9100/metrics`,
      instance: "i1",
      state: "down",
      lastSuccessAt: now - HOUR,
      downSince: now - HOUR,
      lastError: `connect ECONNREFUSED ${server}`,
      updatedAt: now,
    });
  }
  await addUser(store.users, { ...ADMIN, role: "admin", now });

  // OpenID Connect on, so its routes are in the app and classified too (no provider answers:
  // discovery happens at the first sign-in, which these tests do not start).
  const config = loadCentralConfig({
    SRVUTIL_DATA_DIR: dir,
    SRVUTIL_LISTEN: "127.0.0.1:0",
    SRVUTIL_PUBLIC_URL: "http://127.0.0.1:1",
    SRVUTIL_OIDC_ISSUER: "http://127.0.0.1:1",
    SRVUTIL_OIDC_CLIENT_ID: "srvutil",
    SRVUTIL_OIDC_ADMIN_VALUES: "admins",
  });
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
      publicUrl: config.digest.publicUrl,
      tls: false,
      retryForMs: HOUR,
      fleetCacheMs: 0,
      signIn: config.signIn,
    },
  });
  return {
    store,
    app,
    week,
    groups,
    close: async () => {
      await app.close();
      await store.close();
      await drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
