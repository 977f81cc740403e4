// OWNER: report helper. Signatures are a contract used by the CLI and delivery code.

/** A week spec the user can't mean (e.g. "2026-W54"); the message says the accepted forms. */
export class WeekError extends Error {
  override readonly name = "WeekError";
}

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

/** Resolves "2026-W47" or "last" (the last complete ISO week before `now`) in `timeZone`. */
export function resolveReportWeek(spec: string, timeZone: string, now: number = Date.now()): ReportWeek {
  void spec;
  void timeZone;
  void now;
  throw new Error("resolveReportWeek: not implemented yet");
}
