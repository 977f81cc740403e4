// ISO 8601 date-time with a mandatory zone: Z or ±HH:MM (±HHMM also accepted).
const ISO_WITH_ZONE =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|z|[+-]\d{2}:?\d{2})$/;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * Parses an ISO 8601 timestamp that carries Z or an offset into epoch ms.
 * Returns null for anything else, including local times without a zone (their
 * meaning depends on the reader's machine) and impossible dates like 02-30.
 */
export function parseTimestamp(text: string): number | null {
  const m = ISO_WITH_ZONE.exec(text);
  if (m === null) return null;
  const frac = m[7] === undefined ? 0 : Math.floor(Number(`0.${m[7]}`) * 1000);
  const utc = utcFromFields(+m[1]!, +m[2]!, +m[3]!, +m[4]!, +m[5]!, +m[6]!, frac);
  if (utc === null) return null;
  let offsetMinutes = 0;
  const zone = m[8]!;
  if (zone !== "Z" && zone !== "z") {
    const sign = zone[0] === "-" ? -1 : 1;
    const digits = zone.slice(1).replace(":", "");
    const oh = Number(digits.slice(0, 2));
    const om = Number(digits.slice(2, 4));
    if (oh > 18 || om > 59) return null;
    offsetMinutes = sign * (oh * 60 + om);
  }
  return utc - offsetMinutes * 60_000;
}

/**
 * Epoch ms of a UTC calendar date and time (month 1-12), or null for an
 * impossible one (02-30, 24:00, second 60). Shared by parseTimestamp and the
 * byte-level fast path, so both read a timestamp the same way.
 */
export function utcFromFields(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  ms: number,
): number | null {
  if (month < 1 || month > 12 || day < 1) return null;
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const dim = month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!;
  if (day > dim || hour > 23 || minute > 59 || second > 59) return null;
  return Date.UTC(year, month - 1, day, hour, minute, second, ms);
}

/** Formats epoch ms as `2026-11-23T10:00:00Z` (milliseconds only when non-zero). */
export function formatTimestamp(ms: number): string {
  const iso = new Date(ms).toISOString();
  return iso.endsWith(".000Z") ? `${iso.slice(0, 19)}Z` : iso;
}
