/**
 * Raw uploads kept in the database and `central rebuild` on a shared one.
 * Two "instances" (each its own store connection and its own data
 * directory) ingest into one database; the rebuild of either gives back
 * both instances' data, or refuses without touching anything when it could
 * not (an instance still serving, raw files on local disks of a shared
 * database, uploads without a raw copy).
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createIngestService } from "../../../src/central/central-process.js";
import { loadCentralConfig } from "../../../src/central/config.js";
import type { IngestService } from "../../../src/central/ingest/ingest-service.js";
import { RebuildRefusedError, rebuildCentral } from "../../../src/central/ingest/rebuild.js";
import { PgStore } from "../../../src/central/storage/postgres/pg-store.js";
import { rawStoreMode, rawStoreWarning } from "../../../src/central/storage/raw-upload-store.js";
import { SqliteStore } from "../../../src/central/storage/sqlite/sqlite-store.js";
import type { Storage } from "../../../src/central/storage/store.js";
import { ConfigError, EXIT_CODE } from "../../../src/errors.js";
import { runCli } from "../../helpers/cli.js";
import { isoWeekMondayAgo } from "../../helpers/clock.js";
import { createTestSchema, findTestPostgres, requirePostgres } from "../../helpers/postgres.js";
import { csvFor } from "./fixtures.js";

const PG = await findTestPostgres();

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const fn of cleanups.reverse()) await fn().catch(() => {});
});

function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-rebuild-shared-"));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

interface Instance {
  store: Storage;
  ingest: IngestService;
  dataDir: string;
  rawStore: "files" | "database";
}

interface Backend {
  name: string;
  /** Stores on one database; `file` is shared by SQLite connections. */
  open(ctx: { skip: (note?: string) => never }): Promise<() => Promise<Storage>>;
}

const backends: Backend[] = [
  {
    name: "PostgreSQL",
    async open(ctx) {
      const url = requirePostgres(ctx, PG);
      const { schema, drop } = await createTestSchema(url);
      cleanups.push(drop);
      return async () => {
        const s = new PgStore(url, { schema, max: 3 });
        await s.init();
        cleanups.push(() => s.close());
        return s;
      };
    },
  },
  {
    name: "SQLite",
    async open() {
      const file = path.join(tempDir(), "srvutil.db");
      return async () => {
        const s = new SqliteStore(file, { backgroundCheckpoint: false });
        await s.init();
        cleanups.push(() => s.close());
        return s;
      };
    },
  },
];

async function instance(openStore: () => Promise<Storage>, rawStore: string): Promise<Instance> {
  const store = await openStore();
  const dataDir = tempDir();
  const config = loadCentralConfig({ SRVUTIL_DATA_DIR: dataDir, SRVUTIL_RAW_STORE: rawStore });
  const ingest = createIngestService(config, store, null);
  cleanups.push(() => ingest.close());
  return { store, ingest, dataDir, rawStore: rawStoreMode(config.rawStore, store) };
}

async function sampleCount(store: Storage): Promise<number> {
  return (await store.listServers()).reduce((n, s) => n + s.rows, 0);
}

/** Monday of last week (real clock): within the ingest horizon whenever the test runs. */
const T0 = new Date(isoWeekMondayAgo(1)).toISOString();

