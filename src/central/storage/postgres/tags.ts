import type pg from "pg";
import type { Tags } from "../../../protocol/tags.js";
import {
  byServerSourceKey,
  planStatements,
  planTagChange,
  serverTagsTable,
  TAG_SQL,
  type TagInterval,
  type TagRecord,
  type TagRow,
  type TagSource,
  type TagStore,
  tagIntervalFromRow,
  tagRecordFromRow,
} from "../tag-store.js";
import { type Migration, runPgMigrations } from "./migrate.js";
import { inTransaction } from "./transaction.js";

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "server tags from agents and the central, with their intervals of validity",
    sql: `${serverTagsTable("BIGINT")};`,
  },
];

/** Server tags on PostgreSQL, in their own migration component ("server_tags"). */
export class PgTagStore implements TagStore {
  constructor(private readonly pool: pg.Pool) {}

  async init(): Promise<void> {
    await runPgMigrations(this.pool, "server_tags", MIGRATIONS);
  }

  async replace(server: string, source: TagSource, tags: Tags, at: number): Promise<boolean> {
    return this.change(server, source, { set: tags, unset: [], replace: true }, at);
  }

  async edit(server: string, edit: { set: Tags; unset: readonly string[] }, at: number): Promise<boolean> {
    return this.change(server, "central", { ...edit, replace: false }, at);
  }

  private change(
    server: string,
    source: TagSource,
    change: { set: Tags; unset: readonly string[]; replace: boolean },
    at: number,
  ): Promise<boolean> {
    return inTransaction(this.pool, async (client) => {
      // Two instances changing one server's tags at once take turns: each plans from the rows the other left.
      await client.query("SELECT pg_advisory_xact_lock(hashtext('server_tags'), hashtext($1))", [server]);
      const open = await client.query<{ key: string; value: string }>(TAG_SQL.open, [server, source]);
      const plan = planTagChange(open.rows, change);
      for (const [sql, params] of planStatements(server, source, plan, at)) await client.query(sql, params);
      return plan.close.length + plan.open.length > 0;
    });
  }

  async current(server?: string): Promise<TagRecord[]> {
    const r =
      server === undefined
        ? await this.pool.query<TagRow>(TAG_SQL.current)
        : await this.pool.query<TagRow>(TAG_SQL.currentOf, [server]);
    return byServerSourceKey(r.rows.map(tagRecordFromRow));
  }

  async during(from: number, to: number): Promise<TagInterval[]> {
    const r = await this.pool.query<TagRow>(TAG_SQL.during, [to, from]);
    return byServerSourceKey(r.rows.map(tagIntervalFromRow));
  }
}
