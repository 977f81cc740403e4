import type Database from "better-sqlite3";
import type { RetentionStore, SamplePruneOptions, SamplePruneResult } from "../retention-store.js";
import { foldPendingUploads } from "../rollups/sqlite/rollups.js";

/** Rows per DELETE: a few milliseconds of write lock each. */
const DEFAULT_ROW_BATCH = 5000;

/**
 * Raw retention on SQLite: per server, DELETE the oldest rows before the
 * cutoff BATCH rows at a time, each batch its own IMMEDIATE transaction, and
 * yield to the event loop between batches so the group-committed uploads of
 * `central serve` (same process, same connection) get the write lock in
 * between. A batch ends at a timestamp boundary found on the primary key
 * (server, ts, mount), so no batch ever scans more than it deletes. Each
 * batch first folds what was uploaded since (rows never leave before the
 * rollups have them).
 */
export class SqliteRetentionStore implements RetentionStore {
  constructor(private readonly db: Database.Database) {}

  async pruneSamples(cutoff: number, options: SamplePruneOptions = {}): Promise<SamplePruneResult> {
    const batch = Math.max(1, options.batchSize ?? DEFAULT_ROW_BATCH);
    const servers = this.db
      .prepare("SELECT server FROM server_stats ORDER BY server")
      .pluck()
      .all() as string[];
    // The timestamp of the row `batch` places into the server's pruned range, if there is one.
    const batchEnd = this.db
      .prepare("SELECT ts FROM samples WHERE server = ? AND ts < ? ORDER BY ts LIMIT 1 OFFSET ?")
      .pluck();
    const del = this.db.prepare("DELETE FROM samples WHERE server = ? AND ts < ?");
    let rowsDeleted = 0;
    const delThrough = this.db.prepare("DELETE FROM samples WHERE server = ? AND ts <= ?");
    for (const server of servers) {
      let last = false;
      while (!last) {
        rowsDeleted += this.db
          .transaction(() => {
            // Uploads committed since the last batch may hold late rows of sealed hours: they are
            // folded (counted, and listed in the hours' seen sets) before any row is deleted.
            foldPendingUploads(this.db);
            const end = batchEnd.get(server, cutoff, batch) as number | undefined;
            if (end === undefined) {
              last = true; // fewer than `batch` rows left before the cutoff
              return del.run(server, cutoff).changes;
            }
            // A batch smaller than one timestamp's rows (several mounts) takes that timestamp whole.
            return del.run(server, end).changes || delThrough.run(server, end).changes;
          })
          .immediate();
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    return { cutoff, rowsDeleted, partitionsDropped: [] };
  }

  async maintain(): Promise<void> {}
}
