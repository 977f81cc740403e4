import { DateTime, IANAZone } from "luxon";
import { InputError } from "../../errors.js";

/** A week spec the user can't mean (e.g. "2026-W54"); the message says the accepted forms. */
export class WeekError extends InputError {}

export interface ReportWeek {
  /** "2026-W47" */
  week: string;
  timeZone: string;
  /** Local Monday 00:00, epoch ms. */
  from: number;
  /** Next local Monday 00:00, epoch ms (exclusive). */
  to: number;
  /** The seven local dates, YYYY-MM-DD, Monday first. */
  dates: string[];
  /** Epoch ms of each local midnight, 8 entries (the 7 day starts + `to`); days may be 23 or 25 h. */
  dayStarts: number[];
}

const WEEK_SPEC = /^(\d{4})-W(\d{2})$/;
const ACCEPTED = 'expected an ISO week like "2026-W47" or "last"';

/** Resolves "2026-W47" or "last" (the last complete ISO week before `now`) in `timeZone`. */
export function resolveReportWeek(spec: string, timeZone: string, now: number = Date.now()): ReportWeek {
  if (!IANAZone.isValidZone(timeZone)) {
    throw new WeekError(`unknown time zone '${timeZone}': expected an IANA name such as Europe/Berlin`);
  }
  const trimmed = spec.trim();
  let monday: DateTime;
  if (trimmed.toLowerCase() === "last") {
    // The week containing `now` is still running; the one before it is the last complete one.
    const current = DateTime.fromMillis(now, { zone: timeZone }).startOf("week");
    monday = current.minus({ weeks: 1 });
  } else {
    const m = WEEK_SPEC.exec(trimmed);
    if (m === null) throw new WeekError(`week '${spec}': ${ACCEPTED}`);
    const weekYear = Number(m[1]);
    const weekNumber = Number(m[2]);
    const candidate = DateTime.fromObject({ weekYear, weekNumber, weekday: 1 }, { zone: timeZone });
    if (
      weekNumber < 1 ||
      !candidate.isValid ||
      candidate.weekYear !== weekYear ||
      candidate.weekNumber !== weekNumber
    ) {
      const weeks = DateTime.fromObject({ weekYear, weekNumber: 1 }, { zone: timeZone }).weeksInWeekYear;
      throw new WeekError(
        `week '${spec}' does not exist: ${weekYear} has weeks 01 to ${weeks} (${ACCEPTED})`,
      );
    }
    monday = candidate.startOf("day");
  }
  const days = localDays(monday.toISODate()!, 7, timeZone);
  return {
    week: `${monday.weekYear}-W${String(monday.weekNumber).padStart(2, "0")}`,
    timeZone,
    from: days.dayStarts[0]!,
    to: days.dayStarts[7]!,
    dates: days.dates,
    dayStarts: days.dayStarts,
  };
}

export interface LocalDays {
  /** YYYY-MM-DD, `count` entries. */
  dates: string[];
  /** Epoch ms of each local midnight, `count + 1` entries (the last is the exclusive end). */
  dayStarts: number[];
}

/**
 * `count` consecutive local calendar days starting at `firstDate` in `timeZone`.
 * Each day starts at local 00:00 (or the first existing instant after it, for
 * zones that skip midnight), so DST days are 23 or 25 hours long.
 */
export function localDays(firstDate: string, count: number, timeZone: string): LocalDays {
  const start = DateTime.fromISO(firstDate, { zone: timeZone }).startOf("day");
  if (!start.isValid) throw new WeekError(`'${firstDate}' is not a date (expected YYYY-MM-DD)`);
  const dates: string[] = [];
  const dayStarts: number[] = [];
  for (let i = 0; i <= count; i++) {
    const day = start.plus({ days: i }).startOf("day");
    if (i < count) dates.push(day.toISODate()!);
    dayStarts.push(day.toMillis());
  }
  return { dates, dayStarts };
}

/** Local Monday 00:00 as ISO 8601 with the zone's offset, e.g. 2026-11-16T00:00:00.000+01:00. */
export function isoInZone(ms: number, timeZone: string): string {
  return DateTime.fromMillis(ms, { zone: timeZone }).toISO()!;
}
