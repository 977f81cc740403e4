import type { AgentUpdateStore } from "./agent-update-store.js";
import type { AlertStore } from "./alert-store.js";
import type { CoordinationStore } from "./coordination-store.js";
import type { CpuBaselineStore } from "./cpu-baseline-store.js";
import type { DashboardReads } from "./dashboard-reads.js";
import type { DeliveryStore } from "./delivery-store.js";
import type { EnrolmentStore } from "./enrolment-store.js";
import type { AppliedMigration } from "./migration-log.js";
import type { RawUploadStore } from "./raw-upload-store.js";
import type { ReportArchiveStore } from "./report-archive-store.js";
import type { RetentionStore } from "./retention-store.js";
import type { RollupStore } from "./rollups/port.js";
import type { SampleStore } from "./sample-store.js";
import type { ScrapeStatusStore } from "./scrape-status-store.js";
import type { ServerInputStore } from "./server-input-store.js";
import type { TagStore } from "./tag-store.js";
import type { TokenStore } from "./token-store.js";
import type { UserStore } from "./user-store.js";

export type {
  EnrolmentLogEntry,
  EnrolmentStore,
  EnrolmentTokenRecord,
  RedeemOutcome,
} from "./enrolment-store.js";
export type {
  IngestAnswer,
  IngestOutcome,
  SampleQuery,
  SampleStore,
  ServerSummary,
  StoredUpload,
  UploadRecord,
} from "./sample-store.js";
export { AgentTokenRevokedError } from "./sample-store.js";
export type { AgentTokenRecord, TokenRole, TokenStore, TokenUse } from "./token-store.js";

/**
 * The storage port of the central server: everything the central keeps, on
 * SQLite (the embedded default) or PostgreSQL (several central instances).
 * `openStorage` (./open.ts) is the one place that picks the backend; nothing
 * outside storage/ knows which one runs (it asks `capabilities`). Every
 * method is async because PostgreSQL is.
 *
 * The port is a handle (StorageHandle) plus one part per kind of data, each
 * its own interface in its own file:
 *
 * | part | where | what |
 * |---|---|---|
 * | samples | `store.ingest`, `store.samples`, … (./sample-store.ts) | uploads and their rows |
 * | tokens | `store.tokens` (./token-store.ts) | agent, viewer and relay tokens, keyed by role |
 * | CPU baselines | `store.cpuBaselines` (./cpu-baseline-store.ts) | the last CPU counters of each foreign input per server |
 * | rollups | `store.rollups` (./rollups/port.ts) | hourly and daily rollups of the samples |
 * | deliveries | `store.deliveries` (./delivery-store.ts) | report deliveries per (week, group) |
 * | raw uploads | `store.rawUploads` (./raw-upload-store.ts) | uploaded files kept in the database |
 * | coordination | `store.coordination` (./coordination-store.ts) | job leases, instance heartbeats |
 * | scrape status | `store.scrapeStatus` (./scrape-status-store.ts) | each scrape target's state (up, down and why) |
 * | server inputs | `store.serverInputs` (./server-input-store.ts) | what feeds each server; its agent's release, OS, last refused upload |
 * | tags | `store.tags` (./tag-store.ts) | server tags from agents and the central, with their history |
 * | users | `store.users` (./user-store.ts) | dashboard users, sessions, sign-in throttle |
 * | reports | `store.reports` (./report-archive-store.ts) | weekly reports as sent |
 * | retention | `store.retention` (./retention-store.ts) | pruning of raw samples |
 * | dashboard | `store.dashboard` (./dashboard-reads.ts) | the dashboard's batched reads of the rollups |
 * | alerts | `store.alerts` (./alert-store.ts) | alert episodes, their notification outbox, silences, the rules' reads |
 * | enrolments | `store.enrolments` (./enrolment-store.ts) | enrolment tokens and the enrolment log |
 * | agent updates | `store.agentUpdates` (./agent-update-store.ts) | the auto-update policy of the fleet and each group |
 *
 * The samples part sits on the handle itself: it is what ingest and every
 * reader use, and `store.samples(query)` reads them.
 */
export interface Storage extends StorageHandle, SampleStore {
  /** Agent, viewer and relay tokens, keyed by role. */
  readonly tokens: TokenStore;
  /** The last CPU counters each foreign input gave per server. */
  readonly cpuBaselines: CpuBaselineStore;
  /** Hourly and daily rollups of the samples. */
  readonly rollups: RollupStore;
  /** Report deliveries per (week, group). */
  readonly deliveries: DeliveryStore;
  /** Raw uploads kept in the database (SRVUTIL_RAW_STORE=database). */
  readonly rawUploads: RawUploadStore;
  /** Job leases and instance heartbeats shared by every instance. */
  readonly coordination: CoordinationStore;
  /** Each scrape target's state, written by the instance that scrapes it. */
  readonly scrapeStatus: ScrapeStatusStore;
  /** What feeds each server, its agent's identity and last refused upload. */
  readonly serverInputs: ServerInputStore;
  /** Server tags (agent-declared and the central's), with intervals of validity. */
  readonly tags: TagStore;
  /** Dashboard users, sessions, login throttle. */
  readonly users: UserStore;
  /** Weekly reports as sent. */
  readonly reports: ReportArchiveStore;
  /** Pruning of the raw samples past the retention horizon. */
  readonly retention: RetentionStore;
  /** The dashboard's batched reads. */
  readonly dashboard: DashboardReads;
  /** Alert episodes, the notifications waiting for their channel, silences, and the rules' reads. */
  readonly alerts: AlertStore;
  /** Enrolment tokens (a new server fetches its own agent token) and the enrolment log. */
  readonly enrolments: EnrolmentStore;
  /** The auto-update policy: the fleet's setting and each group's, with who set it and when. */
  readonly agentUpdates: AgentUpdateStore;
}

/** The storage as a whole: which backend, what it can do, its schema and connection. */
export interface StorageHandle {
  /**
   * Names the backend in logs and messages. Code outside storage/ never
   * branches on it: it asks `capabilities`, or a method does the
   * backend-specific thing.
   */
  readonly kind: "sqlite" | "postgres";
  /** What the backend can do, for the callers whose behaviour depends on it. */
  readonly capabilities: StorageCapabilities;
  /**
   * How another thread opens this storage to read it (./alert-reader.ts);
   * null when it cannot (an in-memory SQLite database). Opaque outside
   * storage/: callers only pass it on.
   */
  readonly readerSpec: StorageReaderSpec | null;
  /** Creates or upgrades the schema of every part (versioned migrations). Idempotent. */
  init(): Promise<void>;
  /** The migrations this handle's init() applied (empty when the schema was current). */
  appliedMigrations(): readonly AppliedMigration[];
  close(): Promise<void>;
  /** True when the database answers within a few seconds (for /readyz). */
  ping(): Promise<boolean>;
}

/** A structured-cloneable description of where the storage is (StorageHandle.readerSpec). */
export type StorageReaderSpec =
  | { readonly backend: "sqlite"; readonly file: string }
  | { readonly backend: "postgres"; readonly connectionString: string; readonly schema: string | null };

export interface StorageCapabilities {
  /**
   * Several central instances can share this storage (a server database, not
   * a local file): raw uploads then belong in the database, and a rebuild from
   * one instance's local raw files would lose the others' uploads.
   */
  readonly shared: boolean;
}
