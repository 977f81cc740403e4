import { createHash } from "node:crypto";
import { readdir, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { errorCode, InputError } from "../../errors.js";
import {
  CsvValidationError,
  type MetricRow,
  parseMetricsCsv,
  serverNameProblem,
} from "../../protocol/index.js";
import type { AutomationLog } from "../automation-log.js";
import { DEFAULT_RETENTION, INGEST_HORIZON_MARGIN_MS, ingestHorizon } from "../retention.js";
import { AgentTokenRevokedError, type Storage, type StoredUpload } from "../storage/store.js";
import {
  DEFAULT_MOUNT_LIMITS,
  MountLimiter,
  type MountLimits,
  type MountReservation,
  mountsInRollups,
} from "./mount-limits.js";
import { ParsePool } from "./parse-pool.js";
import { compressRawBody } from "./raw-body.js";
import { RawFileWriter } from "./raw-file-writer.js";
import {
  type FileFormat,
  parseRawFileName,
  rawFileName,
  readSeedFile,
  resolveFormat,
} from "./seed/format.js";
import type { SeedRowProblem } from "./seed/parse-seed.js";
import { isUploadId, newUploadId, uploadIdTime } from "./upload-id.js";

/**
 * The one path every metrics file takes into the central (API upload,
 * `central import`, `central rebuild`): validate the whole file, write the
 * raw file atomically, commit its rows in one transaction. A file is stored
 * completely or not at all.
 *
 * Raw files live in `<data>/received_metrics/<server>/<YYYY-MM-DD>/<upload_id>.csv`
 * where the date is the UTC date the central received the file (not the
 * dates inside it: one file may span days, and receipt date makes "what came
 * in on Tuesday" a directory listing). Gzip uploads are stored decompressed.
 * With rawStore "database" the same bytes, under the same path name, go into
 * the database's raw_uploads table in the ingest transaction instead.
 */

/** Rows of a file name a server other than the one the token is bound to (→ 403). */
export class ServerMismatchError extends InputError {
  constructor(
    readonly tokenServer: string,
    readonly rowServer: string,
    readonly dataRow: number,
  ) {
    super(
      `data row ${dataRow} names server '${rowServer}' but this token may only upload for '${tokenServer}'`,
      { status: 403 },
    );
  }
}

/**
 * A file holding a sample older than the ingest horizon (../retention.ts,
 * ingestHorizon): no report could ever show it, so the whole file is refused
 * before anything of it is stored (422, reason `sample_too_old`, code
 * SRVUTIL_E_SAMPLE_TOO_OLD, carried as every other code is: the API's `code`
 * field, the end of the seed bridge's line and of `central import`'s error
 * for the file). The message names the horizon and the setting that moves it.
 */
export class SampleTooOldError extends InputError {
  static readonly code = errorCode("sample_too_old");
  constructor(
    readonly oldest: number,
    readonly horizon: number,
    because: { hourlyMonths: number | null; deleted: boolean },
  ) {
    const at = (t: number) => new Date(t).toISOString();
    const why = because.deleted
      ? `retention has already deleted the hourly rollups up to ${at(horizon - INGEST_HORIZON_MARGIN_MS)} ` +
        "(SRVUTIL_RETENTION_HOURLY_MONTHS was lower then), and reports of that time cannot take new samples. " +
        "Nothing of the file was stored; leave those samples out."
      : `reports are built from hourly rollups, kept SRVUTIL_RETENTION_HOURLY_MONTHS=${because.hourlyMonths} ` +
        "months (less 3 days for late samples), so it could never be reported. Nothing of the file was " +
        "stored. To take older data, raise SRVUTIL_RETENTION_HOURLY_MONTHS on the central (or set it to " +
        "keep) before its retention job deletes those hours, or leave those samples out.";
    super(
      `the file holds a sample from ${at(oldest)}, older than the ingest horizon ${at(horizon)}: ${why}`,
      {
        status: 422,
        reason: "sample_too_old",
      },
    );
  }
}

export interface IngestServiceOptions {
  store: Storage;
  /** The data directory; raw paths in the database are relative to it. */
  dataDir: string;
  /** Normally `<dataDir>/received_metrics`. */
  receivedMetricsDir: string;
  log?: AutomationLog | null;
  maxFutureSkewMs: number;
  /** Data rows accepted in one file (SRVUTIL_MAX_ROWS_PER_FILE). */
  maxRows: number;
  /** Injectable clock, epoch ms. */
  now?: () => number;
  /** Worker threads parsing large files off the event loop (0: inline). Default 0. */
  parseWorkers?: number;
  /** Zone of the seed format's zone-less times when the caller names none (the report time zone). Default UTC. */
  seedTimeZone?: string;
  /**
   * Calendar months of hourly rollups kept (SRVUTIL_RETENTION_HOURLY_MONTHS;
   * null: forever): files with samples before the ingest horizon it sets are
   * refused. Default: the retention default (13).
   */
  hourlyRetentionMonths?: number | null;
  /**
   * Where raw files go (SRVUTIL_RAW_STORE, resolved by storage's rawStoreMode):
   * "files" (default), durable in received_metrics/ before the commit;
   * "database", gzip-compressed in the ingest transaction itself, so an
   * acknowledged upload survives the loss of this instance's disk.
   */
  rawStore?: "files" | "database";
  /** Distinct mounts accepted per sample and per server and UTC week (./mount-limits.ts). */
  mountLimits?: MountLimits;
}

export interface IngestResult {
  uploadId: string;
  server: string;
  rows: number;
  inserted: number;
  duplicates: number;
  /** True when this exact file (same server, same SHA-256) was already stored: nothing was written. */
  replay: boolean;
  rawPath: string;
  /** Where the raw copy under `rawPath` is kept: a file on this instance's disk, or the database (SRVUTIL_RAW_STORE). */
  rawStoredIn: NonNullable<IngestServiceOptions["rawStore"]>;
  /**
   * Seed lines skipped for breaking the seed contract, the first 100 of them
   * (always empty for CSV v1, which refuses the file).
   */
  skippedRows: SeedRowProblem[];
  /** Every skipped seed line, also those past the first 100. */
  skippedLineCount: number;
}

export interface IngestFileOptions {
  /** The server the caller's token is bound to; rows naming another server are refused. */
  expectedServer?: string;
  /** The reader: CSV v1 (default), the seed format, or chosen by the header. */
  format?: FileFormat;
  /** Zone of seed timestamps; default the service's seedTimeZone. */
  sourceTimeZone?: string;
  /**
   * The agent token the caller was authenticated with, when that was from a
   * cache: the write refuses the file (AgentTokenRevokedError) unless the
   * token is still active (UploadRecord.agentTokenId).
   */
  agentTokenId?: string;
}

/**
 * Samples younger than this are never before the deleted-buckets horizon:
 * hourly retention keeps at least one calendar month (28 days or more), and
 * that horizon is 3 days after the newest deleted bucket.
 */
const NEVER_DELETED_MS = 25 * 86_400_000;

export class IngestService {
  private readonly store: Storage;
  private readonly now: () => number;
  /**
   * Today's day directories known to exist durably: later writes into them
   * skip mkdir and the parent fsyncs. Reset when the day changes, so it
   * holds at most one entry per server.
   */
  private readonly knownDirs = new Set<string>();
  private knownDirsDay = "";
  private readonly rawFiles = new RawFileWriter();
  private hourlyHorizon: { value: number; readAt: number } | null = null;
  private readonly parsePool: ParsePool;
  private readonly mountLimiter: MountLimiter;

  constructor(private readonly options: IngestServiceOptions) {
    this.store = options.store;
    this.now = options.now ?? Date.now;
    this.mountLimiter = new MountLimiter(
      options.mountLimits ?? DEFAULT_MOUNT_LIMITS,
      mountsInRollups(options.store),
    );
    this.parsePool = new ParsePool(
      options.parseWorkers ?? 0,
      (bytes, opts) => parseMetricsCsv(bytes, opts).rows,
    );
  }

  /** Starts the parse workers and the raw file writer threads ahead of the first upload. */
  warmUp(): Promise<void> {
    if (this.options.rawStore !== "database") this.rawFiles.warmUp();
    return this.parsePool.warmUp();
  }

  /** Stops the parse workers and the raw file writer (after its pending writes). */
  async close(): Promise<void> {
    await this.parsePool.close();
    await this.rawFiles.close();
  }

  /**
   * Validates and stores one metrics file (decompressed bytes). Throws
   * CsvValidationError (400), ServerMismatchError (403) or InputError;
   * in every error case nothing is stored.
   */
  async ingestFile(bytes: Uint8Array, opts: IngestFileOptions = {}): Promise<IngestResult> {
    return this.storeChecked(await this.checkFile(bytes, opts));
  }

  /**
   * ingestFile's first half: reads the file and refuses it as ingestFile
   * would (a CSV v1 or seed error, another server, a sample older than the
   * ingest horizon, too many mounts), writing nothing. Its mounts stay
   * reserved until storeChecked commits them or `mounts.release()` gives
   * them back: a foreign input's batch checks the file of every server it
   * names before it stores any of them, and releases what it did not store.
   */
  async checkFile(bytes: Uint8Array, opts: IngestFileOptions = {}): Promise<CheckedFile> {
    const receivedAt = this.now();
    const decoded = await this.decode(bytes, receivedAt, opts);
    const server = singleServer(decoded.rows, opts.expectedServer);
    await this.refuseTooOld(decoded.rows, receivedAt);
    // Checked before anything is written; the file's mounts count once its rows are stored.
    const mounts = await this.mountLimiter.reserve(server, decoded.rows);
    return { bytes, receivedAt, server, decoded, opts, mounts };
  }

  /** ingestFile's second half: stores a file checkFile accepted (all of it or, on an error, nothing). */
  async storeChecked(file: CheckedFile): Promise<IngestResult> {
    try {
      const result = await this.storeFile(file);
      file.mounts.commit();
      return result;
    } catch (err) {
      file.mounts.release();
      throw err;
    }
  }

  /** ingestFile once the file is read and within the limits: the replay check, the raw copy, the rows. */
  private async storeFile(checked: CheckedFile): Promise<IngestResult> {
    const { bytes, receivedAt, server, decoded, opts } = checked;
    const { rows, skippedRows, skippedLineCount, seedTimeZone } = decoded;
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    const rawStoredIn = this.options.rawStore ?? "files";
    const tokenCheck = opts.agentTokenId === undefined ? {} : { agentTokenId: opts.agentTokenId };

    const replay = (earlier: StoredUpload): IngestResult => ({
      uploadId: earlier.uploadId,
      server,
      rows: rows.length,
      inserted: 0,
      duplicates: rows.length,
      replay: true,
      rawPath: earlier.rawPath,
      rawStoredIn,
      skippedRows,
      skippedLineCount,
    });
    const uploadId = newUploadId(receivedAt);
    const day = new Date(receivedAt).toISOString().slice(0, 10);
    const name = rawFileName(uploadId, seedTimeZone);
    const rawPath = `received_metrics/${server}/${day}/${name}`;
    const dir = this.safeDir(server, day); // also the check that rawPath stays inside received_metrics/
    if (this.options.rawStore === "database") {
      // The replay check rides in the same write (one round trip on PostgreSQL).
      const rawGzip = await compressRawBody(bytes);
      const answer = await this.store.ingestUnlessReplay(
        { uploadId, server, receivedAt, rawPath, sha256, bytes: bytes.byteLength, rawGzip, ...tokenCheck },
        rows,
      );
      if (answer.replayOf !== null) return replay(answer.replayOf);
      this.logUpload(answer.outcome, server, bytes.byteLength, seedTimeZone, skippedLineCount);
      return {
        ...answer.outcome,
        server,
        replay: false,
        rawPath,
        rawStoredIn,
        skippedRows,
        skippedLineCount,
      };
    }
    // A raw file is written before its rows, so a replay is found first (no file to take back).
    const earlier = await this.store.findUpload(server, sha256);
    if (earlier !== null) {
      // Nothing is written for a replay, so no write checks the token: ask once (replays are rare).
      if (opts.agentTokenId !== undefined) await this.requireActiveAgentToken(opts.agentTokenId);
      return replay(earlier);
    }
    const file = path.join(dir, name);
    if (day !== this.knownDirsDay) {
      this.knownDirs.clear();
      this.knownDirsDay = day;
    }
    const known = this.knownDirs.has(dir);
    await this.rawFiles.write({
      dir,
      file,
      bytes,
      createDirUnder: known ? null : path.resolve(this.options.receivedMetricsDir),
    });
    if (!known) this.knownDirs.add(dir);

    let outcome: Awaited<ReturnType<Storage["ingest"]>>;
    try {
      outcome = await this.store.ingest(
        { uploadId, server, receivedAt, rawPath, sha256, bytes: bytes.byteLength, ...tokenCheck },
        rows,
      );
    } catch (err) {
      // All or nothing: without its rows the raw file must not stay behind.
      await this.rawFiles.unlink(dir, file).catch(() => rm(file, { force: true }));
      throw err;
    }
    this.logUpload(outcome, server, bytes.byteLength, seedTimeZone, skippedLineCount);
    return { ...outcome, server, replay: false, rawPath, rawStoredIn, skippedRows, skippedLineCount };
  }

  /** Throws SampleTooOldError when a row is older than the ingest horizon at `now`. */
  private async refuseTooOld(rows: readonly MetricRow[], now: number): Promise<void> {
    const months =
      this.options.hourlyRetentionMonths === undefined
        ? DEFAULT_RETENTION.hourlyMonths
        : this.options.hourlyRetentionMonths;
    let oldest = Number.POSITIVE_INFINITY;
    for (const r of rows) if (r.timestamp < oldest) oldest = r.timestamp;
    // Cheap test first: most files are far younger than any horizon.
    const computed = ingestHorizon(now, months);
    if (computed !== null && oldest < computed.horizon) {
      throw new SampleTooOldError(oldest, computed.horizon, { hourlyMonths: months, deleted: false });
    }
    if (oldest >= now - NEVER_DELETED_MS) return;
    const limit = ingestHorizon(now, months, await this.deletedBefore(now));
    if (limit !== null && oldest < limit.horizon) {
      throw new SampleTooOldError(oldest, limit.horizon, {
        hourlyMonths: months,
        deleted: limit.because === "deleted",
      });
    }
  }

  /**
   * RollupHorizons.hourly, read at most once a minute: it moves an hour per
   * retention run, and the day between the ingest horizon's margin and the
   * refresh's covers a minute-old value.
   */
  private async deletedBefore(now: number): Promise<number> {
    if (this.hourlyHorizon === null || now - this.hourlyHorizon.readAt > 60_000) {
      this.hourlyHorizon = { value: (await this.store.rollups.horizons()).hourly, readAt: now };
    }
    return this.hourlyHorizon.value;
  }

  private async requireActiveAgentToken(tokenId: string): Promise<void> {
    const record = await this.store.tokens.find("agent", tokenId);
    if (record === null || record.revokedAt !== null) throw new AgentTokenRevokedError(tokenId);
  }

  private logUpload(
    outcome: Awaited<ReturnType<Storage["ingest"]>>,
    server: string,
    bytes: number,
    seedTimeZone: string | null,
    skippedLines: number,
  ): void {
    this.options.log?.info("upload", {
      upload_id: outcome.uploadId,
      server,
      rows: outcome.rows,
      inserted: outcome.inserted,
      duplicates: outcome.duplicates,
      bytes,
      ...(seedTimeZone === null ? {} : { format: "seed", skipped_lines: skippedLines }),
    });
  }

  /**
   * Re-ingests a raw file already in received_metrics/ (for `central rebuild`)
   * under its original upload id, without rewriting it.
   */
  async ingestStoredFile(absPath: string, bytes: Uint8Array, receivedAt: number): Promise<IngestResult> {
    const rel = path.relative(this.options.dataDir, absPath).split(path.sep);
    return this.ingestStoredRaw(rel, bytes, receivedAt, absPath, "files");
  }

  /**
   * Re-ingests a raw upload kept in the database (`central rebuild` with
   * SRVUTIL_RAW_STORE=database) under its original upload id and path; the
   * raw upload itself stays where it is.
   */
  ingestStoredUpload(rawPath: string, bytes: Uint8Array, receivedAt: number): Promise<IngestResult> {
    return this.ingestStoredRaw(rawPath.split("/"), bytes, receivedAt, `raw upload ${rawPath}`, "database");
  }

  /** `label` names the file in errors: its absolute path, or the raw upload's path in the database. */
  private async ingestStoredRaw(
    rel: string[],
    bytes: Uint8Array,
    receivedAt: number,
    label: string,
    rawStoredIn: IngestResult["rawStoredIn"],
  ): Promise<IngestResult> {
    const [top, dirServer, day, name] = rel;
    const parsedName = parseRawFileName(name ?? "");
    const uploadId = parsedName?.uploadId ?? "";
    if (
      rel.length !== 4 ||
      top !== "received_metrics" ||
      dirServer === undefined ||
      serverNameProblem(dirServer) !== null ||
      !/^\d{4}-\d{2}-\d{2}$/.test(day ?? "") ||
      uploadId === ""
    ) {
      throw new InputError(`${label}: not a received_metrics/<server>/<YYYY-MM-DD>/<upload_id>.csv path`);
    }
    // A seed raw file says so in its name; one dropped in by hand is recognised by its header.
    const { rows, skippedRows, skippedLineCount } = await this.decode(bytes, Number.POSITIVE_INFINITY, {
      format: parsedName?.seedTimeZone == null ? "auto" : "seed",
      ...(parsedName?.seedTimeZone == null ? {} : { sourceTimeZone: parsedName.seedTimeZone }),
    });
    const server = singleServer(rows, dirServer);
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    const outcome = await this.store.ingest(
      { uploadId, server, receivedAt, rawPath: rel.join("/"), sha256, bytes: bytes.byteLength },
      rows,
    );
    return {
      ...outcome,
      server,
      replay: false,
      rawPath: rel.join("/"),
      rawStoredIn,
      skippedRows,
      skippedLineCount,
    };
  }

  /**
   * Startup recovery: re-ingests raw files received in the last `windowMs`
   * whose upload is missing from the database. With synchronous=NORMAL a
   * power loss can roll back the last commits although their raw files were
   * fsynced and acknowledged; this puts their rows back. It also adopts raw
   * files of uploads that crashed between rename and commit (their rows are
   * duplicates of the agent's retry, so nothing is doubled). Only the day
   * folders that can hold such files are listed, and names are filtered by
   * the receipt time they start with, so the cost does not grow with history.
   */
  async recoverRecent(windowMs: number): Promise<{ recovered: number; failed: string[] }> {
    const now = this.now();
    const since = now - windowMs;
    return this.recoverSince(since, [
      new Date(since).toISOString().slice(0, 10),
      new Date(now).toISOString().slice(0, 10),
    ]);
  }

  /**
   * After `central restore`: re-ingests the raw files received at or after
   * `since` whose upload is missing from the restored database (the uploads
   * that arrived after the backup was taken). Day folders before `since` are
   * not read.
   */
  async recoverReceivedSince(since: number): Promise<{ recovered: number; failed: string[] }> {
    return this.recoverSince(since, null);
  }

  /** `days`: the day folders to look in; null: every one from the day of `since` on. */
  private async recoverSince(
    since: number,
    days: readonly string[] | null,
  ): Promise<{ recovered: number; failed: string[] }> {
    const firstDay = new Date(since).toISOString().slice(0, 10);
    const root = this.options.receivedMetricsDir;
    const servers = await readdir(root).catch(() => [] as string[]);
    let recovered = 0;
    const failed: string[] = [];
    for (const server of servers.sort()) {
      if (serverNameProblem(server) !== null) continue;
      const serverDays =
        days ??
        (await readdir(path.join(root, server)).catch(() => [] as string[])).filter(
          (d) => /^\d{4}-\d\d-\d\d$/.test(d) && d >= firstDay,
        );
      for (const day of new Set(serverDays)) {
        const dir = path.join(root, server, day);
        const names = await readdir(dir).catch(() => [] as string[]);
        for (const name of names.sort()) {
          if (name.includes(".tmp-")) {
            // A write that never reached its rename: no 2xx was sent for it.
            await rm(path.join(dir, name), { force: true });
            continue;
          }
          const id = parseRawFileName(name)?.uploadId ?? "";
          if (!isUploadId(id) || uploadIdTime(id) < since) continue;
          if (await this.store.hasUploadId(id)) continue;
          const file = path.join(dir, name);
          try {
            await this.ingestStoredFile(file, await readFile(file), uploadIdTime(id));
            recovered++;
          } catch (err) {
            failed.push(`${file}: ${err instanceof Error ? err.message : String(err)}`);
          }
        }
      }
    }
    return { recovered, failed };
  }

  private async decode(bytes: Uint8Array, now: number, opts: IngestFileOptions): Promise<DecodedFile> {
    if (resolveFormat(bytes, opts.format ?? "v1") === "v1") {
      return { rows: await this.parse(bytes, now), skippedRows: [], skippedLineCount: 0, seedTimeZone: null };
    }
    const timeZone = opts.sourceTimeZone ?? this.options.seedTimeZone ?? "UTC";
    const { rows, skipped, skippedCount } = readSeedFile(bytes, {
      timeZone,
      now: Number.isFinite(now) ? now : Date.now(),
      maxFutureSkewMs: Number.isFinite(now) ? this.options.maxFutureSkewMs : Number.MAX_SAFE_INTEGER / 2,
      maxRows: this.options.maxRows,
    });
    return { rows, skippedRows: skipped, skippedLineCount: skippedCount, seedTimeZone: timeZone };
  }

  private async parse(bytes: Uint8Array, now: number): Promise<MetricRow[]> {
    const rows = await this.parsePool.parse(bytes, {
      // A stored file was validated when it arrived; re-checking its skew
      // against today's clock would only refuse old data.
      now: Number.isFinite(now) ? now : Date.now(),
      maxFutureSkewMs: Number.isFinite(now) ? this.options.maxFutureSkewMs : Number.MAX_SAFE_INTEGER / 2,
      maxRows: this.options.maxRows,
    });
    if (rows.length === 0) {
      throw new CsvValidationError("empty", "file has a header but no data rows", 2, null);
    }
    return rows;
  }

  /** The day directory for a server, refusing anything that would leave received_metrics/. */
  private safeDir(server: string, day: string): string {
    const problem = serverNameProblem(server);
    if (problem !== null) throw new InputError(problem);
    const root = this.options.receivedMetricsDir;
    const dir = path.join(root, server, day);
    if (path.dirname(path.dirname(dir)) !== path.resolve(root)) {
      throw new InputError(`server name '${server}' cannot be used as a directory name`);
    }
    return dir;
  }
}

/** A file checkFile read and accepted, for storeChecked. */
export interface CheckedFile {
  readonly bytes: Uint8Array;
  /** When the file was received: its upload id's time and its raw file's day. */
  readonly receivedAt: number;
  readonly server: string;
  readonly decoded: DecodedFile;
  readonly opts: IngestFileOptions;
  /** Its new mounts, held against the caps: storeChecked commits them; release() gives back what was not stored. */
  readonly mounts: MountReservation;
}

/** A file's rows as its reader gave them. */
export interface DecodedFile {
  rows: MetricRow[];
  skippedRows: SeedRowProblem[];
  skippedLineCount: number;
  /** The zone a seed file's times were read in; null for CSV v1. */
  seedTimeZone: string | null;
}

function singleServer(rows: readonly MetricRow[], expected: string | undefined): string {
  const server = expected ?? rows[0]!.server;
  for (let i = 0; i < rows.length; i++) {
    const s = rows[i]!.server;
    if (s === server) continue;
    if (expected !== undefined) throw new ServerMismatchError(expected, s, i + 1);
    throw new InputError(
      `file has rows for several servers ('${server}' and '${s}' at data row ${i + 1}); one file must hold one server`,
    );
  }
  return server;
}
