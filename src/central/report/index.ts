// buildWeeklyReport(store, options) and renderReport(report, mode) are the entry points.

export { type BuildReportOptions, buildWeeklyReport } from "./build.js";
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
