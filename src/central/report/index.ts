// buildWeeklyReport(store, options) and renderReport(report, mode) are the entry points.

export {
  type AttachmentNote,
  type AttachmentOptions,
  type ReportAttachment,
  type ReportAttachments,
  reportAttachments,
} from "./attachments.js";
export { type BuildReportOptions, buildWeeklyReport } from "./build.js";
export { csvText, DAILY_CSV_COLUMNS, dailyCsv } from "./daily-csv.js";
export {
  DIGEST_DEFAULTS,
  type DigestOptions,
  type RenderedDigest,
  renderDigest,
  weekChanges,
  weekVerdict,
} from "./digest.js";
export { type GroupMembership, groupFigures } from "./groups-section.js";
export {
  escapeHtml,
  type InlineImage,
  type RenderedReport,
  type RenderOptions,
  renderReport,
  reportSubject,
} from "./render.js";
export {
  DEFAULT_THRESHOLDS,
  resolveThresholds,
  ThresholdConfigError,
} from "./thresholds.js";
export type * from "./types.js";
