import { describe, expect, it } from "vitest";
import { resolveReportWeek, WeekError } from "../../../src/central/aggregate/week.js";

const hours = (starts: number[]) => starts.slice(1).map((t, i) => (t - starts[i]!) / 3_600_000);

describe("resolveReportWeek", () => {
  it("cuts 2026-W43 in Europe/Berlin into local days ending with a 25-hour Sunday", () => {
    const w = resolveReportWeek("2026-W43", "Europe/Berlin");
    expect(w.week).toBe("2026-W43");
    expect(w.dates).toEqual([
      "2026-10-19",
      "2026-10-20",
      "2026-10-21",
      "2026-10-22",
      "2026-10-23",
      "2026-10-24",
      "2026-10-25",
    ]);
    expect(new Date(w.from).toISOString()).toBe("2026-10-18T22:00:00.000Z");
    expect(new Date(w.to).toISOString()).toBe("2026-10-25T23:00:00.000Z");
    expect(hours(w.dayStarts)).toEqual([24, 24, 24, 24, 24, 24, 25]);
  });

  it("gives 2026-W13 in Europe/Berlin a 23-hour Sunday", () => {
    const w = resolveReportWeek("2026-W13", "Europe/Berlin");
    expect(w.dates[6]).toBe("2026-03-29");
    expect(hours(w.dayStarts)).toEqual([24, 24, 24, 24, 24, 24, 23]);
    expect(new Date(w.to).toISOString()).toBe("2026-03-29T22:00:00.000Z");
  });

  it("handles zones with non-whole-hour offsets", () => {
    const w = resolveReportWeek("2026-W47", "Asia/Kolkata");
    expect(new Date(w.from).toISOString()).toBe("2026-11-15T18:30:00.000Z");
    expect(w.dayStarts).toHaveLength(8);
  });

  it('resolves "last" to the last complete week before now, in the zone', () => {
    // Monday 2026-11-23 00:30 in Berlin is still Sunday 23:30 UTC.
    const now = Date.UTC(2026, 10, 22, 23, 30);
    expect(resolveReportWeek("last", "Europe/Berlin", now).week).toBe("2026-W47");
    expect(resolveReportWeek("last", "UTC", now).week).toBe("2026-W46");
    // Across a year boundary into a 53-week year.
    expect(resolveReportWeek("last", "UTC", Date.UTC(2027, 0, 5)).week).toBe("2026-W53");
  });

  it("accepts W53 only in years that have it", () => {
    expect(resolveReportWeek("2026-W53", "UTC").dates[0]).toBe("2026-12-28");
    expect(() => resolveReportWeek("2025-W53", "UTC")).toThrow(/2025 has weeks 01 to 52/);
  });

  it.each(["2026-W00", "2026-W54", "2026W47", "2026-47", "last week", "", "2026-W4"])(
    "refuses %j with a WeekError naming the accepted forms",
    (spec) => {
      const call = () => resolveReportWeek(spec, "UTC");
      expect(call).toThrow(WeekError);
      expect(call).toThrow(/2026-W47.*last|weeks 01 to/);
    },
  );

  it("refuses an unknown time zone", () => {
    expect(() => resolveReportWeek("2026-W47", "Mars/Olympus")).toThrow(/unknown time zone 'Mars\/Olympus'/);
  });
});
