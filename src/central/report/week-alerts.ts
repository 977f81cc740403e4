import type { AlertEpisode } from "../alerts/types.js";
import type { Storage } from "../storage/store.js";
import type { WeekAlert, WeekAlerts } from "./types.js";

/** Alerts listed in the report; the rest are counted (`more`). */
export const WEEK_ALERTS_MAX = 50;

/**
 * Episodes read per report. The store returns the newest first; a week with
 * more alerts than this (a fleet-wide storm every day) would undercount its
 * oldest, which is why it is far above any week the rules can produce for a
 * fleet that is still being looked after.
 */
const READ_LIMIT = 100_000;

const SEVERITY_RANK = { critical: 0, warning: 1 } as const;

/**
 * The alerts of the week for the servers `include` accepts: every episode
 * that fired and was firing at some point in [from, judgedAt). judgedAt is
 * the report's (min(now, end of the week)), so "still firing" and the
 * durations of a past week do not depend on when it is rebuilt. Null when
 * none fired: the report then has no `alerts` field, as before alerts existed.
 * One store read.
 */
export async function weekAlerts(
  store: Storage,
  week: { from: number; to: number },
  judgedAt: number,
  include: (server: string) => boolean,
): Promise<WeekAlerts | null> {
  const episodes = await store.alerts.list({
    from: week.from,
    to: week.to,
    firedOnly: true,
    limit: READ_LIMIT,
  });
  const all = episodes
    .filter((ep) => include(ep.server) && firedInWeek(ep, week.from, judgedAt))
    .map((ep) => weekAlert(ep, judgedAt));
  if (all.length === 0) return null;
  all.sort(
    (a, b) =>
      SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] ||
      b.firing_ms - a.firing_ms ||
      cmp(a.fired_at, b.fired_at) ||
      cmp(a.server, b.server) ||
      cmp(a.rule, b.rule) ||
      cmp(a.mount, b.mount),
  );
  const shown = all.slice(0, WEEK_ALERTS_MAX);
  return {
    fired: all.length,
    still_firing: all.filter((a) => a.still_firing).length,
    episodes: shown,
    more: all.length - shown.length,
  };
}

/** Its firing span [firingAt, resolvedAt) overlaps [from, judgedAt). */
function firedInWeek(ep: AlertEpisode, from: number, judgedAt: number): boolean {
  return ep.firingAt !== null && ep.firingAt < judgedAt && (ep.resolvedAt === null || ep.resolvedAt > from);
}

function weekAlert(ep: AlertEpisode, judgedAt: number): WeekAlert {
  const firingAt = ep.firingAt!;
  // Resolved after the judged instant (a past week rebuilt later): it was still firing then.
  const still = ep.resolvedAt === null || ep.resolvedAt > judgedAt;
  const end = still ? judgedAt : ep.resolvedAt!;
  return {
    server: ep.server,
    rule: ep.rule,
    mount: ep.mount,
    severity: ep.severity,
    summary: ep.summary,
    fired_at: new Date(firingAt).toISOString(),
    resolved_at: still ? null : new Date(ep.resolvedAt!).toISOString(),
    firing_ms: Math.max(0, end - firingAt),
    still_firing: still,
  };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
