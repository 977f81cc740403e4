/**
 * "Did you mean …?" for a misspelled setting: the agent's config file keys
 * and the central's SRVUTIL_* variables. At the top of src/ and importing
 * nothing, like errors.ts, because both the agent (whose bundle must stay
 * free of central code) and the central use it.
 */

/**
 * The known name nearest to `name`: the one it abbreviates when exactly one
 * starts with it (`max_age` → `max_age_days`, although `max_bytes` is fewer
 * edits away), else the closest by edit distance if close enough to be a
 * plausible typo (at most half the longer name's length, so `colour`
 * suggests nothing; `maxDistance` sets another bound from the longer
 * length). Case-insensitive; returns the known spelling.
 */
export function nearestName(
  name: string,
  known: readonly string[],
  maxDistance: (length: number) => number = (length) => Math.ceil(length / 2),
): string | null {
  const typed = name.toLowerCase();
  const completions = known.filter((candidate) => candidate.toLowerCase().startsWith(typed));
  if (typed.length >= 3 && completions.length === 1) return completions[0]!;
  let best: string | null = null;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of known) {
    const d = editDistance(typed, candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  if (best === null || bestDistance > maxDistance(Math.max(name.length, best.length))) return null;
  return best;
}

/** Levenshtein distance (insert, delete, substitute each cost 1). */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitute = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(substitute, previous[j]! + 1, current[j - 1]! + 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}
