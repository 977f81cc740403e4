import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { FastifyInstance } from "fastify";
import type { RateLimitOptions } from "../../../src/central/auth/rate-limit.js";
import { createIngestService } from "../../../src/central/central-process.js";
import { type CentralConfig, loadCentralConfig } from "../../../src/central/config.js";
import { createApiApp } from "../../../src/central/http/app.js";
import { SqliteStore } from "../../../src/central/storage/sqlite/sqlite-store.js";
import { type MetricRow, serializeMetricsCsv } from "../../../src/protocol/index.js";

/** A temp data dir with a real SQLite store, ingest service and (not listening) API app. */
export interface TestCentral {
  dir: string;
  config: CentralConfig;
  store: SqliteStore;
  app: FastifyInstance;
  cleanup(): Promise<void>;
}

export async function makeTestCentral(
  opts: { maxBodyBytes?: number; rateLimit?: RateLimitOptions; env?: Record<string, string> } = {},
): Promise<TestCentral> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-ingest-"));
  const config = loadCentralConfig({
    SRVUTIL_DATA_DIR: dir,
    SRVUTIL_LISTEN: "127.0.0.1:0",
    ...(opts.maxBodyBytes !== undefined ? { SRVUTIL_MAX_BODY_BYTES: String(opts.maxBodyBytes) } : {}),
    ...opts.env,
  });
  const store = new SqliteStore(path.join(dir, "srvutil.db"));
  await store.init();
  const app = await createApiApp({
    store,
    ingest: createIngestService(config, store, null),
    maxBodyBytes: config.maxBodyBytes,
    rateLimit: opts.rateLimit ?? { perSecond: 0, burst: 1 },
  });
  return {
    dir,
    config,
    store,
    app,
    cleanup: async () => {
      await app.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function row(
  server: string,
  timestamp: string,
  mount = "/",
  over: Partial<MetricRow> = {},
): MetricRow {
  return {
    timestamp: Date.parse(timestamp),
    server,
    cpuPercent: 12.5,
    cpuPeakPercent: 40,
    intervalSeconds: 300,
    memTotalBytes: 8_000_000_000,
    memUsedBytes: 3_000_000_000,
    memAvailableBytes: 5_000_000_000,
    diskMount: mount,
    diskTotalBytes: 100_000_000_000,
    diskUsedBytes: 40_000_000_000,
    diskFreeBytes: 55_000_000_000,
    ...over,
  };
}

/** `count` timestamps 5 minutes apart from `start`, each with mounts / and /data. */
export function csvFor(server: string, start: string, count: number, mounts = ["/", "/data"]): string {
  const rows: MetricRow[] = [];
  const t0 = Date.parse(start);
  for (let i = 0; i < count; i++) {
    for (const m of mounts) rows.push(row(server, new Date(t0 + i * 300_000).toISOString(), m));
  }
  return serializeMetricsCsv(rows);
}

export function countRows(store: SqliteStore, table: string): number {
  return store.db.prepare(`SELECT COUNT(*) FROM ${table}`).pluck().get() as number;
}
