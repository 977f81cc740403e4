import type { Tags } from "../../protocol/tags.js";
import { DEFAULT_DIGEST_SETTINGS, type DigestSettings } from "../config.js";
import type { InlineImage, MailAttachment } from "../mail/transport.js";
import type { AttachmentNote } from "../report/index.js";
import {
  buildWeeklyReport,
  type GroupMembership,
  type ReportThresholds,
  renderDigest,
  reportAttachments,
  resolveThresholds,
  type WeeklyReport,
} from "../report/index.js";
import type { Storage } from "../storage/store.js";
import { tagsDuring } from "../storage/tag-store.js";
import { archiveEntry } from "./archive.js";
import { DEFAULT_GROUP, type DeliveryGroup, NO_TAGS } from "./groups.js";
import { weekDateRange, weekInstants } from "./week.js";

/** The content of one report email; the delivery machinery adds envelope and headers. */
export interface ComposedReport {
  subject: string;
  html: string;
  text: string;
  images: InlineImage[];
  /** Files attached beside the body: the full report (HTML, JSON, daily CSV). */
  attachments?: MailAttachment[];
  /** What happened to each full-report file (attached, compressed, trimmed, omitted). */
  attachmentNotes?: AttachmentNote[];
  /** Servers in the report, and how many need action (warning, critical or silent). */
  servers?: number;
  needingAction?: number;
}

export interface ComposeRequest {
  week: string;
  group: DeliveryGroup;
  timeZone: string;
  now: number;
}

/**
 * Builds the content of one (week, group) email. The delivery machinery
 * takes this as a parameter so that it can be tested and run independently
 * of how reports look.
 */
export type ReportComposer = (request: ComposeRequest) => Promise<ComposedReport>;

export interface ComposerOptions {
  /** Finding thresholds (the callers read them from the environment once, at start-up). */
  thresholds?: Partial<ReportThresholds>;
  /** Digest shape, links and attachment cap; defaults: DEFAULT_DIGEST_SETTINGS. */
  digest?: Partial<DigestSettings>;
  /**
   * Every configured group: the whole fleet's report gets "By group" (each
   * group's servers as tagged during the week) when there is one besides
   * the default group.
   */
  groups?: readonly DeliveryGroup[];
}

/**
 * The production composer: Report JSON for the group's servers, the digest
 * as the body, the full report (standalone HTML, JSON, daily CSV) attached.
 */
export function weeklyReportComposer(store: Storage, options: ComposerOptions = {}): ReportComposer {
  // Checked once: contradicting thresholds fail at start-up, not on Monday morning.
  resolveThresholds(options.thresholds ?? {});
  return async ({ week, group, timeZone, now }) => {
    const tags = await groupTagsOfWeek(store, group, week, timeZone);
    // Only the whole fleet's report has "By group": a group's own report is one group.
    const groups = group.wholeFleet
      ? await fleetGroupsOfWeek(store, options.groups ?? [], week, timeZone)
      : [];
    const report = await buildWeeklyReport(store, {
      week,
      timeZone,
      includeServer: (server) => group.includes(server, tags.get(server) ?? NO_TAGS),
      groups,
      now,
      ...(options.thresholds !== undefined ? { thresholds: options.thresholds } : {}),
    });
    const mail = await composeReportMail(report, { group: group.name, timeZone, digest: options.digest });
    // Archived as composed, before the send: the dashboard shows it with the delivery's state.
    const publicUrl = options.digest?.publicUrl ?? DEFAULT_DIGEST_SETTINGS.publicUrl;
    await store.reports.save(await archiveEntry(report, mail, group.name, now, publicUrl));
    return mail;
  };
}

/**
 * The tags each server had during the week (store.tags' history), for a
 * group that selects by tags: a server that moved from team A to team B is
 * in A's report for the weeks before and in B's from the week it moved.
 */
