import type pg from "pg";
import { HOUR_MS } from "../../aggregate/rows.js";
import type { RetentionStore, SamplePruneOptions, SamplePruneResult } from "../retention-store.js";
import type { RollupStore } from "../rollups/port.js";
import { lockAllServersForSession } from "../rollups/postgres/rollups.js";
import type { PartitionInfo, SamplePartitions } from "./partitions.js";

/** Servers per DELETE statement in the boundary week. */
const DEFAULT_SERVER_BATCH = 50;

/**
 * Raw retention on PostgreSQL: whole weeks past the horizon are detached
 * concurrently and dropped (no row-by-row work, no bloat); the week that
 * straddles the cutoff is DELETEd server batch by server batch, each
 * statement its own short transaction on the primary key (server, ts, …).
 *
 * Rows not folded into the rollups yet are never deleted. A prune first
 * refreshes the rollups; a late upload for a sealed hour committed after
 * that has its dirty mark still there, and its rows stay until a refresh has
 * counted them (they go with the next run): the DELETE skips rows whose hour
 * has a mark, and a dropped week puts such rows back (SamplePartitions.dropBefore).
 */
export class PgRetentionStore implements RetentionStore {
  constructor(
    private readonly pool: pg.Pool,
    private readonly partitions: SamplePartitions,
    private readonly rollups: Pick<RollupStore, "refresh">,
  ) {}

  async pruneSamples(cutoff: number, options: SamplePruneOptions = {}): Promise<SamplePruneResult> {
    // What is pending goes into the rollups first; what arrives from now on is kept for the next run.
    await this.rollups.refresh();
    const dropped = await this.dropWeeks(cutoff);
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
        rowsDeleted += await deleteFoldedSamples(
          this.pool,
          servers.slice(i, i + batch),
          boundary.from,
          cutoff,
        );
      }
    }
    return { cutoff, rowsDeleted, partitionsDropped: dropped.map((p) => p.name) };
  }

  /** Drops the weeks before `cutoff` on one connection holding every rollup server lock. */
  private async dropWeeks(cutoff: number): Promise<PartitionInfo[]> {
    const client = await this.pool.connect();
    let broken = false;
    try {
      await lockAllServersForSession(client);
      return await this.partitions.dropBefore(cutoff, client);
    } catch (err) {
      broken = true;
      throw err;
    } finally {
      // Closing the connection is what frees its session locks when unlocking cannot.
      if (!broken) {
        broken = !(await client.query("SELECT pg_advisory_unlock_all()").then(
          () => true,
          () => false,
        ));
      }
      client.release(broken);
    }
  }

  async maintain(now: number): Promise<void> {
    await this.partitions.ensureAhead(now);
  }
}

/**
 * Deletes the rows of `servers` in [from, to) that the rollups have: not
 * those of an hour with a dirty mark. The marks are read in the statement's
 * snapshot, and a row visible to it without a visible mark was folded (a
 * row's mark commits with it, and a refresh deletes only marks it folded).
 */
export async function deleteFoldedSamples(
  db: pg.Pool | pg.ClientBase,
  servers: readonly string[],
  from: number,
  to: number,
): Promise<number> {
  const res = await db.query(
    `DELETE FROM samples s WHERE s.server = ANY($1::text[]) AND s.ts >= $2 AND s.ts < $3
     AND NOT EXISTS (SELECT 1 FROM rollup_dirty d WHERE d.server = s.server AND d.hour = s.ts - s.ts % ${HOUR_MS})`,
    [servers, from, to],
  );
  return res.rowCount ?? 0;
}
