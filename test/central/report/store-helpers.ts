import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { openStorage } from "../../../src/central/storage/open.js";
import type { Storage } from "../../../src/central/storage/store.js";
import type { MetricRow } from "../../../src/protocol/index.js";

export interface TempStore {
  store: Storage;
  dir: string;
  cleanup(): Promise<void>;
}

/** A real SQLite store in a fresh temp directory. */
export async function tempStore(): Promise<TempStore> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-report-"));
  const store = await openStorage(`sqlite:${path.join(dir, "srvutil.db")}`);
  return {
    store,
    dir,
    async cleanup() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

let uploadCounter = 0;

/** Stores rows as one upload of one server (as the API would after validation). */
export async function upload(store: Storage, rows: readonly MetricRow[]): Promise<void> {
  if (rows.length === 0) return;
  const server = rows[0]!.server;
  uploadCounter++;
  await store.ingest(
    {
      uploadId: `test-${process.pid}-${uploadCounter}`,
      server,
      receivedAt: Date.now(),
      rawPath: `received_metrics/${server}/test/${uploadCounter}.csv`,
      sha256: `sha-${process.pid}-${uploadCounter}`,
      bytes: rows.length * 100,
    },
    rows,
  );
}
