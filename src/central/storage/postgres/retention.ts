import type pg from "pg";
import type { RetentionStore, SamplePruneOptions, SamplePruneResult } from "../retention-store.js";
import type { SamplePartitions } from "./partitions.js";

/** Servers per DELETE statement in the boundary week. */
const DEFAULT_SERVER_BATCH = 50;

/**
 * Raw retention on PostgreSQL: whole weeks past the horizon are detached
 * concurrently and dropped (no row-by-row work, no bloat); the week that
 * straddles the cutoff is DELETEd server batch by server batch, each
 * statement its own short transaction on the primary key (server, ts, …).
 */
export class PgRetentionStore implements RetentionStore {
  constructor(
    private readonly pool: pg.Pool,
    private readonly partitions: SamplePartitions,
  ) {}

  async pruneSamples(cutoff: number, options: SamplePruneOptions = {}): Promise<SamplePruneResult> {
    const dropped = await this.partitions.dropBefore(cutoff);
    const boundary = (await this.partitions.list()).find((p) => p.from < cutoff && cutoff < p.to);
    let rowsDeleted = 0;
    if (boundary !== undefined) {
      const servers = (
        await this.pool.query<{ server: string }>(
          'SELECT server FROM server_stats ORDER BY server COLLATE "C"',
        )
      ).rows.map((r) => r.server);
      const batch = Math.max(1, options.batchSize ?? DEFAULT_SERVER_BATCH);
      for (let i = 0; i < servers.length; i += batch) {
        const res = await this.pool.query(
          "DELETE FROM samples WHERE server = ANY($1::text[]) AND ts >= $2 AND ts < $3",
          [servers.slice(i, i + batch), boundary.from, cutoff],
        );
        rowsDeleted += res.rowCount ?? 0;
      }
    }
    return { cutoff, rowsDeleted, partitionsDropped: dropped.map((p) => p.name) };
  }

  async maintain(now: number): Promise<void> {
    await this.partitions.ensureAhead(now);
  }
}
