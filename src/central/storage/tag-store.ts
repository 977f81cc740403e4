import { MAX_TAGS, type Tags } from "../../protocol/tags.js";

/**
 * Server tags with their history (issue 30): the tags each agent declares
 * with its uploads, and the tags an admin sets on the central, each as
 * intervals of validity, so "the tags of server S during week W" has an
 * answer after S changed team. The central's tags win over the agent's
 * (effectiveTags).
 *
 * One row per (server, source, key, value) and interval; an open interval
 * (valid_to NULL) is the tag now. A change closes the rows it ends and opens
 * the ones it starts, in one transaction; an unchanged set writes nothing.
 * The SQL and the planning are here, shared by both backends:
 * SQLite ./sqlite/tags.ts, PostgreSQL ./postgres/tags.ts.
 */
export interface TagStore {
  /**
   * Makes `tags` the server's whole set from `source` as of `at` (an
   * agent's upload: what it declares now). True when something was written.
   */
  replace(server: string, source: TagSource, tags: Tags, at: number): Promise<boolean>;
  /**
   * Adds or overrides central tags (`set`) and removes central tags
   * (`unset`), leaving its other central tags as they are. Refused with
   * TooManyTagsError past MAX_TAGS. True when something was written.
   */
  edit(server: string, edit: { set: Tags; unset: readonly string[] }, at: number): Promise<boolean>;
  /** The open tags (both sources) of one server, or of every server; by server, source, key. */
  current(server?: string): Promise<TagRecord[]>;
  /** Every interval overlapping [from, to) (epoch ms), by server, source, key, start. */
  during(from: number, to: number): Promise<TagInterval[]>;
}

/** Who set a tag: the agent's config (sent with its uploads) or an admin on the central. */
export type TagSource = "agent" | "central";

export interface TagRecord {
  server: string;
  source: TagSource;
  key: string;
  value: string;
  /** When this value began, epoch ms. */
  since: number;
}

export interface TagInterval {
  server: string;
  source: TagSource;
  key: string;
  value: string;
  from: number;
  /** null: still valid. */
  to: number | null;
}

/** A tag as shown: the value in force, where it came from, and the agent's value when the central overrides it. */
export interface EffectiveTag {
  value: string;
  source: TagSource;
  /** The agent's own value, when the central's differs from it (both are shown). */
  agentValue: string | null;
}

/** An edit would leave the server with more than MAX_TAGS central tags. */
export class TooManyTagsError extends Error {}

/** Per server, key → the tag in force: the central's value where it has one, else the agent's. */
export function effectiveTags(
  rows: readonly Pick<TagRecord, "server" | "source" | "key" | "value">[],
): Map<string, Map<string, EffectiveTag>> {
  const out = new Map<string, Map<string, EffectiveTag>>();
  for (const r of rows) {
    let tags = out.get(r.server);
    if (tags === undefined) {
      tags = new Map();
      out.set(r.server, tags);
    }
    const had = tags.get(r.key);
    if (r.source === "central") {
      const agentValue = had?.source === "agent" ? had.value : (had?.agentValue ?? null);
      tags.set(r.key, { value: r.value, source: "central", agentValue });
    } else if (had === undefined) {
      tags.set(r.key, { value: r.value, source: "agent", agentValue: null });
    } else {
      had.agentValue = r.value;
    }
  }
  for (const tags of out.values()) {
    for (const t of tags.values())
      if (t.agentValue === t.value && t.source === "central") t.agentValue = null;
  }
  return out;
}

/** The effective tags as plain key → value, per server (what group selectors match). */
export function tagValues(effective: Map<string, Map<string, EffectiveTag>>): Map<string, Tags> {
  return new Map(
    [...effective].map(([server, tags]) => [
      server,
      Object.fromEntries([...tags].map(([k, t]) => [k, t.value])),
    ]),
  );
}

/**
 * The tags each server had during an interval (a report's week): of each
 * (server, source, key), the value that began last within it. So a server
 * that moved from team A to team B during the week counts as B's, and in
 * the weeks before as A's. Central tags win as everywhere.
 */
export function tagsDuring(intervals: readonly TagInterval[]): Map<string, Tags> {
  const last = new Map<string, TagInterval>();
  for (const i of intervals) {
    const id = `${i.server}\n${i.source}\n${i.key}`;
    const had = last.get(id);
    if (had === undefined || i.from >= had.from) last.set(id, i);
  }
  return tagValues(effectiveTags([...last.values()]));
}

/** What one change does to the open rows of (server, source). */
export interface TagPlan {
  /** Keys whose open row ends. */
  close: string[];
  /** Rows to open. */
  open: [string, string][];
}

