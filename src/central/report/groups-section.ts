import { shortWords } from "./alerts-section.js";
import { escapeHtml as e } from "./escape.js";
import type { GroupFigures, ServerReport, ServerStatus, WeeklyReport } from "./types.js";

/**
 * "By group" (issue 30, docs/report.md): the whole-fleet report's servers by
 * configured group, so the reader of the fleet's email sees which team's
 * servers need action and opens that group's own report. Drawn in the email
 * digest (HTML and text) and in the full report from `report.groups`; absent
 * when no group is configured and in a group's own report. Server names and
 * reasons come from agents, group names from the groups file: every one goes
 * through escapeHtml in HTML and oneLine in text.
 */

export const GROUPS_TITLE = "By group";
export const GROUPS_NOTE =
  "Servers by group, as each server was tagged during the week. A server in several groups counts in each; the last row counts the servers in no group.";
export const NO_GROUP = "in no group";

/** A group as the report sees it: its name and whether a server (with its tags of the week) is in it. */
export interface GroupMembership {
  name: string;
  includes(server: string): boolean;
}

const RANK: Record<ServerStatus, number> = { critical: 0, silent: 1, warning: 2, ok: 3 };

/** The figures of each group, then of the servers in no group (`needs`: the fleet's needs_action, for the reasons). */
export function groupFigures(
  servers: readonly ServerReport[],
  needs: readonly { server: string; status: ServerStatus; reason: string }[],
  groups: readonly GroupMembership[],
): GroupFigures[] {
  const reason = new Map(needs.map((n) => [n.server, n]));
  const figures = (name: string | null, members: readonly ServerReport[]): GroupFigures => {
    const counts: Record<ServerStatus, number> = { ok: 0, warning: 0, critical: 0, silent: 0 };
    let findings = 0;
    let worst: ServerReport | null = null;
    for (const s of members) {
      counts[s.status]++;
      findings += s.findings.filter((f) => f.severity !== "info").length;
      if (s.status === "ok") continue;
      if (
        worst === null ||
        RANK[s.status] < RANK[worst.status] ||
        (RANK[s.status] === RANK[worst.status] && s.server < worst.server)
      )
        worst = s;
    }
    return {
      name,
      servers: members.length,
      counts,
      findings,
      worst:
        worst === null
          ? null
          : (reason.get(worst.server) ?? {
              server: worst.server,
              status: worst.status,
              reason: "needs attention",
            }),
    };
  };
  const grouped = new Set<string>();
  const out = groups.map((g) => {
    const members = servers.filter((s) => g.includes(s.server));
    for (const s of members) grouped.add(s.server);
    return figures(g.name, members);
  });
  out.push(
    figures(
      null,
      servers.filter((s) => !grouped.has(s.server)),
    ),
  );
  return out;
}

/** The report's groups, or null when it has none (no section at all). */
function reportGroups(report: WeeklyReport): GroupFigures[] | null {
  return report.groups === undefined || report.groups.length === 0 ? null : report.groups;
}

const oneLine = (s: string): string => s.replace(/[\r\n\t\u2028\u2029]+/g, " ");

/** "critical 1, warning 0, silent 2, ok 5". */
function countsText(g: GroupFigures): string {
  return `critical ${g.counts.critical}, warning ${g.counts.warning}, silent ${g.counts.silent}, ok ${g.counts.ok}`;
}

const servers = (n: number): string => `${n} server${n === 1 ? "" : "s"}`;

/** Text lines: a title with the note, then one line per group. Empty without groups. */
export function groupsTextLines(report: WeeklyReport, href: ((group: string) => string) | null): string[] {
  const groups = reportGroups(report);
  if (groups === null) return [];
  const lines = [`BY GROUP (${GROUPS_NOTE})`];
  for (const g of groups) {
    const worst =
      g.worst === null
        ? "nothing needs action"
        : `worst ${oneLine(g.worst.server)} [${g.worst.status}]: ${oneLine(g.worst.reason)}`;
    const link = g.name === null || href === null ? "" : ` <${href(g.name)}>`;
    lines.push(
      `- ${g.name === null ? NO_GROUP : oneLine(g.name)}: ${servers(g.servers)}: ${countsText(g)}; ${worst}${link}`,
    );
  }
  return lines;
}

const STATUS_COLOR: Record<ServerStatus, { bg: string; fg: string; label: string }> = {
  critical: { bg: "#fee2e2", fg: "#991b1b", label: "CRITICAL" },
  silent: { bg: "#e5e7eb", fg: "#374151", label: "SILENT" },
  warning: { bg: "#fef3c7", fg: "#92400e", label: "WARNING" },
  ok: { bg: "#dcfce7", fg: "#166534", label: "OK" },
};
const INK = "#111827";
const MUTED = "#4b5563";
const LINK = "#1d4ed8";

/**
 * The section's body as HTML: two columns (the group's worst status, then
 * its name, counts and worst server over three lines), so it reads at 375 px
 * as well as at 600 in every mail client (table layout, inline styles). Each
 * group's name links to its own report when `href` is given. At most `max`
 * groups (the digest's budget), then how many more, then "in no group".
 * Null without groups.
 */
export function groupsHtml(
  report: WeeklyReport,
  o: { font: string; href: ((group: string) => string) | null; max?: number },
): string | null {
  const groups = reportGroups(report);
  if (groups === null) return null;
  const named = groups.filter((g) => g.name !== null);
  const shown = named.slice(0, o.max ?? Number.POSITIVE_INFINITY);
  const rest = named.length - shown.length;
  const rows = [...shown, ...groups.filter((g) => g.name === null)]
    .map((g) => {
      const status: ServerStatus = g.worst?.status ?? "ok";
      const s = STATUS_COLOR[status];
      const shown = g.name === null ? NO_GROUP : shortWords(g.name);
      const name =
        g.name === null
          ? `<i>${e(shown)}</i>`
          : o.href === null
            ? e(shown)
            : `<a href="${e(o.href(g.name))}" style="color:${LINK};text-decoration:underline;">${e(shown)}</a>`;
      const worst =
        g.worst === null
          ? "nothing needs action"
          : `worst: <b>${e(shortWords(g.worst.server))}</b>, ${e(shortWords(g.worst.reason))}`;
      const findings =
        g.findings === 0 ? "" : ` &middot; ${g.findings} finding${g.findings === 1 ? "" : "s"}`;
      return `<tr><td valign="top" bgcolor="${s.bg}" style="background-color:${s.bg};color:${s.fg};${o.font}font-size:11px;font-weight:bold;padding:4px 6px;">${s.label}</td><td valign="top" style="color:${INK};${o.font}font-size:13px;padding:4px 0 8px 8px;"><b>${name}</b> &middot; ${servers(g.servers)}<br><span style="color:${MUTED};font-size:12px;">${countsText(g)}${findings}</span><br>${worst}</td></tr>`;
    })
    .join("\n");
  const note = `<p style="color:${MUTED};${o.font}font-size:12px;margin:0 0 6px 0;">${e(GROUPS_NOTE)}</p>`;
  const more =
    rest > 0
      ? `<p style="color:${MUTED};${o.font}font-size:12px;margin:6px 0 0 0;">and ${rest} more group${rest === 1 ? "" : "s"}, listed in the full report and the plain-text part.</p>`
      : "";
  return `${note}<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="border-collapse:collapse;">${rows}</table>${more}`;
}
