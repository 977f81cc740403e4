/**
 * An alert and a silence as JSON: one shape for `GET /api/v1/alerts`
 * (http/routes/alerts.ts) and `srvutil alerts list|silence list --json`
 * (cli/alerts-run.ts), documented in docs/alerts.md.
 */
import { formatTimestamp } from "../../protocol/index.js";
import type { AlertSilence } from "../storage/alert-store.js";
import type { AlertEpisode } from "./types.js";

const at = (ms: number | null): string | null => (ms === null ? null : formatTimestamp(ms));

export function episodeJson(e: AlertEpisode) {
  return {
    id: e.id,
    server: e.server,
    rule: e.rule,
    mount: e.mount === "" ? null : e.mount,
    state: e.state,
    severity: e.severity,
    summary: e.summary,
    started_at: formatTimestamp(e.startedAt),
    firing_at: at(e.firingAt),
    resolved_at: at(e.resolvedAt),
    acknowledged_by: e.acknowledgedBy,
    acknowledged_at: at(e.acknowledgedAt),
    acknowledge_note: e.acknowledgeNote,
  };
}

export function silenceJson(s: AlertSilence) {
  return {
    id: s.id,
    server: s.server,
    rule: s.rule,
    group: s.group,
    starts_at: formatTimestamp(s.startsAt),
    ends_at: formatTimestamp(s.endsAt),
    reason: s.reason,
    created_by: s.createdBy,
  };
}
