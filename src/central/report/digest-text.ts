import { DateTime } from "luxon";
import { alertsTextLines } from "./alerts-section.js";
import { attachmentStateText } from "./attachments.js";
import {
  countStatuses,
  type DigestOptions,
  type Layout,
  links,
  METRIC,
  needsAction,
  ranked,
  weekChanges,
  weekVerdict,
} from "./digest-content.js";
import { humanBytes } from "./findings.js";
import { groupsTextLines } from "./groups-section.js";
import { reportSubject } from "./render.js";
import type { WeeklyReport } from "./types.js";

/** The plain-text part: the same findings as the HTML, every server needing action listed. */
export function renderText(report: WeeklyReport, o: DigestOptions, layout: Layout): string {
  const counts = countStatuses(report);
  const needs = needsAction(report);
  const link = links(report, o);
  const lines = [
    reportSubject(report),
    "",
    weekVerdict(report),
    `Week ${report.week}, ${report.from.slice(0, 10)} to ${DateTime.fromISO(report.to, { setZone: true }).minus({ days: 1 }).toISODate()}, days in ${report.timezone}.`,
    `Servers: ${report.servers.length}: critical ${counts.critical}, silent ${counts.silent}, warning ${counts.warning}, ok ${counts.ok}.`,
    "",
  ];
  if (needs.length === 0) lines.push("Nothing needs action this week.");
  else {
    lines.push(`NEEDS ACTION (${needs.length})`);
    for (const n of needs)
      lines.push(
        `- ${n.server} [${n.status}]: ${n.reason}${link === null ? "" : ` <${link.server(n.server)}>`}`,
      );
  }
  const groups = groupsTextLines(report, link === null ? null : link.group);
  if (groups.length > 0) lines.push("", ...groups);
  const alerts = alertsTextLines(report, layout.alertRows);
  if (alerts.length > 0) lines.push("", ...alerts);
  const changes = weekChanges(report);
  if (changes.length > 0) {
    lines.push("", `CHANGES SINCE LAST WEEK (${changes.length}; percentage points)`);
    for (const c of changes.slice(0, layout.changeRows)) {
      lines.push(
        `- ${c.server} ${c.figure}: ${c.before.toFixed(1)} % -> ${c.now.toFixed(1)} % (${c.delta > 0 ? "up" : "down"} ${Math.abs(c.delta).toFixed(1)})`,
      );
    }
    if (changes.length > layout.changeRows)
      lines.push(`  and ${changes.length - layout.changeRows} more in the full report`);
  }
  for (const [title, which] of [
    ["TOP PEAK CPU PER DAY, % (Mon..Sun)", "cpu"],
    ["TOP MEMORY USED PER DAY, % average (Mon..Sun)", "memory"],
  ] as const) {
    const metric = METRIC[which];
    const order = ranked(report, which);
    if (order.length === 0) continue;
    lines.push("", title);
    for (const s of order.slice(0, layout.topN)) {
      lines.push(
        `- ${s.server}: ${s.days.map((d) => (metric(d) === null ? "-" : Math.round(metric(d)!))).join(" ")}`,
      );
    }
    const rest = order.slice(layout.topN);
    if (rest.length > 0) {
      const ok = rest.filter((s) => s.status === "ok").length;
      lines.push(
        ok === rest.length
          ? `  and ${rest.length} more servers, all OK`
          : `  and ${rest.length} more servers: ${ok} OK, ${rest.length - ok} needing action`,
      );
    }
  }
  const notes = o.attachments ?? [];
  if (notes.length > 0 || link !== null) {
    lines.push("", "THE FULL REPORT");
    if (link !== null) lines.push(`Dashboard: ${link.report}`);
    for (const n of notes) {
      lines.push(
        `- ${n.label}: ${n.filename} (${attachmentStateText(n)})${n.detail === undefined ? "" : `. ${n.detail}`}`,
      );
    }
  }
  lines.push(
    "",
    `Disk figures count used / (used + free), as df does; ${humanBytes(1024 ** 3)} = 1024^3 bytes.`,
    `Generated ${report.generated_at} by srvutil.`,
  );
  return `${lines.join("\n")}\n`;
}
