import type { AlertEpisode, NotificationBatch } from "../../src/central/alerts/types.js";
import type { AlertEvaluationCommit } from "../../src/central/storage/alert-store.js";

/**
 * Alert fixtures relative to `now` (the real clock): an episode, a
 * notification batch, an evaluation commit. Each takes overrides.
 */
const MIN = 60_000;

export function alertEpisode(
  now: number,
  over: Partial<Omit<AlertEpisode, "id">> = {},
): Omit<AlertEpisode, "id"> {
  return {
    server: "web-01",
    rule: "cpu_pressure",
    mount: "",
    state: "firing",
    severity: "warning",
    summary: "CPU above 90 % for 15 minutes",
    startedAt: now - 20 * MIN,
    firingAt: now - 5 * MIN,
    resolvedAt: null,
    clearSince: null,
    lastNotifiedAt: now - 5 * MIN,
    acknowledgedBy: null,
    acknowledgedAt: null,
    acknowledgeNote: null,
    updatedAt: now - 5 * MIN,
    ...over,
  };
}

/** One firing notice of `server` for `channel`. */
export function alertBatch(now: number, channel: string, server = "web-01"): NotificationBatch {
  return {
    channel,
    createdAt: now,
    notices: [
      {
        server,
        rule: "cpu_pressure",
        mount: "",
        kind: "firing",
        severity: "warning",
        summary: "CPU above 90 % for 15 minutes (97.25 % now)",
        startsAt: now - 5 * MIN,
        endsAt: null,
        url: `https://srvutil.example/servers/${server}`,
      },
    ],
    storm: null,
  };
}

/** An evaluation from version 0 that changes nothing, retried for six hours, until overridden. */
export function alertCommit(now: number, over: Partial<AlertEvaluationCommit> = {}): AlertEvaluationCommit {
  return {
    expectedVersion: 0,
    now,
    inserts: [],
    updates: [],
    deletes: [],
    notifications: [],
    retryUntil: now + 6 * 3_600_000,
    ...over,
  };
}
