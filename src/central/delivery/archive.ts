import { dailyCsv, renderReport, type WeeklyReport } from "../report/index.js";
import type { ArchivedReport } from "../storage/report-archive-store.js";
import type { ComposedReport } from "./composer.js";

/**
 * The archive entry of one composed report email (stored by the composer in
 * `storage.reports`, served by the dashboard at /reports/<week>): the body as
 * sent and the complete report files. The HTML attachment is reused when it
 * went out whole; a trimmed or omitted one is rendered in full here, since
 * the archive has no attachment limit.
 */
export async function archiveEntry(
  report: WeeklyReport,
  mail: ComposedReport,
  group: string,
  now: number,
  /** Dashboard base URL, for the links of a report rendered here (as the attached one has them). */
  publicUrl: string | null = null,
): Promise<ArchivedReport> {
  const note = mail.attachmentNotes?.find((n) => n.filename.endsWith(".html"));
  const attached = mail.attachments?.find((a) => a.filename === note?.filename);
  const reportHtml =
    attached !== undefined && note?.state === "attached"
      ? attached.content.toString("utf8")
      : (await renderReport(report, "standalone", { publicUrl })).html;
  const reasons = new Map((report.fleet?.needs_action ?? []).map((n) => [n.server, n.reason]));
  return {
    week: report.week,
    group,
    createdAt: now,
    subject: mail.subject,
    servers: report.servers.length,
    needingAction: mail.needingAction ?? report.servers.filter((s) => s.status !== "ok").length,
    digestHtml: mail.html,
    reportHtml,
    json: `${JSON.stringify(report)}\n`,
    csv: dailyCsv(report),
    serverRows: report.servers.map((s) => ({
      server: s.server,
      status: s.status,
      reason: reasons.get(s.server) ?? null,
      findings: s.findings,
      forecasts: s.forecasts ?? [],
    })),
  };
}
