/**
 * The words every channel shares: the headline of a batch (the email
 * subject, the ntfy title, the Slack and Teams heading), one notice as
 * lines of plain text, times and durations, and which notices a storm
 * shows. Each channel then renders these in its own markup, so a person
 * reads the same facts (severity, server, rule, mount, summary, start, end,
 * dashboard link) whichever channel reached them.
 */
import type { AlertNotice, NotificationBatch } from "../types.js";

/** How many notices a storm message names before "and N more". */
export const STORM_SHOWN = 5;

/** What a notice tells, in capitals for the subject line. */
export function kindWord(notice: AlertNotice): string {
  switch (notice.kind) {
    case "firing":
      return "FIRING";
    case "resolved":
      return "RESOLVED";
    case "reminder":
      return "STILL FIRING";
    case "test":
      return "TEST";
  }
}

/** "web-01 disk_full_soon /var", or "web-01 server_silent" for a rule not about a disk. */
export function noticeSubject(notice: AlertNotice): string {
  return [notice.server, notice.rule, notice.mount].filter((part) => part !== "").join(" ");
}

/** "FIRING critical: web-01 disk_full_soon /var". */
export function noticeTitle(notice: AlertNotice): string {
  return `${kindWord(notice)} ${notice.severity}: ${noticeSubject(notice)}`;
}

/** Firing (reminders included: the alert still fires), resolved and test notices of a batch. */
export function batchCounts(batch: NotificationBatch): { firing: number; resolved: number; test: number } {
  let firing = 0;
  let resolved = 0;
  let test = 0;
  for (const n of batch.notices) {
    if (n.kind === "resolved") resolved++;
    else if (n.kind === "test") test++;
    else firing++;
  }
  return { firing, resolved, test };
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

/**
 * The batch in one line, without the "[srvutil]" prefix:
 * "FIRING critical: web-01 disk_full_soon /var" for one notice,
 * "3 alerts firing, 1 resolved" for several,
 * "Alert storm: 57 alerts (50 firing, 7 resolved)" during a storm.
 */
export function batchHeadline(batch: NotificationBatch): string {
  if (batch.storm !== null) {
    const s = batch.storm;
    return `Alert storm: ${plural(s.total, "alert")} (${s.firing} firing, ${s.resolved} resolved)`;
  }
  const only = batch.notices.length === 1 ? batch.notices[0] : undefined;
  if (only !== undefined) return noticeTitle(only);
  if (batch.notices.length === 0) return "no alerts";
  const c = batchCounts(batch);
  const parts: string[] = [];
  if (c.firing > 0) parts.push(`${plural(c.firing, "alert")} firing`);
  if (c.resolved > 0)
    parts.push(parts.length === 0 ? `${plural(c.resolved, "alert")} resolved` : `${c.resolved} resolved`);
  if (c.test > 0)
    parts.push(parts.length === 0 ? `${plural(c.test, "test notification")}` : `${c.test} test`);
  return parts.join(", ");
}

/** The email subject and ntfy title: "[srvutil] " and the headline. */
export function batchSubject(batch: NotificationBatch): string {
  return `[srvutil] ${batchHeadline(batch)}`;
}

/**
 * The notices a message names: all of them, or the first STORM_SHOWN during
 * a storm, with how many the message leaves out ("and N more").
 */
export function shownNotices(
  batch: NotificationBatch,
  max = Number.POSITIVE_INFINITY,
): {
  shown: AlertNotice[];
  more: number;
} {
  const limit = batch.storm !== null ? Math.min(STORM_SHOWN, max) : max;
  const shown = batch.notices.slice(0, limit);
  const total =
    batch.storm !== null ? Math.max(batch.storm.total, batch.notices.length) : batch.notices.length;
  return { shown, more: total - shown.length };
}

/** "2026-12-07 14:05 UTC": minutes are what a person needs, and UTC is what every recipient shares. */
export function humanTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

/** RFC 3339 in UTC without milliseconds, for machines (webhook, Alertmanager). */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** "3 h 20 min", "45 min", "2 d 4 h", "less than a minute". */
export function humanDuration(ms: number): string {
  const minutes = Math.floor(Math.max(0, ms) / 60_000);
  if (minutes < 1) return "less than a minute";
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  const mins = minutes % 60;
  if (days > 0) return hours > 0 ? `${days} d ${hours} h` : `${days} d`;
  if (hours > 0) return mins > 0 ? `${hours} h ${mins} min` : `${hours} h`;
  return `${mins} min`;
}

/** "since 2026-12-07 03:12 UTC", or "from … to … (3 h 20 min)" once resolved. */
export function noticeTimes(notice: AlertNotice): string {
  if (notice.endsAt === null) return `since ${humanTime(notice.startsAt)}`;
  return `from ${humanTime(notice.startsAt)} to ${humanTime(notice.endsAt)} (${humanDuration(notice.endsAt - notice.startsAt)})`;
}

/** Only an absolute http(s) URL becomes a link or a click target; a relative one is shown as text. */
export function isAbsoluteHttpUrl(url: string): boolean {
  return /^https?:\/\/[^\s]+$/i.test(url);
}

/**
 * One notice as plain text:
 *   FIRING critical: web-01 disk_full_soon /var
 *     /var full in about 9 hours (92 % now, +1.2 GB/h)
 *     since 2026-12-07 03:12 UTC
 *     https://srvutil.example.com/servers/web-01
 */
export function noticeText(notice: AlertNotice): string {
  const lines = [noticeTitle(notice), `  ${notice.summary}`, `  ${noticeTimes(notice)}`];
  if (notice.url !== "") lines.push(`  ${notice.url}`);
  return lines.join("\n");
}

/** "…and 52 more (see the dashboard)". */
export function moreLine(more: number): string {
  return `…and ${more} more (see the dashboard)`;
}

/** The whole batch as plain text: the headline, then each shown notice, then what was left out. */
export function batchText(batch: NotificationBatch, max?: number): string {
  const { shown, more } = shownNotices(batch, max);
  const parts = [batchSubject(batch), "", ...shown.map((n) => `${noticeText(n)}\n`)];
  if (more > 0) parts.push(moreLine(more));
  if (shown.some((n) => n.kind === "test")) {
    parts.push("This is a test notification from srvutil: the channel works. Nothing is wrong.");
  }
  return parts.join("\n").trimEnd();
}

/**
 * The page a message as a whole links to: the one server's page when every
 * notice is about the same server, otherwise the dashboard's front page
 * (SRVUTIL_PUBLIC_URL); null when there is no absolute URL to give.
 */
export function batchLink(batch: NotificationBatch, publicUrl: string | null): string | null {
  const urls = new Set(batch.notices.map((n) => n.url));
  const [only] = urls;
  if (urls.size === 1 && only !== undefined && isAbsoluteHttpUrl(only)) return only;
  if (publicUrl !== null && isAbsoluteHttpUrl(publicUrl)) return publicUrl;
  const first = batch.notices.find((n) => isAbsoluteHttpUrl(n.url));
  return first?.url ?? null;
}
