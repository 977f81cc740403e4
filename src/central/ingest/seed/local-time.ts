/**
 * Zone-less local times of the seed format (`2026-02-13 00:20:02`, the
 * server's wall clock) to UTC instants in a given IANA time zone.
 *
 * Most local times name exactly one instant. Two kinds do not:
 * - a time inside the hour skipped when DST begins (02:30 in Berlin on the
 *   last Sunday of March) names none: it is read with the offset in force
 *   before the change, i.e. 02:30 → 01:30Z, the same instant as 03:30 CEST
 *   (a clock that had not yet jumped forward);
 * - a time inside the hour repeated when DST ends (02:30 in Berlin on the
 *   last Sunday of October) names two. `SeedTimeResolver` picks one from the
 *   order of the file's rows; see there.
 *
 * The rule is the one docs/migrating-from-the-seed.md documents.
 */

/** Offset of `tz` from UTC at instant `ms`, in minutes (Berlin in summer: +120). */
export type OffsetLookup = (ms: number) => number;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formatters.set(timeZone, f);
  }
  return f;
}

const lookups = new Map<string, OffsetLookup>();

/** An offset lookup for `timeZone` (throws RangeError for an unknown zone), shared by every file. */
export function zoneOffsets(timeZone: string): OffsetLookup {
  let lookup = lookups.get(timeZone);
  if (lookup === undefined) {
    lookup = newOffsetLookup(timeZone);
    lookups.set(timeZone, lookup);
  }
  return lookup;
}

function newOffsetLookup(timeZone: string): OffsetLookup {
  const f = formatterFor(timeZone);
  // Offsets change at most a few times a year: remember them per UTC quarter
  // hour (every zone's transitions fall on a quarter hour since 1970), so a
  // large import formats a date once per distinct quarter hour, not per row
  // (Intl formatting costs microseconds; an import of a fleet reads the same
  // weeks for every server).
  const cache = new Map<number, number>();
  return (ms: number) => {
    const key = Math.floor(ms / 900_000);
    const hit = cache.get(key);
    if (hit !== undefined) return hit;
    const p: Record<string, number> = {};
    for (const part of f.formatToParts(key * 900_000)) {
      if (part.type !== "literal") p[part.type] = Number(part.value);
    }
    const asUtc = Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!);
    const offset = Math.round((asUtc - key * 900_000) / 60_000);
    if (cache.size > 100_000) cache.clear();
    cache.set(key, offset);
    return offset;
  };
}

/**
 * The instants a local wall-clock time (given as if it were UTC: the epoch
 * ms of the same fields) names in the zone: one, two (repeated hour, earlier
 * first) or none (skipped hour).
 */
export function instantsOfLocal(localAsUtc: number, offsetAt: OffsetLookup): number[] {
  // Any transition that can make this local time ambiguous or missing lies
  // within a day of it, so the offsets a day before and after are the
  // only candidates.
  const before = offsetAt(localAsUtc - 86_400_000);
  const after = offsetAt(localAsUtc + 86_400_000);
  const out: number[] = [];
  for (const offset of before === after ? [before] : [before, after]) {
    const t = localAsUtc - offset * 60_000;
    if (offsetAt(t) === offset && !out.includes(t)) out.push(t);
  }
  if (out.length === 0 && before === after) {
    // A transition and its reversal within two days (rare, e.g. a zone
    // that changed rules): look the offset up at the time itself.
    const offset = offsetAt(localAsUtc);
    const t = localAsUtc - offset * 60_000;
    if (offsetAt(t) === offset) out.push(t);
  }
  return out.sort((a, b) => a - b);
}

/** What a resolved local time was. */
export type LocalTimeKind = "exact" | "skipped" | "repeated-first" | "repeated-second";

/**
 * Resolves the local times of one file, row by row in file order (the order
 * the seed agent appended them in):
 * - skipped hour: the offset before the change (see the file comment);
 * - repeated hour: the first pass (the earlier instant), unless
 *   (a) an identical line appeared earlier in the file: it is a repeated
 *       row and gets that row's instant, or
 *   (b) the earlier instant lies before the previous row's instant: the
 *       wall clock went back, so this and the following rows of the hour
 *       are the second pass (the later instant).
 *
 * A file that lies wholly inside the second pass (the deployed agent posts
 * every 20 minutes) shows no step back: its rows are read as the first pass,
 * land on the instants already stored and count as repeated. An hour a year
 * can be missing; none is ever counted twice.
 */
export class SeedTimeResolver {
  private readonly offsetAt: OffsetLookup;
  private previous = Number.NEGATIVE_INFINITY;
  private readonly repeatedHourLines = new Map<string, number>();

  constructor(timeZone: string) {
    this.offsetAt = zoneOffsets(timeZone);
  }

  /** `line` is the row's text (all fields), used to recognise a repeated row. */
  resolve(localAsUtc: number, line: string): { ms: number; kind: LocalTimeKind } {
    const candidates = instantsOfLocal(localAsUtc, this.offsetAt);
    if (candidates.length === 1) return { ms: candidates[0]!, kind: "exact" };
    if (candidates.length === 0) {
      const offsetBefore = this.offsetAt(localAsUtc - 86_400_000);
      return { ms: localAsUtc - offsetBefore * 60_000, kind: "skipped" };
    }
    const [first, second] = candidates as [number, number];
    const seen = this.repeatedHourLines.get(line);
    if (seen !== undefined) return { ms: seen, kind: seen === first ? "repeated-first" : "repeated-second" };
    const kind = first < this.previous ? "repeated-second" : "repeated-first";
    const ms = kind === "repeated-second" ? second : first;
    this.repeatedHourLines.set(line, ms);
    return { ms, kind };
  }

  /** Records the instant of a row that was accepted (the reference for the next step back). */
  accept(ms: number): void {
    if (ms > this.previous) this.previous = ms;
  }
}
