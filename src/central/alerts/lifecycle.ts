/**
 * The life of an alert, decided at each evaluation from the open episodes
 * and the conditions that hold now: pending → firing → resolved, with one
 * notice on firing, one on resolving (and one when it turns critical), a
 * reminder while it keeps firing unacknowledged, and none while silenced.
 * Pure: the evaluator (./evaluator.ts) stores what it decides in one commit
 * (AlertStore.commitEvaluation), so a notice exists exactly when its state
 * change was stored.
 */
import { globToRegExp } from "../delivery/groups.js";
import type { AlertSilence } from "../storage/alert-store.js";
import type { AlertRoute, AlertsConfig } from "./config.js";
import { alertKeyText } from "./rules.js";
import type {
  AlertCondition,
  AlertEpisode,
  AlertNotice,
  AlertNoticeKind,
  AlertRuleName,
  AlertSeverity,
  NotificationBatch,
} from "./types.js";

export interface LifecycleInput {
  now: number;
  open: readonly AlertEpisode[];
  conditions: readonly AlertCondition[];
  /** Silences in force now. */
  silences: readonly AlertSilence[];
  /** The report groups (SRVUTIL_GROUPS_FILE) a server belongs to. */
  groupsOf: (server: string) => readonly string[];
  config: AlertsConfig;
  /** The server's dashboard page. */
  urlFor: (server: string) => string;
}

export interface LifecycleOutput {
  inserts: Omit<AlertEpisode, "id">[];
  updates: AlertEpisode[];
  deletes: number[];
  notices: AlertNotice[];
}

const SEVERITY_RANK: Record<AlertSeverity, number> = { warning: 1, critical: 2 };

/**
 * How stale an open episode's summary may get ("full in about 9 hours" drifts
 * every minute) before it is written again. Everything else that changes
 * (state, severity, notification time, hysteresis start) is written at once;
 * an episode where only the summary moved waits, so a steady evaluation
 * writes almost nothing (at 10,000 servers it rewrote every open episode,
 * about 3,700 rows a minute, while uploads waited for the write lock).
 */
export const SUMMARY_REFRESH_MS = 5 * 60_000;

/** How long a rule's condition must hold before its alert fires. */
export function pendingMs(rule: AlertRuleName, config: AlertsConfig): number {
  const r = config.rules;
  switch (rule) {
    case "disk_full_soon":
      return r.disk_full_soon.forMinutes * 60_000;
    case "disk_nearly_full":
      return r.disk_nearly_full.forMinutes * 60_000;
    case "memory_trend":
      return r.memory_trend.forMinutes * 60_000;
    // The condition itself already waited: silent for an hour, above the threshold for 30 or 60 minutes.
    case "server_silent":
    case "cpu_pressure":
    case "memory_pressure":
      return 0;
  }
}

/** True when a silence in force covers the key (every field it names matches). */
export function isSilenced(
  key: { server: string; rule: AlertRuleName },
  silences: readonly AlertSilence[],
  groupsOf: (server: string) => readonly string[],
): boolean {
  return silenceCovering(key, silences, groupsOf) !== null;
}

/** The first of `silences` that covers the key, or null (the dashboard shows its reason). */
export function silenceCovering(
  key: { server: string; rule: AlertRuleName },
  silences: readonly AlertSilence[],
  groupsOf: (server: string) => readonly string[],
): AlertSilence | null {
  return (
    silences.find(
      (s) =>
        (s.server === null || globToRegExp(s.server).test(key.server)) &&
        (s.rule === null || s.rule === key.rule) &&
        (s.group === null || groupsOf(key.server).includes(s.group)),
    ) ?? null
  );
}