describe.each(backends)("raw uploads in the database ($name)", (backend) => {
  it("keeps the exact bytes in the ingest transaction, writes no local file, and rebuilds every instance's uploads", async (ctx) => {
    const openStore = await backend.open(ctx);
    const a = await instance(openStore, "database");
    const b = await instance(openStore, "database");
    const csvA = csvFor("web-a", T0, 30);
    const csvB = csvFor("web-b", T0, 20);
    const upA = await a.ingest.ingestFile(Buffer.from(csvA), { expectedServer: "web-a" });
    const upB = await b.ingest.ingestFile(Buffer.from(csvB), { expectedServer: "web-b" });
    expect(existsSync(path.join(a.dataDir, "received_metrics"))).toBe(false);
    expect(existsSync(path.join(b.dataDir, upB.rawPath))).toBe(false);
    const raws = await a.store.rawUploads.page(null, 10);
    expect(raws.map((r) => r.uploadId).sort()).toEqual([upA.uploadId, upB.uploadId].sort());
    expect(Buffer.from(raws.find((r) => r.uploadId === upB.uploadId)!.bytes).toString()).toBe(csvB);
    const before = await sampleCount(a.store);
    expect(before).toBe(upA.rows + upB.rows);

    // Instance a rebuilds: b's upload, taken on another machine, comes back too.
    const summary = await rebuildCentral(a.store, a.ingest, {
      rawStore: a.rawStore,
      receivedMetricsDir: path.join(a.dataDir, "received_metrics"),
    });
    expect(summary).toMatchObject({ files: 2, rebuilt: 2, failed: [], rows: before, inserted: before });
    expect(await sampleCount(b.store)).toBe(before);
    expect(await a.store.hasUploadId(upA.uploadId)).toBe(true);
    expect(await a.store.hasUploadId(upB.uploadId)).toBe(true);
    expect(await a.store.rawUploads.count()).toBe(2);
    // Replays are still recognised after the rebuild.
    expect((await b.ingest.ingestFile(Buffer.from(csvB), { expectedServer: "web-b" })).replay).toBe(true);
  });

  it("refuses while an instance is serving, naming it, and changes nothing", async (ctx) => {
    const openStore = await backend.open(ctx);
    const a = await instance(openStore, "database");
    const serving = await openStore();
    await a.ingest.ingestFile(Buffer.from(csvFor("web-a", T0, 10)), { expectedServer: "web-a" });
    const now = Date.now();
    await serving.coordination.heartbeat(
      { id: "host-b:42:abc", description: "host-b pid 42 http://10.0.0.2:8080", startedAt: now },
      now,
      30_000,
    );
    const err = await rebuildCentral(a.store, a.ingest, {
      rawStore: a.rawStore,
      receivedMetricsDir: path.join(a.dataDir, "received_metrics"),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RebuildRefusedError);
    expect((err as Error).message).toContain("host-b pid 42 http://10.0.0.2:8080");
    expect((err as Error).message).toMatch(/Stop every instance first/);
    expect(await sampleCount(a.store)).toBe(20); // 10 timestamps × 2 mounts
  });

  it("refuses when stored uploads have no raw copy in the database", async (ctx) => {
    const openStore = await backend.open(ctx);
    const onDisk = await instance(openStore, "files");
    await onDisk.ingest.ingestFile(Buffer.from(csvFor("old-01", T0, 5)), { expectedServer: "old-01" });
    const a = await instance(openStore, "database");
    await a.ingest.ingestFile(Buffer.from(csvFor("web-a", T0, 5)), { expectedServer: "web-a" });
    const err = await rebuildCentral(a.store, a.ingest, {
      rawStore: "database",
      receivedMetricsDir: path.join(a.dataDir, "received_metrics"),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/^SRVUTIL_RAW_STORE=database: 1 stored upload has no raw copy/);
    expect(await sampleCount(a.store)).toBe(20);
  });
});

describe("central rebuild with raw files on local disks", () => {
  it("refuses on a shared PostgreSQL database, saying why and what to do, and changes nothing", async (ctx) => {
    const openStore = await backends[0]!.open(ctx);
    const a = await instance(openStore, "files");
    expect(a.rawStore).toBe("files");
    await a.ingest.ingestFile(Buffer.from(csvFor("web-a", T0, 7)), { expectedServer: "web-a" });
    const err = await rebuildCentral(a.store, a.ingest, {
      rawStore: a.rawStore,
      receivedMetricsDir: path.join(a.dataDir, "received_metrics"),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(
      /^SRVUTIL_RAW_STORE=files: central rebuild refuses on a shared database/,
    );
    expect((err as Error).message).toContain("SRVUTIL_RAW_STORE=database");
    expect(await sampleCount(a.store)).toBe(14);
  });

  it("`srvutil central rebuild` exits 78 with that message", async (ctx) => {
    const url = requirePostgres(ctx, PG);
    const { schema, drop } = await createTestSchema(url);
    cleanups.push(drop);
    const r = await runCli(["central", "rebuild"], {
      ...process.env,
      SRVUTIL_DATA_DIR: tempDir(),
      SRVUTIL_DB_URL: `${url}${url.includes("?") ? "&" : "?"}options=${encodeURIComponent(`-c search_path=${schema}`)}`,
      SRVUTIL_RAW_STORE: "files",
    });
    expect(r.code).toBe(EXIT_CODE.bad_config);
    expect(r.stderr).toContain("SRVUTIL_RAW_STORE=files: central rebuild refuses on a shared database");
  }, 60_000);

  it("auto means database on PostgreSQL and files on SQLite; database on SQLite NORMAL is warned about", async (ctx) => {
    const pgStore = await (await backends[0]!.open(ctx))();
    const sqliteStore = await (await backends[1]!.open(ctx))();
    expect(rawStoreMode("auto", pgStore)).toBe("database");
    expect(rawStoreMode("auto", sqliteStore)).toBe("files");
    expect(rawStoreMode("files", pgStore)).toBe("files");
    expect(rawStoreMode("database", sqliteStore)).toBe("database");
    // Only the combination that weakens "acknowledged means durable" is warned about.
    expect(rawStoreWarning("database", sqliteStore, "NORMAL")).toMatch(
      /^SRVUTIL_RAW_STORE=database on SQLite with SRVUTIL_SQLITE_SYNCHRONOUS=NORMAL: a power loss can lose/,
    );
    expect(rawStoreWarning("database", sqliteStore, "FULL")).toBeNull();
    expect(rawStoreWarning("files", sqliteStore, "NORMAL")).toBeNull();
    expect(rawStoreWarning("database", pgStore, "NORMAL")).toBeNull();
  });
});

describe("central rebuild from raw files that are not all there (SQLite)", () => {
  /** Three days ago at midnight UTC: recent data, well inside the ingest horizon whatever the date. */
  const recent = new Date(Math.floor(Date.now() / 86_400_000 - 3) * 86_400_000).toISOString();

  async function threeUploads(ctx: { skip: (note?: string) => never }): Promise<Instance> {
    const a = await instance(await backends[1]!.open(ctx), "files");
    for (const server of ["web-a", "web-b", "web-c"])
      await a.ingest.ingestFile(Buffer.from(csvFor(server, recent, 7)), { expectedServer: server });
    expect(await sampleCount(a.store)).toBe(42);
    return a;
  }
  const rawFiles = (a: Instance) => listFiles(path.join(a.dataDir, "received_metrics"));

  it("refuses when a stored upload has no raw file, naming how many, and changes nothing", async (ctx) => {
    const a = await threeUploads(ctx);
    rmSync(rawFiles(a)[0]!);
    const err = await rebuildCentral(a.store, a.ingest, {
      rawStore: "files",
      receivedMetricsDir: path.join(a.dataDir, "received_metrics"),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RebuildRefusedError);
    expect((err as Error).message).toMatch(/^central rebuild: 1 of 3 stored uploads has no raw file in /);
    expect((err as Error).message).toContain("--accept-loss");
    expect(await sampleCount(a.store)).toBe(42);
  });

  it("refuses when received_metrics/ is missing altogether (a restored machine without its copy)", async (ctx) => {
    const a = await threeUploads(ctx);
    rmSync(path.join(a.dataDir, "received_metrics"), { recursive: true });
    const err = await rebuildCentral(a.store, a.ingest, {
      rawStore: "files",
      receivedMetricsDir: path.join(a.dataDir, "received_metrics"),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RebuildRefusedError);
    expect((err as Error).message).toMatch(/^central rebuild: 3 of 3 stored uploads have no raw file in /);
    expect(await sampleCount(a.store)).toBe(42);
  });

  it("rebuilds from the files there are with acceptLoss, and from all of them without it", async (ctx) => {
    const a = await threeUploads(ctx);
    const dir = path.join(a.dataDir, "received_metrics");
    const whole = await rebuildCentral(a.store, a.ingest, { rawStore: "files", receivedMetricsDir: dir });
    expect(whole).toMatchObject({ files: 3, rebuilt: 3, failed: [] });
    expect(await sampleCount(a.store)).toBe(42);
    rmSync(rawFiles(a)[0]!);
    const partial = await rebuildCentral(a.store, a.ingest, {
      rawStore: "files",
      receivedMetricsDir: dir,
      acceptLoss: true,
    });
    expect(partial).toMatchObject({ files: 2, rebuilt: 2, failed: [] });
    expect(await sampleCount(a.store)).toBe(28);
  });
});

function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}
