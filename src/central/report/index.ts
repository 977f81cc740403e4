// OWNER: report helper. Signatures are a contract used by the CLI, demo and delivery code.
import type { MetricsStore } from "../storage/store.js";
import type { WeeklyReport } from "./types.js";

export type * from "./types.js";

export interface BuildReportOptions {
  /** "2026-W47" or "last". */
  week: string;
  timeZone: string;
  /** Only servers for which this returns true (report groups). Default: all. */
  includeServer?: (server: string) => boolean;
  /** Clock for "last" and generated_at (tests inject it). */
  now?: number;
}

/** Aggregates one ISO week per server and per local day (Report JSON v1). */
export async function buildWeeklyReport(
  store: MetricsStore,
  options: BuildReportOptions,
): Promise<WeeklyReport> {
  void store;
  void options;
  throw new Error("buildWeeklyReport: not implemented yet");
}

export interface InlineImage {
  /** Content-ID referenced as cid:… in the email HTML. */
  cid: string;
  filename: string;
  contentType: string;
  content: Buffer;
}

export interface RenderedReport {
  subject: string;
  html: string;
  text: string;
  /** Images the email HTML references by cid:; empty for the standalone HTML. */
  images: InlineImage[];
}

/**
 * Renders the report. "standalone": one self-contained HTML file (images
 * inline as data: URIs). "email": HTML referencing cid: images plus the images.
 */
export async function renderReport(
  report: WeeklyReport,
  mode: "standalone" | "email",
): Promise<RenderedReport> {
  void report;
  void mode;
  throw new Error("renderReport: not implemented yet");
}
