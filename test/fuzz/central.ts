/**
 * The fuzz suite's central: `startCentral` as `central serve` runs it (seed
 * bridge on, dashboard on, background jobs running), on a real SQLite file in
 * a temp dir or a throwaway PostgreSQL schema, listening on loopback, with
 * tokens of web-01, web-02 and a viewer; and what it has stored, counted.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { FastifyInstance } from "fastify";
import { type RunningCentral, startCentral } from "../../src/central/central-process.js";
import { type CentralConfig, loadCentralConfig } from "../../src/central/config.js";
import { createAgentToken, createViewerToken } from "../../src/central/http/app.js";
import { PgStore } from "../../src/central/storage/postgres/pg-store.js";
import { SqliteStore } from "../../src/central/storage/sqlite/sqlite-store.js";
import type { Storage } from "../../src/central/storage/store.js";
import { createTestSchema } from "../helpers/postgres.js";

/** Everything a request could store: row counts of the tables requests write, and raw files. */
export type StoredState = Record<string, number>;

/**
 * Tables a request can write. Left out on purpose: login_failures (a refused
 * sign-in is recorded there by design, it is the throttle), the rollups
 * (derived, refreshed in the background), central_instances/job_leases and
 * delivery_schedule (heartbeats and the scheduler's own bookkeeping).
 */
const COUNTED_TABLES = [
  "samples",
  "uploads",
  "raw_uploads",
  "server_stats",
  "agent_tokens",
  "viewer_tokens",
  "dashboard_users",
  "dashboard_sessions",
  "deliveries",
  "report_archive",
  "enrolment_tokens",
  "agent_update_policy",
] as const;

export interface FuzzCentral {
  kind: "sqlite" | "postgres";
  dir: string;
  config: CentralConfig;
  running: RunningCentral;
  app: FastifyInstance;
  store: Storage;
  /** http://127.0.0.1:PORT */
  url: string;
  port: number;
  /** An active agent token of web-01 (the server every generated file names). */
  agentToken: string;
  /** An active agent token of web-02 (a file of web-01 sent with it is someone else's). */
  otherAgentToken: string;
  viewerToken: string;
  stored(): Promise<StoredState>;
  close(): Promise<void>;
}

export async function startFuzzCentral(
  backend: { kind: "sqlite" } | { kind: "postgres"; url: string },
  env: Record<string, string> = {},
): Promise<FuzzCentral> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "srvutil-fuzz-"));
  let store: Storage;
  let dropSchema = async () => {};
  if (backend.kind === "sqlite") {
    store = new SqliteStore(path.join(dir, "srvutil.db"));
  } else {
    const schema = await createTestSchema(backend.url, "srvutil_fuzz");
    dropSchema = schema.drop;
    store = new PgStore(backend.url, { schema: schema.schema, max: 4 });
  }
  const config = loadCentralConfig({
    SRVUTIL_DATA_DIR: dir,
    SRVUTIL_LISTEN: "127.0.0.1:0",
    SRVUTIL_SEED_COMPAT: "on",
    SRVUTIL_REPORT_TZ: "Europe/Berlin",
    // Thousands of uploads from one token: with the default 5/s most would be
    // 429 before their body was read, and the fuzz would test the rate limiter only.
    SRVUTIL_RATE_LIMIT_PER_SECOND: "0",
    // Parse workers take files of 256 KiB and more; starting them costs more than a second of CPU.
    // Only the files that send such files (upload.test.ts, postgres.test.ts) turn them on.
    SRVUTIL_PARSE_WORKERS: "0",
    ...env,
  });
  // The retention job runs at start as in production; the next check is
  // after the run, so no job changes the counted tables while requests are checked.
  const running = await startCentral(config, { store, jobCheckMs: 30 * 60_000 });
  await waitForLog(config.paths.automationLog, '"job.done"', 20_000);
  const address = running.app.server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  const agentToken = await createAgentToken(store, "web-01");
  const otherAgentToken = await createAgentToken(store, "web-02");
  const viewerToken = await createViewerToken(store, "fuzz-viewer");

  const stored = async (): Promise<StoredState> => {
    const select = `SELECT ${COUNTED_TABLES.map((t) => `(SELECT COUNT(*) FROM ${t}) AS ${t}`).join(", ")}`;
    let counts: Record<string, unknown>;
    if (store instanceof SqliteStore) counts = store.db.prepare(select).get() as Record<string, unknown>;
    else counts = (await (store as PgStore).pool.query(select)).rows[0] as Record<string, unknown>;
    const out: StoredState = {};
    for (const t of COUNTED_TABLES) out[t] = Number(counts[t]);
    out.received_metrics_files = filesUnder(config.paths.receivedMetrics);
    return out;
  };

  return {
    kind: backend.kind,
    dir,
    config,
    running,
    app: running.app,
    store,
    url: `http://127.0.0.1:${port}`,
    port,
    agentToken,
    otherAgentToken,
    viewerToken,
    stored,
    close: async () => {
      await running.close();
      await store.close();
      await dropSchema();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function filesUnder(dir: string): number {
  try {
    return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).length;
  } catch {
    return 0; // received_metrics/ does not exist before the first raw file
  }
}

async function waitForLog(file: string, needle: string, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    let text = "";
    try {
      text = readFileSync(file, "utf8");
    } catch {}
    if (text.includes(needle)) return;
    if (Date.now() > until) throw new Error(`${needle} did not appear in ${file} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Size of a file, 0 when it does not exist. */
export function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}
