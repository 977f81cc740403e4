import { DateTime } from "luxon";
import { InputError } from "../../errors.js";

/** "2026-W47" for the ISO week containing `instant` in `timeZone`. */
export function isoWeekOf(instant: number, timeZone: string): string {
  const d = DateTime.fromMillis(instant, { zone: timeZone });
  return `${d.weekYear}-W${String(d.weekNumber).padStart(2, "0")}`;
}

/** The last complete ISO week before `instant` in `timeZone` (what a Monday-morning run reports). */
export function isoWeekBefore(instant: number, timeZone: string): string {
  const d = DateTime.fromMillis(instant, { zone: timeZone }).startOf("week").minus({ weeks: 1 });
  return isoWeekOf(d.toMillis(), timeZone);
}

/**
 * "2026-W47" (validated: W53 only in years that have one) or "last".
 * Kept here, independent of the report module, because the scheduler must
 * name the week before any report can be built.
 */
export function resolveDeliveryWeek(spec: string, timeZone: string, now: number): string {
  const s = spec.trim();
  if (s.toLowerCase() === "last") return isoWeekBefore(now, timeZone);
  const m = /^(\d{4})-W(\d{2})$/.exec(s);
  if (m !== null) {
    const d = DateTime.fromObject(
      { weekYear: Number(m[1]), weekNumber: Number(m[2]), weekday: 1 },
      { zone: timeZone },
    );
    if (d.isValid && d.weekYear === Number(m[1]) && d.weekNumber === Number(m[2])) return s;
  }
  throw new InputError(`--week: '${spec}' is not an ISO week; expected e.g. 2026-W47 or "last"`);
}

/** Local Monday and Sunday of an ISO week, YYYY-MM-DD. */
export function weekDateRange(week: string, timeZone: string): { first: string; last: string } {
  const m = /^(\d{4})-W(\d{2})$/.exec(week);
  if (m === null) throw new InputError(`'${week}' is not an ISO week like 2026-W47`);
  const monday = DateTime.fromObject(
    { weekYear: Number(m[1]), weekNumber: Number(m[2]), weekday: 1 },
    { zone: timeZone },
  );
  return { first: monday.toISODate()!, last: monday.plus({ days: 6 }).toISODate()! };
}

/** The instants an ISO week spans in `timeZone`: [Monday 00:00, next Monday 00:00), epoch ms. */
export function weekInstants(week: string, timeZone: string): { from: number; to: number } {
  const m = /^(\d{4})-W(\d{2})$/.exec(week);
  if (m === null) throw new InputError(`'${week}' is not an ISO week like 2026-W47`);
  const monday = DateTime.fromObject(
    { weekYear: Number(m[1]), weekNumber: Number(m[2]), weekday: 1 },
    { zone: timeZone },
  ).startOf("day");
  return { from: monday.toMillis(), to: monday.plus({ weeks: 1 }).toMillis() };
}