export async function groupTagsOfWeek(
  store: Storage,
  group: DeliveryGroup,
  week: string,
  timeZone: string,
): Promise<Map<string, Tags>> {
  if (Object.keys(group.tags).length === 0) return new Map();
  return tagsOfWeek(store, week, timeZone);
}

/**
 * The configured groups besides the default one, each judging a server by
 * the tags it had during the week, for the whole fleet's "By group"
 * (docs/report.md). Empty when only the default group is configured.
 */
export async function fleetGroupsOfWeek(
  store: Storage,
  groups: readonly DeliveryGroup[],
  week: string,
  timeZone: string,
): Promise<GroupMembership[]> {
  const others = groups.filter((g) => !g.wholeFleet);
  if (others.length === 0) return [];
  const tags = await tagsOfWeek(store, week, timeZone);
  return others.map((g) => ({
    name: g.name,
    includes: (server: string) => g.includes(server, tags.get(server) ?? NO_TAGS),
  }));
}

/** The tags each server had during the week, whatever the group (see groupTagsOfWeek). */
async function tagsOfWeek(store: Storage, week: string, timeZone: string): Promise<Map<string, Tags>> {
  const { from, to } = weekInstants(week, timeZone);
  return tagsDuring(await store.tags.during(from, to));
}

/** The email for a built report (separate from the build so that large synthetic fleets can be measured). */
export async function composeReportMail(
  report: WeeklyReport,
  o: { group: string; timeZone: string; digest?: Partial<DigestSettings> },
): Promise<ComposedReport> {
  const settings = { ...DEFAULT_DIGEST_SETTINGS, ...o.digest };
  const week = report.week;
  const groupPart = o.group === DEFAULT_GROUP ? "" : `-${o.group.replace(/[^A-Za-z0-9._-]/g, "_")}`;
  const hint =
    settings.publicUrl !== null
      ? `The complete report is in the dashboard: ${settings.publicUrl.replace(/\/+$/, "")}/reports/${week}.`
      : `Build the complete files with: srvutil report build --week ${week} --format html|json|csv.`;
  const files = await reportAttachments(report, {
    maxBytes: settings.attachmentMaxBytes,
    baseName: `srvutil-${week}${groupPart}`,
    fullReportHint: hint,
    publicUrl: settings.publicUrl,
  });
  const digest = renderDigest(report, {
    publicUrl: settings.publicUrl,
    topN: settings.topN,
    maxChartServers: settings.maxChartServers,
    group: o.group,
    attachments: files.notes,
  });
  const needingAction = serversNeedingAction(report);
  return {
    subject: reportSubject({
      week,
      timeZone: o.timeZone,
      group: o.group,
      servers: report.servers.length,
      needingAction,
    }),
    html: digest.html,
    text: digest.text,
    images: digest.images,
    attachments: files.attachments,
    attachmentNotes: files.notes,
    servers: report.servers.length,
    needingAction,
  };
}

export function serversNeedingAction(report: WeeklyReport): number {
  return report.servers.filter((s) => s.status !== "ok").length;
}

/**
 * "srvutil weekly report 2026-W47 (2026-11-16 to 2026-11-22): 2 of 12 servers need action [web]".
 * The week, the local date range and the action count are what a reader
 * triages by from the inbox list.
 */
export function reportSubject(o: {
  week: string;
  timeZone: string;
  group: string;
  servers: number;
  needingAction: number;
}): string {
  const { first, last } = weekDateRange(o.week, o.timeZone);
  const action =
    o.servers === 0
      ? "no servers reported"
      : o.needingAction === 0
        ? `all ${o.servers} servers OK`
        : `${o.needingAction} of ${o.servers} server${o.servers === 1 ? "" : "s"} need${o.needingAction === 1 ? "s" : ""} action`;
  const group = o.group === DEFAULT_GROUP ? "" : ` [${o.group}]`;
  return `srvutil weekly report ${o.week} (${first} to ${last}): ${action}${group}`;
}
