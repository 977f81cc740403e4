import type { InlineImage } from "../mail/transport.js";
import {
  buildWeeklyReport,
  type ReportThresholds,
  renderReport,
  resolveThresholds,
  type WeeklyReport,
} from "../report/index.js";
import type { MetricsStore } from "../storage/store.js";
import { DEFAULT_GROUP, type DeliveryGroup } from "./groups.js";
import { weekDateRange } from "./week.js";

/** The content of one report email; the delivery machinery adds envelope and headers. */
export interface ComposedReport {
  subject: string;
  html: string;
  text: string;
  images: InlineImage[];
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

/** The production composer: Report JSON v1 for the group's servers, rendered for email. */
export function weeklyReportComposer(
  store: MetricsStore,
  thresholds: Partial<ReportThresholds> = {},
): ReportComposer {
  // Checked once: contradicting thresholds fail at start-up, not on Monday morning.
  resolveThresholds(thresholds);
  return async ({ week, group, timeZone, now }) => {
    const report = await buildWeeklyReport(store, {
      week,
      timeZone,
      includeServer: (server) => group.includes(server),
      now,
      thresholds,
    });
    const rendered = await renderReport(report, "email");
    const needingAction = serversNeedingAction(report);
    return {
      subject: reportSubject({
        week,
        timeZone,
        group: group.name,
        servers: report.servers.length,
        needingAction,
      }),
      html: rendered.html,
      text: rendered.text,
      images: rendered.images,
      servers: report.servers.length,
      needingAction,
    };
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
