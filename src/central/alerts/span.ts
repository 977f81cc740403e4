import { usageError } from "../../errors.js";

/*
 * Spans as people type them ("30m", "2h", "3d"), read the same way by
 * `srvutil alerts list --since`, `alerts silence add --for` and the
 * dashboard's silence form (src/central/http/dashboard/alerts.ts).
 */

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 } as const;

/** The longest silence either the CLI or the dashboard sets: past it, an end time stops being a date. */
export const MAX_SILENCE_MS = 366 * 86_400_000;

/**
 * "2h", "30m", "3d", "90s", "1w" in ms; a usage error naming `flag`
 * otherwise, or when the span is longer than `maxMs`.
 */
export function parseSpan(text: string, flag: string, maxMs = Number.POSITIVE_INFINITY): number {
  const m = /^(\d+(?:\.\d+)?)\s*(s|m|h|d|w)$/.exec(text.trim());
  if (m === null || Number(m[1]) <= 0) {
    throw usageError(`${flag}: expected a span such as 30m, 2h or 3d, got '${text.slice(0, 40)}'`);
  }
  const ms = Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
  if (!(ms <= maxMs)) {
    throw usageError(`${flag}: at most ${Math.floor(maxMs / 86_400_000)} days, got '${text.slice(0, 40)}'`);
  }
  return ms;
}
