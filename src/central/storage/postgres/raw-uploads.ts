import { gunzipSync } from "node:zlib";
import type pg from "pg";
import type { RawUpload, RawUploadStore } from "../raw-upload-store.js";
import { type Migration, runPgMigrations } from "./migrate.js";

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "raw uploads kept in the database",
    // The key starts with server so the table can be distributed by server
    // like samples (docs/scaling.md); upload ids are unique on their own.
    // Rebuild pages through upload ids in byte order (= receipt order), hence
    // the "C" index: in a linguistic collation '-' may sort as if absent.
    sql: `
      CREATE TABLE raw_uploads (
        server TEXT NOT NULL, upload_id TEXT NOT NULL, received_at BIGINT NOT NULL,
        raw_path TEXT NOT NULL, body_gzip BYTEA NOT NULL,
        PRIMARY KEY (server, upload_id)
      );
      CREATE INDEX raw_uploads_upload_id ON raw_uploads (upload_id COLLATE "C");
      CREATE INDEX raw_uploads_received_at ON raw_uploads (received_at);
    `,
  },
];

export class PgRawUploadStore implements RawUploadStore {
  constructor(private readonly pool: pg.Pool) {}

  async init(): Promise<void> {
    await runPgMigrations(this.pool, "raw_uploads", MIGRATIONS);
  }

  async page(after: string | null, limit: number): Promise<RawUpload[]> {
    const r = await this.pool.query<{
      server: string;
      upload_id: string;
      received_at: number;
      raw_path: string;
      body_gzip: Buffer;
    }>(
      `SELECT server, upload_id, received_at, raw_path, body_gzip FROM raw_uploads
       WHERE upload_id COLLATE "C" > $1 ORDER BY upload_id COLLATE "C" LIMIT $2`,
      [after ?? "", limit],
    );
    return r.rows.map((x) => ({
      uploadId: x.upload_id,
      server: x.server,
      receivedAt: x.received_at,
      rawPath: x.raw_path,
      bytes: gunzipSync(x.body_gzip),
    }));
  }

  async count(): Promise<number> {
    return (await this.pool.query<{ n: number }>("SELECT COUNT(*)::int AS n FROM raw_uploads")).rows[0]!.n;
  }

  async uploadsWithoutRaw(): Promise<number> {
    return (
      await this.pool.query<{ n: number }>(
        `SELECT COUNT(*)::int AS n FROM uploads u
         WHERE NOT EXISTS (SELECT 1 FROM raw_uploads r WHERE r.upload_id = u.upload_id)`,
      )
    ).rows[0]!.n;
  }

  async pruneBefore(receivedAt: number): Promise<number> {
    return (
      (await this.pool.query("DELETE FROM raw_uploads WHERE received_at < $1", [receivedAt])).rowCount ?? 0
    );
  }
}
