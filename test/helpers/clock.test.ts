import { describe, expect, it } from "vitest";
import {
  isoWeekAgo,
  isoWeekMondayAgo,
  lastDstChanges,
  recentShift,
  shiftDates,
  utcDateDaysAgo,
  WEEK_MS,
  weeksToRecent,
} from "./clock.js";

// The helpers take `now` so their calendar arithmetic can be checked on known dates; the tests that
// use them pass none, and get the real clock.
const WED_2026_12_09 = Date.parse("2026-12-09T15:00:00Z");

describe("test/helpers/clock.ts", () => {
  it("names recent days and ISO weeks from the clock", () => {
    expect(utcDateDaysAgo(9, WED_2026_12_09)).toBe("2026-11-30");
    expect(isoWeekAgo(0, WED_2026_12_09)).toBe("2026-W50");
    expect(isoWeekAgo(50, WED_2026_12_09)).toBe("2025-W52");
    expect(new Date(isoWeekMondayAgo(1, WED_2026_12_09)).toISOString()).toBe("2026-11-30T00:00:00.000Z");
    expect(isoWeekAgo(0)).toMatch(/^\d{4}-W\d\d$/);
  });

  it("shifts every date, ISO week and file-name date by whole weeks, keeping weekday and time of day", () => {
    const text = "2026-W53 2026-12-31T23:50:00Z,DB-01_2026-02-14_12-00-09 2026-02-13 23:50:00 v1.2026-01";
    expect(shiftDates(text, 1)).toBe(
      "2027-W01 2027-01-07T23:50:00Z,DB-01_2026-02-21_12-00-09 2026-02-20 23:50:00 v1.2026-01",
    );
    expect(shiftDates(shiftDates(text, 57), -57)).toBe(text);
    expect(new Date(shiftDates("2026-03-01", 3)).getUTCDay()).toBe(new Date("2026-03-01").getUTCDay());
  });

  it("moves an anchor to the week asked for, or by 52-week years to less than a year before it", () => {
    expect(weeksToRecent("2026-11-23", { now: WED_2026_12_09 })).toBe(1);
    expect(weeksToRecent("2026-W47", { minWeeksAgo: 3, now: WED_2026_12_09 })).toBe(0);
    const far = WED_2026_12_09 + 480 * 86_400_000;
    const at = recentShift("2026-02-13", { multipleOf: 52, now: far });
    expect(at.weeks).toBe(104);
    expect(at("2026-02-13")).toBe("2028-02-11");
    expect(at.ms(0)).toBe(104 * WEEK_MS);
    expect(() => weeksToRecent("2027-01-04", { now: WED_2026_12_09 })).toThrow(/lies after/);
  });

  it("finds a zone's last skipped and repeated hours, and none for a zone without DST", () => {
    expect(lastDstChanges("Europe/Berlin", WED_2026_12_09)).toEqual({
      skipped: "2026-03-29 02:30:00",
      repeated: "2026-10-25 02:30:00",
    });
    expect(lastDstChanges("America/New_York", WED_2026_12_09)).toEqual({
      skipped: "2026-03-08 02:30:00",
      repeated: "2026-11-01 01:30:00",
    });
    expect(lastDstChanges("Asia/Kolkata", WED_2026_12_09)).toBeNull();
  });
});
