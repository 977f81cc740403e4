import { gzipSync } from "node:zlib";
import { dailyCsv } from "./daily-csv.js";
import { renderReport } from "./render.js";
import type { WeeklyReport } from "./types.js";

/** A file attached to the report email (not shown inline). */
export interface ReportAttachment {
  filename: string;
  contentType: string;
  content: Buffer;
}

/**
 * What happened to one of the three full-report files, for the digest to
 * say: attached as is, attached gzip-compressed, trimmed to fit (HTML:
 * fewer full server sections), or omitted (even compressed it is over the cap).
 */
export interface AttachmentNote {
  /** What the file is, e.g. "Full report (HTML)". */
  label: string;
  /** File name as attached, or as it would have been. */
  filename: string;
  state: "attached" | "compressed" | "trimmed" | "omitted";
  /** Bytes attached (0 when omitted). */
  bytes: number;
  /** Bytes of the complete, uncompressed file. */
  fullBytes: number;
  /** One sentence for the reader when the file is not attached whole. */
  detail?: string;
}

export interface AttachmentOptions {
  /** Largest attachment in bytes, before the mail's base64 encoding (which adds a third). */
  maxBytes: number;
  /** File name stem, e.g. "srvutil-2026-W47" or "srvutil-2026-W47-web". */
  baseName: string;
  /** How a reader gets the complete files when one is not attached (a CLI line or a link). */
  fullReportHint: string;
}

export interface ReportAttachments {
  attachments: ReportAttachment[];
  notes: AttachmentNote[];
}

/**
 * The full report travelling with the digest: the standalone HTML (inline
 * SVG charts), the Report JSON and the daily CSV, each within `maxBytes`.
 * Above the cap: the HTML is re-rendered with fewer full server sections
 * (every server keeps its line); the JSON and the CSV are sent gzip-
 * compressed, never cut (a truncated data file would silently mislead); what
 * still does not fit is left out. Every such step is reported in `notes`.
 */
export async function reportAttachments(
  report: WeeklyReport,
  options: AttachmentOptions,
): Promise<ReportAttachments> {
  const attachments: ReportAttachment[] = [];
  const notes: AttachmentNote[] = [];
  const cap = options.maxBytes;

  const html = await standaloneWithinCap(report, cap, options.fullReportHint);
  const htmlName = `${options.baseName}.html`;
  if (html.content !== null) {
    attachments.push({ filename: htmlName, contentType: "text/html; charset=utf-8", content: html.content });
  }
  notes.push({
    label: "Full report (HTML, opens offline in any browser)",
    filename: htmlName,
    state: html.content === null ? "omitted" : html.detailed < html.wanted ? "trimmed" : "attached",
    bytes: html.content?.length ?? 0,
    fullBytes: html.fullBytes,
    ...(html.content === null
      ? {
          detail: `Not attached: even without per-server sections it is ${mb(html.fullBytes)}, over the ${mb(cap)} attachment limit. ${options.fullReportHint}`,
        }
      : html.detailed < html.wanted
        ? {
            detail: `Full sections for the ${html.detailed} servers needing attention most (of ${html.wanted}) to stay under the ${mb(cap)} attachment limit; every server keeps its line in "Other servers". ${options.fullReportHint}`,
          }
        : {}),
  });

  const data: [string, string, string, string][] = [
    ["Report JSON", `${options.baseName}.json`, "application/json", `${JSON.stringify(report)}\n`],
    ["Daily figures (CSV)", `${options.baseName}-daily.csv`, "text/csv; charset=utf-8", dailyCsv(report)],
  ];
  for (const [label, filename, contentType, text] of data) {
    const raw = Buffer.from(text);
    if (raw.length <= cap) {
      attachments.push({ filename, contentType, content: raw });
      notes.push({ label, filename, state: "attached", bytes: raw.length, fullBytes: raw.length });
      continue;
    }
    // Report JSON and CSV shrink 5–10× with gzip; past 20× the cap trying is wasted time.
    const gz = raw.length <= cap * 20 ? gzipSync(raw, { level: 6 }) : null;
    if (gz !== null && gz.length <= cap) {
      attachments.push({ filename: `${filename}.gz`, contentType: "application/gzip", content: gz });
      notes.push({
        label,
        filename: `${filename}.gz`,
        state: "compressed",
        bytes: gz.length,
        fullBytes: raw.length,
        detail: `Gzip-compressed (${mb(raw.length)} uncompressed) to stay under the ${mb(cap)} attachment limit.`,
      });
      continue;
    }
    notes.push({
      label,
      filename,
      state: "omitted",
      bytes: 0,
      fullBytes: raw.length,
      detail: `Not attached: ${mb(raw.length)}${gz === null ? "" : ` (${mb(gz.length)} compressed)`} is over the ${mb(cap)} attachment limit even compressed. ${options.fullReportHint}`,
    });
  }
  return { attachments, notes };
}

/** Sizes for readers: "1.2 MB" (decimal, as mail clients show attachment sizes). */
export function mb(bytes: number): string {
  if (bytes < 1_000_000) return `${Math.max(1, Math.round(bytes / 1000))} KB`;
  return `${(bytes / 1_000_000).toFixed(1)} MB`;
}

/**
 * The standalone HTML with as many full server sections as fit under the
 * cap: a render without sections gives the fixed part, a full render the
 * size per section; a few re-renders settle on a count that fits.
 */
async function standaloneWithinCap(
  report: WeeklyReport,
  cap: number,
  hint: string,
): Promise<{ content: Buffer | null; detailed: number; wanted: number; fullBytes: number }> {
  const wanted = Math.min(report.servers.length, 1000);
  const render = async (detailed: number, notice?: string): Promise<Buffer> =>
    Buffer.from(
      (
        await renderReport(report, "standalone", {
          maxDetailedServers: detailed,
          ...(notice !== undefined ? { notice } : {}),
        })
      ).html,
    );
  // The fixed part (header, heatmaps, one line per server) first: at tens of
  // thousands of servers it alone is over the cap, and nothing more is rendered.
  const base = await render(0);
  if (base.length > cap) return { content: null, detailed: 0, wanted, fullBytes: base.length };
  // The size of a full section from a sample, so a large fleet is not rendered whole just to learn it is too big.
  const sample = Math.min(wanted, 20);
  const sampled = sample === wanted ? null : await render(sample);
  const perSection = sampled === null ? 0 : (sampled.length - base.length) / sample;
  if (sampled === null || base.length + perSection * wanted * 1.05 <= cap) {
    const full = await render(wanted);
    if (full.length <= cap) return { content: full, detailed: wanted, wanted, fullBytes: full.length };
  }
  const fullBytes = Math.round(base.length + perSection * wanted);
  let detailed = perSection > 0 ? Math.floor(((cap - base.length) / perSection) * 0.95) : 0;
  detailed = Math.min(detailed, wanted - 1);
  for (let attempt = 0; attempt < 6 && detailed > 0; attempt++) {
    const notice = `This copy has full sections for the ${detailed} servers needing attention most (of ${report.servers.length}) to fit the mail's attachment limit. ${hint}`;
    const html = await render(detailed, notice);
    if (html.length <= cap) return { content: html, detailed, wanted, fullBytes };
    detailed = Math.floor(detailed * 0.8);
  }
  return { content: base, detailed: 0, wanted, fullBytes };
}
