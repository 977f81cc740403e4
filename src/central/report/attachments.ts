import { dailyCsv } from "./daily-csv.js";
import { renderReport } from "./render.js";
import type { WeeklyReport } from "./types.js";
import { zipOneFile } from "./zip.js";

/** A file attached to the report email (not shown inline). */
export interface ReportAttachment {
  filename: string;
  contentType: string;
  content: Buffer;
}

/**
 * What happened to one of the three full-report files, for the digest to
 * say: attached as is, attached zip-compressed, trimmed to fit (HTML: fewer
 * full server sections, then zipped), or omitted (even zipped it is over the cap).
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
  /** Dashboard base URL: the full report's "By group" links each group's report. */
  publicUrl?: string | null;
}

export interface ReportAttachments {
  attachments: ReportAttachment[];
  notes: AttachmentNote[];
}

/** A file as attached: as is when it fits the cap, else as a one-file ZIP when that fits, else nothing. */
interface Packed {
  attachment: ReportAttachment | null;
  zipped: boolean;
  /** The ZIP's size when one was made (also when it did not fit). */
  zipBytes?: number;
}

/**
 * How many times the cap a file may be for zipping it to be worth trying:
 * deflate shrinks the Report JSON and the CSV 5–7×, the HTML (repetitive
 * markup and SVG) 15–50× (bench:email). Zipping 50 MB to learn it does not
 * fit would cost seconds.
 */
const WORTH_ZIPPING = { data: 10, html: 60 } as const;

function pack(
  filename: string,
  contentType: string,
  raw: Buffer,
  cap: number,
  modified: Date,
  kind: keyof typeof WORTH_ZIPPING,
): Packed {
  if (raw.length <= cap) return { attachment: { filename, contentType, content: raw }, zipped: false };
  if (raw.length > cap * WORTH_ZIPPING[kind]) return { attachment: null, zipped: false };
  const zip = zipOneFile(filename, raw, modified);
  if (zip.length > cap) return { attachment: null, zipped: false, zipBytes: zip.length };
  return {
    attachment: { filename: `${filename}.zip`, contentType: "application/zip", content: zip },
    zipped: true,
    zipBytes: zip.length,
  };
}

/**
 * The full report travelling with the digest: the standalone HTML (inline
 * SVG charts), the Report JSON and the daily CSV, each within `maxBytes`.
 * Above the cap a file is sent as a one-file ZIP (report files deflate 6–50×);
 * the HTML, if even zipped it is over, is re-rendered with fewer full server
 * sections (every server keeps its line); the JSON and the CSV are never cut
 * (a truncated data file would silently mislead), so what still does not fit
 * is left out. Every such step is reported in `notes`.
 */
export async function reportAttachments(
  report: WeeklyReport,
  options: AttachmentOptions,
): Promise<ReportAttachments> {
  const attachments: ReportAttachment[] = [];
  const notes: AttachmentNote[] = [];
  const cap = options.maxBytes;
  const modified = new Date(report.generated_at);

  const htmlName = `${options.baseName}.html`;
  const html = await standaloneWithinCap(
    report,
    htmlName,
    cap,
    modified,
    options.fullReportHint,
    options.publicUrl ?? null,
  );
  if (html.attachment !== null) attachments.push(html.attachment);
  notes.push({
    label: "Full report (HTML, opens offline in any browser)",
    filename: html.attachment?.filename ?? htmlName,
    state:
      html.attachment === null
        ? "omitted"
        : html.detailed < html.wanted
          ? "trimmed"
          : html.attachment.filename.endsWith(".zip")
            ? "compressed"
            : "attached",
    bytes: html.attachment?.content.length ?? 0,
    fullBytes: html.fullBytes,
    ...(html.attachment === null
      ? {
          detail: `Not attached: even without per-server sections and zipped it is over the ${mb(cap)} attachment limit (${mb(html.fullBytes)} uncompressed). ${options.fullReportHint}`,
        }
      : html.detailed < html.wanted
        ? {
            detail: `Full sections for the ${html.detailed} servers needing attention most (of ${html.wanted}) to stay under the ${mb(cap)} attachment limit; every server keeps its line in "Other servers". ${options.fullReportHint}`,
          }
        : html.attachment.filename.endsWith(".zip")
          ? {
              detail: `Zip-compressed (${mb(html.fullBytes)} uncompressed) to stay under the ${mb(cap)} attachment limit; open the .zip to read it.`,
            }
          : {}),
  });

  const data: [string, string, string, string][] = [
    ["Report JSON", `${options.baseName}.json`, "application/json", `${JSON.stringify(report)}\n`],
    ["Daily figures (CSV)", `${options.baseName}-daily.csv`, "text/csv; charset=utf-8", dailyCsv(report)],
  ];
  for (const [label, filename, contentType, text] of data) {
    const raw = Buffer.from(text);
    const packed = pack(filename, contentType, raw, cap, modified, "data");
    if (packed.attachment !== null) {
      attachments.push(packed.attachment);
      notes.push({
        label,
        filename: packed.attachment.filename,
        state: packed.zipped ? "compressed" : "attached",
        bytes: packed.attachment.content.length,
        fullBytes: raw.length,
        ...(packed.zipped
          ? {
              detail: `Zip-compressed (${mb(raw.length)} uncompressed) to stay under the ${mb(cap)} attachment limit; open the .zip to read it.`,
            }
          : {}),
      });
      continue;
    }
    notes.push({
      label,
      filename,
      state: "omitted",
      bytes: 0,
      fullBytes: raw.length,
      detail: `Not attached: ${mb(raw.length)}${packed.zipBytes === undefined ? "" : ` (${mb(packed.zipBytes)} zipped)`} is over the ${mb(cap)} attachment limit even zipped. ${options.fullReportHint}`,
    });
  }
  return { attachments, notes };
}

