import path from "node:path";
import { ConfigError, UnavailableError } from "../../errors.js";
import type { Storage } from "../storage/store.js";
import { type BulkProgress, type RebuildSummary, rebuildFromRaw } from "./bulk.js";
import type { IngestService } from "./ingest-service.js";
import { parseRawFileName } from "./seed/format.js";
import { isUploadId } from "./upload-id.js";

/**
 * `central rebuild`: re-derives samples and uploads from the raw uploads,
 * from wherever they are kept, and refuses whenever that would lose data:
 *
 * - while any `central serve` is running on the database (its heartbeat is
 *   fresh): its uploads during the rebuild would land between the clear and
 *   the reload;
 * - on a shared database (PostgreSQL) with raw files on local disks
 *   (SRVUTIL_RAW_STORE=files): this instance's received_metrics/ holds only
 *   the uploads it took itself, so clearing and reloading from it would
 *   delete every other instance's;
 * - with raw uploads in the database, when some stored uploads have no raw
 *   copy there (received before SRVUTIL_RAW_STORE=database);
 * - with raw files, when some stored uploads have no file in
 *   received_metrics/ (a restored machine without its copy, a missing or
 *   pruned folder), unless `acceptLoss` says to go on anyway.
 *
 * With raw uploads in the database every instance's uploads are there, so
 * rebuilding from them keeps everyone's data.
 */

/** `central rebuild` cannot run now without losing data; the message says why and what to do. */
export class RebuildRefusedError extends UnavailableError {}

export interface RebuildOptions {
  rawStore: "files" | "database";
  receivedMetricsDir: string;
  progress?: BulkProgress;
  now?: () => number;
  /** Rebuild from the raw files found even when some stored uploads have none (their samples are lost). */
  acceptLoss?: boolean;
}

/** Raw uploads read from the database per page. */
const PAGE = 200;

export async function rebuildCentral(
  store: Storage,
  ingest: IngestService,
  o: RebuildOptions,
): Promise<RebuildSummary> {
  const live = await store.coordination.liveInstances((o.now ?? Date.now)());
  if (live.length > 0) {
    throw new RebuildRefusedError(
      `central rebuild: ${live.length} central serve instance${live.length === 1 ? " is" : "s are"} running on this database (${live.map((i) => i.description).join("; ")}); uploads they take during a rebuild would be lost. Stop every instance first (a killed one drops off within 30 s), then run the rebuild again.`,
    );
  }
  if (o.rawStore === "files") {
    if (store.capabilities.shared) {
      throw new ConfigError(
        "SRVUTIL_RAW_STORE=files: central rebuild refuses on a shared database (PostgreSQL) with raw files on local disks: this instance's received_metrics/ holds only the uploads it took, and rebuilding would delete every other instance's samples. Keep raw uploads in the database (SRVUTIL_RAW_STORE=database or auto, see docs/scaling.md); to add files from a disk, use `central import <dir>`, which adds without deleting.",
      );
    }
    return rebuildFromRaw(store, ingest, o.receivedMetricsDir, {
      ...(o.progress ? { progress: o.progress } : {}),
      ...(o.acceptLoss ? {} : { beforeClear: (files) => refuseUnlessEveryUploadHasItsFile(store, files, o) }),
    });
  }
  return rebuildFromDatabase(store, ingest, o.progress);
}

/** Counts the stored uploads whose raw file is among `files`; fewer than all of them would be lost. */
async function refuseUnlessEveryUploadHasItsFile(
  store: Storage,
  files: readonly string[],
  o: RebuildOptions,
): Promise<void> {
  const stored = await store.uploadCount();
  if (stored === 0) return;
  let present = 0;
  for (const file of files) {
    const id = parseRawFileName(path.basename(file))?.uploadId;
    if (id !== undefined && isUploadId(id) && (await store.hasUploadId(id))) present++;
  }
  if (present >= stored) return;
  const lost = stored - present;
  throw new RebuildRefusedError(
    `central rebuild: ${lost} of ${stored} stored upload${stored === 1 ? "" : "s"} ${lost === 1 ? "has" : "have"} no raw file in ${o.receivedMetricsDir}; a rebuild clears every sample first and would lose theirs. Put the missing files back (the received_metrics/ copy from the old machine), leave the data as it is, or run \`central rebuild --accept-loss\` to rebuild from the files there are.`,
  );
}

async function rebuildFromDatabase(
  store: Storage,
  ingest: IngestService,
  progress: BulkProgress | undefined,
): Promise<RebuildSummary> {
  const missing = await store.rawUploads.uploadsWithoutRaw();
  if (missing > 0) {
    throw new ConfigError(
      `SRVUTIL_RAW_STORE=database: ${missing} stored upload${missing === 1 ? " has" : "s have"} no raw copy in the database (received while raw files were kept on disk); a rebuild from the database would delete their samples. Leave the data as it is, or set SRVUTIL_RAW_STORE=files on the single machine that holds every raw file in its received_metrics/.`,
    );
  }
  const total = await store.rawUploads.count();
  await store.clearIngestedData();
  const summary: RebuildSummary = {
    files: total,
    rebuilt: 0,
    failed: [],
    rows: 0,
    inserted: 0,
    skippedLines: 0,
  };
  let after: string | null = null;
  let done = 0;
  for (;;) {
    const page = await store.rawUploads.page(after, PAGE);
    if (page.length === 0) break;
    for (const raw of page) {
      try {
        const result = await ingest.ingestStoredUpload(raw.rawPath, raw.bytes, raw.receivedAt);
        summary.rebuilt++;
        summary.rows += result.rows;
        summary.inserted += result.inserted;
        summary.skippedLines += result.skippedLineCount;
      } catch (err) {
        summary.failed.push({ file: raw.rawPath, error: err instanceof Error ? err.message : String(err) });
      }
      progress?.update(++done, total, summary.rows);
    }
    after = page[page.length - 1]!.uploadId;
  }
  progress?.finish();
  return summary;
}
