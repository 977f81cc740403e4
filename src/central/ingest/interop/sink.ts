import type { AutomationLog } from "../../automation-log.js";
import type { Storage } from "../../storage/store.js";
import type { IngestService } from "../ingest-service.js";
import type { InteropSource, InteropWriter, PointGroup } from "./point-group.js";

/** What one accepted batch came to. */
export interface InteropBatchResult {
  /** Samples (server, timestamp) the batch gave, stored now or already stored. */
  samples: number;
  /** CSV v1 rows of those samples (one per mount). */
  rows: number;
  /** Rows newly stored; the rest were already there (a replay changes nothing). */
  inserted: number;
  /** The servers written, sorted. */
  servers: string[];
  /** Groups whose CPU counters had no earlier value yet (a server's first group primes them). */
  primed: number;
  /** Groups that gave no sample because a family was missing, the first 100. */
  incomplete: { server: string; timestamp: number; missing: string[] }[];
}

export interface InteropSinkOptions {
  ingest: IngestService;
  store: Storage;
  log?: AutomationLog | null;
}

/**
 * The one way every foreign input stores what it decoded: PointGroups become
 * CSV v1 rows and go through IngestService.ingestFile, one file per server
 * and batch, so each keeps a raw CSV v1 file, the too-old and mount checks,
 * idempotence and all-or-nothing. Implemented in the next commit.
 */
export class InteropSink {
  constructor(readonly options: InteropSinkOptions) {}

  /**
   * Stores a decoded batch. Refuses the whole batch before storing any of it:
   * 403 (reason forbidden_server) when `writer` may not write a server it names,
   * 400 (reason bad_request) for an invalid server name, 400 (reason
   * missing_families) when no group gives a sample and some lack a family.
   */
  async accept(
    _groups: readonly PointGroup[],
    _source: InteropSource,
    _writer: InteropWriter,
  ): Promise<InteropBatchResult> {
    throw new Error("InteropSink.accept: not implemented yet");
  }
}