export function decideLifecycle(input: LifecycleInput): LifecycleOutput {
  const { now, config } = input;
  const out: LifecycleOutput = { inserts: [], updates: [], deletes: [], notices: [] };
  const byKey = new Map(input.open.map((e) => [alertKeyText(e), e]));
  const notice = (e: Omit<AlertEpisode, "id">, kind: AlertNoticeKind): void => {
    if (isSilenced(e, input.silences, input.groupsOf)) return;
    out.notices.push({
      server: e.server,
      rule: e.rule,
      mount: e.mount,
      kind,
      severity: e.severity,
      summary: e.summary,
      startsAt: e.firingAt ?? e.startedAt,
      endsAt: e.resolvedAt,
      url: input.urlFor(e.server),
    });
  };
  const held = new Set<string>();
  for (const c of input.conditions) {
    const key = alertKeyText(c);
    held.add(key);
    const existing = byKey.get(key);
    if (existing === undefined) {
      const fires = pendingMs(c.rule, config) === 0;
      const episode: Omit<AlertEpisode, "id"> = {
        server: c.server,
        rule: c.rule,
        mount: c.mount,
        state: fires ? "firing" : "pending",
        severity: c.severity,
        summary: c.summary,
        startedAt: now,
        firingAt: fires ? now : null,
        resolvedAt: null,
        clearSince: null,
        lastNotifiedAt: fires ? now : null,
        acknowledgedBy: null,
        acknowledgedAt: null,
        acknowledgeNote: null,
        updatedAt: now,
      };
      out.inserts.push(episode);
      if (fires) notice(episode, "firing");
      continue;
    }
    const next: AlertEpisode = { ...existing, summary: c.summary, clearSince: null, updatedAt: now };
    let changed = existing.clearSince !== null;
    if (existing.state === "pending") {
      next.severity = c.severity;
      changed ||= next.severity !== existing.severity;
      if (now - existing.startedAt >= pendingMs(c.rule, config)) {
        changed = true;
        next.state = "firing";
        next.firingAt = now;
        next.lastNotifiedAt = now;
        notice(next, "firing");
      }
    } else if (SEVERITY_RANK[c.severity] > SEVERITY_RANK[existing.severity]) {
      // Worse than when it fired: say so now, not at the next reminder.
      changed = true;
      next.severity = c.severity;
      next.lastNotifiedAt = now;
      notice(next, "firing");
    } else {
      // A firing alert keeps its severity until it resolves: no flapping between warning and critical.
      if (
        config.reminderMs > 0 &&
        existing.acknowledgedAt === null &&
        now - (existing.lastNotifiedAt ?? existing.firingAt ?? now) >= config.reminderMs
      ) {
        changed = true;
        next.lastNotifiedAt = now;
        notice(next, "reminder");
      }
    }
    if (changed || (c.summary !== existing.summary && now - existing.updatedAt >= SUMMARY_REFRESH_MS)) {
      out.updates.push(next);
    }
  }
  for (const e of input.open) {
    if (held.has(alertKeyText(e))) continue;
    if (e.state === "pending") {
      out.deletes.push(e.id);
      continue;
    }
    const clearSince = e.clearSince ?? now;
    if (now - clearSince >= config.resolveAfterMs) {
      const resolved: AlertEpisode = { ...e, state: "resolved", resolvedAt: now, clearSince, updatedAt: now };
      out.updates.push(resolved);
      notice(resolved, "resolved");
    } else if (e.clearSince === null) {
      out.updates.push({ ...e, clearSince, updatedAt: now });
    }
  }
  return out;
}

/** The channels a notice goes to: those of every matching route, or every channel without routes. */
export function channelsFor(
  n: AlertNotice,
  config: AlertsConfig,
  groupsOf: (server: string) => readonly string[],
): string[] {
  if (config.routes.length === 0) return config.channels.map((c) => c.name);
  const out = new Set<string>();
  for (const route of config.routes)
    if (routeMatches(route, n, groupsOf)) for (const c of route.channels) out.add(c);
  return [...out];
}

function routeMatches(
  route: AlertRoute,
  n: AlertNotice,
  groupsOf: (server: string) => readonly string[],
): boolean {
  return (
    SEVERITY_RANK[n.severity] >= SEVERITY_RANK[route.minSeverity] &&
    (route.rules === null || route.rules.includes(n.rule)) &&
    (route.group === null || groupsOf(n.server).includes(route.group))
  );
}

/**
 * One batch per channel of the notices it receives from one evaluation;
 * past the storm threshold the batch carries a summary, and the channel
 * sends one message with the counts instead of one line per alert.
 */
export function batchesFor(
  notices: readonly AlertNotice[],
  config: AlertsConfig,
  groupsOf: (server: string) => readonly string[],
  now: number,
): NotificationBatch[] {
  const byChannel = new Map<string, AlertNotice[]>();
  for (const n of notices) {
    for (const channel of channelsFor(n, config, groupsOf)) {
      let list = byChannel.get(channel);
      if (list === undefined) {
        list = [];
        byChannel.set(channel, list);
      }
      list.push(n);
    }
  }
  return [...byChannel].map(([channel, list]) => ({
    channel,
    createdAt: now,
    notices: list,
    storm:
      list.length > config.stormThreshold
        ? {
            total: list.length,
            firing: list.filter((n) => n.kind !== "resolved").length,
            resolved: list.filter((n) => n.kind === "resolved").length,
          }
        : null,
  }));
}
