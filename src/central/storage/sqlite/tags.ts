import type Database from "better-sqlite3";
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
import { type Migration, runMigrations } from "./migrate.js";
import { fromPg } from "./prepared.js";

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "server tags from agents and the central, with their intervals of validity",
    sql: `${serverTagsTable("INTEGER")};`,
  },
];

/** Server tags on SQLite, in their own migration component ("server_tags"). */
export class SqliteTagStore implements TagStore {
  constructor(private readonly db: Database.Database) {}

  async init(): Promise<void> {
    runMigrations(this.db, "server_tags", MIGRATIONS);
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
  ): boolean {
    // IMMEDIATE: the read of the open rows and the writes it plans hold the write lock together.
    const run = this.db.transaction(() => {
      const open = this.db.prepare(fromPg(TAG_SQL.open)).all(server, source) as {
        key: string;
        value: string;
      }[];
      const plan = planTagChange(open, change);
      for (const [sql, params] of planStatements(server, source, plan, at)) {
        this.db.prepare(fromPg(sql)).run(...params);
      }
      return plan.close.length + plan.open.length > 0;
    });
    return run.immediate();
  }

  async current(server?: string): Promise<TagRecord[]> {
    const rows = (
      server === undefined
        ? this.db.prepare(TAG_SQL.current).all()
        : this.db.prepare(fromPg(TAG_SQL.currentOf)).all(server)
    ) as TagRow[];
    return byServerSourceKey(rows.map(tagRecordFromRow));
  }

  async during(from: number, to: number): Promise<TagInterval[]> {
    const rows = this.db.prepare(fromPg(TAG_SQL.during)).all(to, from) as TagRow[];
    return byServerSourceKey(rows.map(tagIntervalFromRow));
  }
}
