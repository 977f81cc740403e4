/**
 * Dates relative to the real clock, for tests whose data goes through ingest.
 *
 * The central refuses samples older than its ingest horizon (hourly rollup
 * retention, 13 months by default, plus 3 days), so a test that posts data of
 * a fixed date starts failing once the real clock has moved on far enough.
 * These helpers give recent dates instead, and move a fixture written for a
 * fixed date forward by a whole number of weeks: weekday and time of day stay
 * what the fixture (and the figures worked out from it) say.
 *
 * Shifting works on the text: every calendar date `YYYY-MM-DD` moves by 7·N
 * days and every ISO week `YYYY-Www` by N weeks, whatever follows it. For a
 * UTC timestamp that is exactly N weeks; for the seed format's zone-less
 * local times it keeps the wall-clock time, which is what its reader sees.
 * Across a DST change the UTC instant of a local time moves by an hour, so a
 * test about local times in a DST zone shifts by whole 52-week years
 * (`{ multipleOf: 52 }`), which keep the season.
 */
import { DateTime } from "luxon";

export const DAY_MS = 86_400_000;
export const WEEK_MS = 7 * DAY_MS;

const CALENDAR_DATE = /(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)/g;
const ISO_WEEK = /(?<!\d)(\d{4})-W(\d{2})\b/g;

/** UTC midnight `days` days before today (real clock), epoch ms. */
export function utcMidnightDaysAgo(days: number, now = Date.now()): number {
  const d = new Date(now);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() - days);
}

/** The calendar date (UTC) `days` days before today, `YYYY-MM-DD`. */
export function utcDateDaysAgo(days: number, now = Date.now()): string {
  return new Date(utcMidnightDaysAgo(days, now)).toISOString().slice(0, 10);
}

/** The ISO week `weeks` weeks before the current one (UTC), e.g. `2027-W14`. */
export function isoWeekAgo(weeks: number, now = Date.now()): string {
  return DateTime.fromMillis(now, { zone: "utc" }).minus({ weeks }).toFormat("kkkk-'W'WW");
}

/** Monday 00:00 UTC of the ISO week `weeks` weeks before the current one, epoch ms. */
export function isoWeekMondayAgo(weeks: number, now = Date.now()): number {
  return DateTime.fromMillis(now, { zone: "utc" }).minus({ weeks }).startOf("week").toMillis();
}

/**
 * The whole number of weeks (≥ 0) to add to a fixture dated `anchor` (a date,
 * a UTC timestamp or an ISO week) so that it falls at least `minWeeksAgo`
 * whole weeks before the current ISO week, as recently as `multipleOf` allows:
 * with 1 the anchor's week becomes exactly the week `minWeeksAgo` back; with
 * 52 it stays in its season and lands less than a year before that week.
 * An anchor later than that week is an error: no fixture moves backwards.
 */
export function weeksToRecent(
  anchor: string,
  o: { minWeeksAgo?: number; multipleOf?: number; now?: number } = {},
): number {
  const minWeeksAgo = o.minWeeksAgo ?? 1;
  const multipleOf = o.multipleOf ?? 1;
  const target = isoWeekMondayAgo(minWeeksAgo, o.now);
  const anchorMonday = mondayOf(anchor);
  const behind = Math.round((target - anchorMonday) / WEEK_MS);
  if (behind < 0) throw new Error(`weeksToRecent: ${anchor} lies after the week it should move to`);
  return Math.floor(behind / multipleOf) * multipleOf;
}

/** Every calendar date and ISO week in `text` moved `weeks` weeks later (earlier when negative). */
export function shiftDates(text: string, weeks: number): string {
  if (weeks === 0) return text;
  return text
    .replace(ISO_WEEK, (_m, y: string, w: string) =>
      DateTime.fromObject({ weekYear: Number(y), weekNumber: Number(w) }, { zone: "utc" })
        .plus({ weeks })
        .toFormat("kkkk-'W'WW"),
    )
    .replace(CALENDAR_DATE, (_m, y: string, mo: string, d: string) =>
      new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d) + 7 * weeks)).toISOString().slice(0, 10),
    );
}

/** An epoch-ms instant moved `weeks` weeks later. */
export function shiftMs(t: number, weeks: number): number {
  return t + weeks * WEEK_MS;
}

/**
 * A shifter for one test file's fixed dates: `at("2026-11-23T10:00:00Z")`
 * is that text moved to the recent week `weeksToRecent` picks for `anchor`;
 * `at.weeks` is the shift, `at.ms(t)` moves an instant.
 */
export function recentShift(
  anchor: string,
  o: { minWeeksAgo?: number; multipleOf?: number; now?: number } = {},
): ((text: string) => string) & { weeks: number; ms(t: number): number } {
  const weeks = weeksToRecent(anchor, o);
  return Object.assign((text: string) => shiftDates(text, weeks), {
    weeks,
    ms: (t: number) => shiftMs(t, weeks),
  });
}

function mondayOf(anchor: string): number {
  const week = /^(\d{4})-W(\d{2})$/.exec(anchor);
  const dt = week
    ? DateTime.fromObject({ weekYear: Number(week[1]), weekNumber: Number(week[2]) }, { zone: "utc" })
    : DateTime.fromISO(`${anchor.slice(0, 10)}T00:00:00Z`, { zone: "utc" });
  if (!dt.isValid) throw new Error(`not a date or ISO week: ${anchor}`);
  return dt.startOf("week").toMillis();
}

/**
 * The variables that carry a faked clock (libfaketime, as `npm run
 * test:future` sets it) to a child process, for tests that start one with a
 * clean environment: the child must see the clock the central sees. Empty
 * when the clock is real.
 */
export function fakedClockEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (v !== undefined && (k === "LD_PRELOAD" || k.startsWith("FAKETIME"))) out[k] = v;
  }
  return out;
}

/**
 * The local wall-clock texts (`YYYY-MM-DD HH:mm:ss`, as the seed agent writes
 * them) in the middle of the most recent hour `zone` skipped (clocks moved
 * forward) and of the most recent hour it repeated (clocks moved back), both
 * within the past year of the real clock; null for a zone without such a
 * change in that year.
 */
export function lastDstChanges(zone: string, now = Date.now()): { skipped: string; repeated: string } | null {
  const offsetAt = (t: number) => DateTime.fromMillis(t, { zone }).offset;
  const wall = (t: number, offsetMinutes: number) =>
    DateTime.fromMillis(t + offsetMinutes * 60_000, { zone: "utc" }).toFormat("yyyy-MM-dd HH:mm:ss");
  let skipped: string | null = null;
  let repeated: string | null = null;
  // Back from now a day at a time; a day whose ends differ in offset holds a change, found to the minute.
  for (let end = now; end > now - 366 * DAY_MS && (skipped === null || repeated === null); end -= DAY_MS) {
    const before = offsetAt(end - DAY_MS);
    const after = offsetAt(end);
    if (before === after) continue;
    let lo = end - DAY_MS; // offset `before`
    let hi = end; // offset `after`
    while (hi - lo > 60_000) {
      const mid = lo + Math.floor((hi - lo) / 2);
      if (offsetAt(mid) === before) lo = mid;
      else hi = mid;
    }
    const change = Math.floor(hi / 60_000) * 60_000; // hi is within the minute after the change
    const halfHour = (Math.abs(after - before) / 2) * 60_000;
    if (after > before && skipped === null) skipped = wall(change + halfHour, before);
    if (after < before && repeated === null) repeated = wall(change + halfHour, after);
  }
  return skipped === null || repeated === null ? null : { skipped, repeated };
}
