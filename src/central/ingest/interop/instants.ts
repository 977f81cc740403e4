/**
 * One reading cycle of an agent, as one instant. The OpenTelemetry
 * Collector's hostmetrics receiver runs its cpu, memory and filesystem
 * scrapers one after the other and stamps each with its own time; collectd's
 * read threads stamp each plugin's values separately too. The times of one
 * cycle lie milliseconds apart, so readings of one server whose times fall
 * within `windowMs` of the first reading of a cycle are one PointGroup,
 * stamped with the latest of them. Readings a full interval apart (seconds
 * at least) are separate groups.
 */

/** How far apart the readings of one cycle may lie (also the least interval that keeps cycles apart). */
export const DEFAULT_CYCLE_WINDOW_MS = 1000;

/**
 * Splits readings (any order) into cycles: sorted by time, a new cycle starts
 * at the first reading more than `windowMs` after the current cycle's first.
 */
export function splitIntoCycles<T extends { timeMs: number }>(
  readings: readonly T[],
  windowMs = DEFAULT_CYCLE_WINDOW_MS,
): { timeMs: number; readings: T[] }[] {
  const sorted = [...readings].sort((a, b) => a.timeMs - b.timeMs);
  const cycles: { timeMs: number; readings: T[] }[] = [];
  let start = Number.NEGATIVE_INFINITY;
  for (const r of sorted) {
    const current = cycles.at(-1);
    if (current === undefined || r.timeMs - start > windowMs) {
      cycles.push({ timeMs: r.timeMs, readings: [r] });
      start = r.timeMs;
    } else {
      current.readings.push(r);
      current.timeMs = r.timeMs;
    }
  }
  return cycles;
}