/**
 * The rows a change ends and opens, given the open rows now. `replace`: the
 * wanted set is `set` alone; otherwise `set` is merged in and `unset` removed.
 */
export function planTagChange(
  open: readonly { key: string; value: string }[],
  change: { set: Tags; unset: readonly string[]; replace: boolean },
): TagPlan {
  const now = new Map(open.map((r) => [r.key, r.value]));
  const wanted = new Map(change.replace ? [] : now);
  for (const k of change.unset) wanted.delete(k);
  for (const [k, v] of Object.entries(change.set)) wanted.set(k, v);
  if (wanted.size > MAX_TAGS && wanted.size > now.size) {
    throw new TooManyTagsError(`a server carries at most ${MAX_TAGS} tags from one source`);
  }
  const close = [...now].filter(([k, v]) => wanted.get(k) !== v).map(([k]) => k);
  const opened = [...wanted].filter(([k, v]) => now.get(k) !== v);
  return { close, open: opened };
}

/** The server_tags table: SQLite (INTEGER) and PostgreSQL (BIGINT) differ only in the time type. */
export function serverTagsTable(int: "INTEGER" | "BIGINT"): string {
  return `CREATE TABLE server_tags (
    server TEXT NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('agent', 'central')),
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    valid_from ${int} NOT NULL,
    valid_to ${int},
    PRIMARY KEY (server, source, key, valid_from)
  );
  CREATE UNIQUE INDEX server_tags_open ON server_tags (server, source, key) WHERE valid_to IS NULL;
  CREATE INDEX server_tags_from ON server_tags (valid_from)`;
}

/** The statements, with $N parameters (SQLite's adapter turns them into ?, each used once, in order). */
export const TAG_SQL = {
  open: "SELECT key, value FROM server_tags WHERE server = $1 AND source = $2 AND valid_to IS NULL",
  // An interval that would end where (or before) it began is dropped, not kept empty: the
  // new row reuses its start, which the primary key holds unique.
  drop: "DELETE FROM server_tags WHERE server = $1 AND source = $2 AND key = $3 AND valid_to IS NULL AND valid_from >= $4",
  close:
    "UPDATE server_tags SET valid_to = $1 WHERE server = $2 AND source = $3 AND key = $4 AND valid_to IS NULL",
  insert:
    "INSERT INTO server_tags (server, source, key, value, valid_from, valid_to) VALUES ($1, $2, $3, $4, $5, NULL)",
  current: "SELECT server, source, key, value, valid_from FROM server_tags WHERE valid_to IS NULL",
  currentOf:
    "SELECT server, source, key, value, valid_from FROM server_tags WHERE valid_to IS NULL AND server = $1",
  during:
    "SELECT server, source, key, value, valid_from, valid_to FROM server_tags WHERE valid_from < $1 AND (valid_to IS NULL OR valid_to > $2)",
} as const;

/** A server_tags row as both drivers give it (epoch ms as numbers: PostgreSQL's BIGINT is parsed so). */
export interface TagRow {
  server: string;
  source: string;
  key: string;
  value: string;
  valid_from: number | string;
  valid_to?: number | string | null;
}

const asSource = (s: string): TagSource => (s === "central" ? "central" : "agent");

export function tagRecordFromRow(r: TagRow): TagRecord {
  return {
    server: r.server,
    source: asSource(r.source),
    key: r.key,
    value: r.value,
    since: Number(r.valid_from),
  };
}

export function tagIntervalFromRow(r: TagRow): TagInterval {
  return {
    server: r.server,
    source: asSource(r.source),
    key: r.key,
    value: r.value,
    from: Number(r.valid_from),
    to: r.valid_to === null || r.valid_to === undefined ? null : Number(r.valid_to),
  };
}

/** Rows in one order on both backends (PostgreSQL's collation would differ from SQLite's bytes). */
export function byServerSourceKey<T extends { server: string; source: string; key: string; from?: number }>(
  rows: T[],
): T[] {
  const c = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return rows.sort(
    (a, b) =>
      c(a.server, b.server) || c(a.source, b.source) || c(a.key, b.key) || (a.from ?? 0) - (b.from ?? 0),
  );
}

/** The statements one planned change runs, in order, as [sql, params]. */
export function planStatements(
  server: string,
  source: TagSource,
  plan: TagPlan,
  at: number,
): [string, (string | number)[]][] {
  const out: [string, (string | number)[]][] = [];
  for (const key of plan.close) {
    out.push([TAG_SQL.drop, [server, source, key, at]]);
    out.push([TAG_SQL.close, [at, server, source, key]]);
  }
  for (const [key, value] of plan.open) out.push([TAG_SQL.insert, [server, source, key, value, at]]);
  return out;
}
