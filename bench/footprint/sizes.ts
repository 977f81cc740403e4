/**
 * bench:footprint's measurements: bytes per table and per index of each
 * backend, and the raw archive on disk. See ./run.ts.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";
import Database from "better-sqlite3";
import pg from "pg";

/** Bytes per object: table name → [table bytes, index bytes, index names]. */
export type Sizes = Map<string, { table: number; indexes: Map<string, number> }>;
export function add(sizes: Sizes, table: string, index: string | null, bytes: number): void {
  const t = sizes.get(table) ?? { table: 0, indexes: new Map() };
  if (index === null) t.table += bytes;
  else t.indexes.set(index, (t.indexes.get(index) ?? 0) + bytes);
  sizes.set(table, t);
}

/** dbstat: the b-tree pages of every table and index (a WITHOUT ROWID table's key is the table). */
export function sqliteSizes(file: string): { sizes: Sizes; fileBytes: number; freeBytes: number } {
  const db = new Database(file);
  try {
    db.pragma("wal_checkpoint(TRUNCATE)");
    const kinds = new Map(
      db
        .prepare("SELECT type, name, tbl_name FROM sqlite_schema")
        .all()
        .map((r) => {
          const x = r as { type: string; name: string; tbl_name: string };
          return [x.name, x] as const;
        }),
    );
    const sizes: Sizes = new Map();
    for (const r of db.prepare("SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name").all()) {
      const { name, bytes } = r as { name: string; bytes: number };
      const k = kinds.get(name);
      if (k?.type === "index") add(sizes, k.tbl_name, name, bytes);
      else add(sizes, name, null, bytes);
    }
    const pageSize = db.pragma("page_size", { simple: true }) as number;
    const free = db.pragma("freelist_count", { simple: true }) as number;
    return { sizes, fileBytes: statSync(file).size, freeBytes: free * pageSize };
  } finally {
    db.close();
  }
}

/** pg_table_size (heap, TOAST, maps) per table and pg_relation_size per index, partitions into their parent. */
export async function pgSizes(url: string, schema: string): Promise<Sizes> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const sizes: Sizes = new Map();
    const parentOf = `LEFT JOIN pg_inherits i ON i.inhrelid = t.oid LEFT JOIN pg_class p ON p.oid = i.inhparent`;
    const tables = await c.query<{ tbl: string; bytes: string }>(
      `SELECT coalesce(p.relname, t.relname) AS tbl, pg_table_size(t.oid) AS bytes
       FROM pg_class t JOIN pg_namespace n ON n.oid = t.relnamespace ${parentOf}
       WHERE n.nspname = $1 AND t.relkind = 'r'`,
      [schema],
    );
    for (const r of tables.rows) add(sizes, r.tbl, null, Number(r.bytes));
    const indexes = await c.query<{ tbl: string; idx: string; bytes: string }>(
      `SELECT coalesce(p.relname, t.relname) AS tbl, coalesce(pix.relname, ix.relname) AS idx,
              pg_relation_size(ix.oid) AS bytes
       FROM pg_index x JOIN pg_class ix ON ix.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
       JOIN pg_namespace n ON n.oid = t.relnamespace ${parentOf}
       LEFT JOIN pg_inherits ii ON ii.inhrelid = ix.oid LEFT JOIN pg_class pix ON pix.oid = ii.inhparent
       WHERE n.nspname = $1 AND ix.relkind = 'i'`,
      [schema],
    );
    for (const r of indexes.rows) add(sizes, r.tbl, r.idx, Number(r.bytes));
    return sizes;
  } finally {
    await c.end();
  }
}

export interface Archive {
  files: number;
  apparent: number;
  allocated: number;
  gzipPerFile: number;
  gzipPerServerDay: number;
}

/**
 * received_metrics/<server>/<day>/<file>: bytes as listed, blocks allocated, and gzip (level 6) sizes:
 * one file at a time, and one stream per server and day of samples (`filesPerDay` files).
 */
export function archiveOf(root: string, filesPerDay: number): Archive {
  const a: Archive = { files: 0, apparent: 0, allocated: 0, gzipPerFile: 0, gzipPerServerDay: 0 };
  const walk = (dir: string, bucket: Buffer[] | null): void => {
    a.allocated += statSync(dir).blocks * 512;
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((x, y) => x.name.localeCompare(y.name))) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        const day: Buffer[] | null = /^\d{4}-\d{2}-\d{2}$/.test(e.name) ? [] : null;
        walk(p, day);
        // Files sort in receipt order; the bench receives a week at once, so a day of samples is filesPerDay files.
        for (let i = 0; day !== null && i < day.length; i += filesPerDay)
          a.gzipPerServerDay += gzipSync(Buffer.concat(day.slice(i, i + filesPerDay))).length;
        continue;
      }
      const bytes = readFileSync(p);
      const st = statSync(p);
      a.files++;
      a.apparent += st.size;
      a.allocated += st.blocks * 512;
      a.gzipPerFile += gzipSync(bytes).length;
      bucket?.push(bytes);
    }
  };
  walk(root, null);
  return a;
}

export interface Run {
  backend: string;
  /** Growth over the empty store, per table. */
  sizes: Sizes;
  archive: Archive | null;
  /** SQLite: the file's bytes and its free pages after the run. */
  file: { bytes: number; free: number } | null;
  rawBodyBytes: number;
  /** PostgreSQL: the growth before VACUUM FULL (`sizes` is after). */
  asWritten: Sizes | null;
}

export function grown(after: Sizes, before: Sizes): Sizes {
  const out: Sizes = new Map();
  for (const [t, s] of after) {
    const b = before.get(t);
    add(out, t, null, s.table - (b?.table ?? 0));
    for (const [i, bytes] of s.indexes) add(out, t, i, bytes - (b?.indexes.get(i) ?? 0));
  }
  return out;
}

/** VACUUM FULL of every table of `schema` (only those: other schemas on the server are not ours). */
export async function pgCompact(url: string, schema: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const tables = await c.query<{ name: string }>(
      `SELECT format('%I.%I', n.nspname, t.relname) AS name FROM pg_class t
       JOIN pg_namespace n ON n.oid = t.relnamespace WHERE n.nspname = $1 AND t.relkind = 'r'`,
      [schema],
    );
    for (const { name } of tables.rows) await c.query(`VACUUM FULL ${name}`);
  } finally {
    await c.end();
  }
}