/** How the digest names a note's state: "attached, zipped, 812 KB", "NOT ATTACHED". */
export function attachmentStateText(n: AttachmentNote): string {
  if (n.state === "omitted") return "NOT ATTACHED";
  const zipped = n.filename.endsWith(".zip") ? ", zipped" : "";
  return `${n.state === "trimmed" ? "attached, trimmed" : "attached"}${zipped}, ${mb(n.bytes)}`;
}

/** Sizes for readers: "1.2 MB" (decimal, as mail clients show attachment sizes). */
export function mb(bytes: number): string {
  if (bytes < 1_000_000) return `${Math.max(1, Math.round(bytes / 1000))} KB`;
  return `${(bytes / 1_000_000).toFixed(1)} MB`;
}

/**
 * The standalone HTML with as many full server sections as fit under the
 * cap, as is or zipped: a render without sections gives the fixed part, a
 * sample render the size per section (raw and zipped); a few re-renders
 * settle on a count that fits.
 */
async function standaloneWithinCap(
  report: WeeklyReport,
  filename: string,
  cap: number,
  modified: Date,
  hint: string,
  publicUrl: string | null,
): Promise<{ attachment: ReportAttachment | null; detailed: number; wanted: number; fullBytes: number }> {
  const wanted = Math.min(report.servers.length, 1000);
  const render = async (detailed: number, notice?: string): Promise<Buffer> =>
    Buffer.from(
      (
        await renderReport(report, "standalone", {
          maxDetailedServers: detailed,
          publicUrl,
          ...(notice !== undefined ? { notice } : {}),
        })
      ).html,
    );
  const packHtml = (html: Buffer): ReportAttachment | null =>
    pack(filename, "text/html; charset=utf-8", html, cap, modified, "html").attachment;
  const zipped = (html: Buffer): number => zipOneFile(filename, html, modified).length;

  // The fixed part (header, heatmaps, one line per server) first: at very
  // large fleets it alone is over the cap even zipped, and nothing more is rendered.
  const base = await render(0);
  const baseFit = packHtml(base);
  if (baseFit === null) return { attachment: null, detailed: 0, wanted, fullBytes: base.length };
  if (wanted === 0) return { attachment: baseFit, detailed: 0, wanted, fullBytes: base.length };
  // The size of a full section from a sample, so a large fleet is not rendered whole just to learn it is too big.
  const sample = Math.min(wanted, 20);
  const sampled = await render(sample);
  if (sample === wanted) {
    const whole = packHtml(sampled);
    if (whole !== null) return { attachment: whole, detailed: wanted, wanted, fullBytes: sampled.length };
  }
  const perSection = (sampled.length - base.length) / sample;
  const baseZip = base.length <= cap ? zipped(base) : baseFit.content.length;
  const perSectionZip = Math.max(1, (zipped(sampled) - baseZip) / sample);
  const fullBytes = Math.round(base.length + perSection * wanted);
  if (sample < wanted && Math.min(fullBytes, baseZip + perSectionZip * wanted) * 1.05 <= cap) {
    const full = await render(wanted);
    const whole = packHtml(full);
    if (whole !== null) return { attachment: whole, detailed: wanted, wanted, fullBytes: full.length };
  }
  // Trimmed copies travel zipped when they are over the cap as is, so the zipped size per section decides.
  const rawRoom = perSection > 0 ? (cap - base.length) / perSection : 0;
  const zipRoom = (cap - baseZip) / perSectionZip;
  let detailed = Math.floor(Math.max(rawRoom, zipRoom) * 0.95);
  detailed = Math.min(detailed, wanted - 1);
  for (let attempt = 0; attempt < 6 && detailed > 0; attempt++) {
    const notice = `This copy has full sections for the ${detailed} servers needing attention most (of ${report.servers.length}) to fit the mail's attachment limit. ${hint}`;
    const trimmed = packHtml(await render(detailed, notice));
    if (trimmed !== null) return { attachment: trimmed, detailed, wanted, fullBytes };
    detailed = Math.floor(detailed * 0.8);
  }
  return { attachment: baseFit, detailed: 0, wanted, fullBytes };
}
