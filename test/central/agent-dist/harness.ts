import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { FastifyInstance } from "fastify";
import { AgentCatalog } from "../../../src/central/agent-dist/catalog.js";
import { createIngestService } from "../../../src/central/central-process.js";
import { loadCentralConfig } from "../../../src/central/config.js";
import { createApiApp } from "../../../src/central/http/app.js";
import { SqliteStore } from "../../../src/central/storage/sqlite/sqlite-store.js";

/**
 * A real central API (SQLite store, every route) listening on a real socket,
 * serving the agent files of a temp dist/ tree the test fills.
 */
export interface DistCentral {
  dir: string;
  binDir: string;
  bundleDir: string;
  store: SqliteStore;
  catalog: AgentCatalog;
  app: FastifyInstance;
  /** http://host:port of the listening central. */
  url: string;
  close(): Promise<void>;
}

export async function startDistCentral(
  o: { publicUrl?: string; host?: string; trustedProxies?: string[] } = {},
): Promise<DistCentral> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-dist-"));
  const bundleDir = path.join(dir, "dist");
  const binDir = path.join(bundleDir, "bin");
  mkdirSync(binDir, { recursive: true });
  const config = loadCentralConfig({
    SRVUTIL_DATA_DIR: path.join(dir, "data"),
    SRVUTIL_LISTEN: "127.0.0.1:0",
  });
  mkdirSync(config.dataDir, { recursive: true });
  const store = new SqliteStore(path.join(config.dataDir, "srvutil.db"));
  await store.init();
  const catalog = new AgentCatalog({ binDir, bundleDir });
  const app = await createApiApp({
    store,
    ingest: createIngestService(config, store, null),
    maxBodyBytes: config.maxBodyBytes,
    agentCatalog: catalog,
    publicUrl: o.publicUrl ?? null,
    ...(o.trustedProxies ? { trustedProxies: o.trustedProxies } : {}),
  });
  const host = o.host ?? "127.0.0.1";
  await app.listen({ host, port: 0 });
  const address = app.server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  return {
    dir,
    binDir,
    bundleDir,
    store,
    catalog,
    app,
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    close: async () => {
      await app.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function sha256(bytes: Buffer | string): string {
  return createHash("sha256").update(bytes).digest("hex");
}
