import { gunzipSync } from "node:zlib";
import type Database from "better-sqlite3";
import type { RawUpload, RawUploadStore } from "../raw-upload-store.js";
import type { UploadRecord } from "../store.js";
import { type Migration, runMigrations } from "./migrate.js";

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "raw uploads kept in the database",
    sql: `
      CREATE TABLE raw_uploads (
        server TEXT NOT NULL, upload_id TEXT NOT NULL, received_at INTEGER NOT NULL,
        raw_path TEXT NOT NULL, body_gzip BLOB NOT NULL,
        PRIMARY KEY (server, upload_id)
      ) WITHOUT ROWID;
      CREATE INDEX raw_uploads_upload_id ON raw_uploads (upload_id);
      CREATE INDEX raw_uploads_received_at ON raw_uploads (received_at);
    `,
  },
];

const insertStatements = new WeakMap<Database.Database, Database.Statement>();

/** Called from SqliteStore's insertFile inside its transaction: the raw file commits with its rows. */
export function insertSqliteRawUpload(db: Database.Database, upload: UploadRecord): void {
  if (upload.rawGzip === undefined) return;
  let st = insertStatements.get(db);
  if (st === undefined) {
    st = db.prepare(
      "INSERT INTO raw_uploads (server, upload_id, received_at, raw_path, body_gzip) VALUES (?, ?, ?, ?, ?)",
    );
    insertStatements.set(db, st);
  }
  st.run(upload.server, upload.uploadId, upload.receivedAt, upload.rawPath, Buffer.from(upload.rawGzip));
}

export class SqliteRawUploadStore implements RawUploadStore {
  constructor(private readonly db: Database.Database) {}

  async init(): Promise<void> {
    runMigrations(this.db, "raw_uploads", MIGRATIONS);
  }

  async page(after: string | null, limit: number): Promise<RawUpload[]> {
    const rows = this.db
      .prepare(
        `SELECT server, upload_id, received_at, raw_path, body_gzip FROM raw_uploads
         WHERE upload_id > ? ORDER BY upload_id LIMIT ?`,
      )
      .all(after ?? "", limit) as {
      server: string;
      upload_id: string;
      received_at: number;
      raw_path: string;
      body_gzip: Buffer;
    }[];
    return rows.map((x) => ({
      uploadId: x.upload_id,
      server: x.server,
      receivedAt: x.received_at,
      rawPath: x.raw_path,
      bytes: gunzipSync(x.body_gzip),
    }));
  }

  async count(): Promise<number> {
    return this.db.prepare("SELECT COUNT(*) FROM raw_uploads").pluck().get() as number;
  }

  async uploadsWithoutRaw(): Promise<number> {
    return this.db
      .prepare(
        `SELECT COUNT(*) FROM uploads u
         WHERE NOT EXISTS (SELECT 1 FROM raw_uploads r WHERE r.upload_id = u.upload_id)`,
      )
      .pluck()
      .get() as number;
  }

  async pruneBefore(receivedAt: number): Promise<number> {
    return this.db.prepare("DELETE FROM raw_uploads WHERE received_at < ?").run(receivedAt).changes;
  }
}
