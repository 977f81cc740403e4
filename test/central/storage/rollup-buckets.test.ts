import { describe, expect, it } from "vitest";
import { zoneDaysCovering } from "../../../src/central/storage/rollups/buckets.js";

const at = (iso: string) => Date.parse(iso);

describe("zoneDaysCovering", () => {
  it("gives the local days of a zone over a range, across a DST change, the same on every call", () => {
    // Europe/Berlin leaves summer time on 2026-10-25: that day has 25 hours.
    const from = at("2026-10-24T21:00:00Z"); // 23:00 local, Oct 24
    const to = at("2026-10-25T23:30:00Z"); // 00:30 local, Oct 26
    const expected = {
      dates: ["2026-10-24", "2026-10-25", "2026-10-26"],
      dayStarts: [
        at("2026-10-23T22:00:00Z"),
        at("2026-10-24T22:00:00Z"),
        at("2026-10-25T23:00:00Z"),
        at("2026-10-26T23:00:00Z"),
      ],
    };
    const first = zoneDaysCovering("Europe/Berlin", from, to);
    expect(first).toEqual(expected);
    // Answers are remembered and shared, so nobody can change them for the next caller.
    expect(Object.isFrozen(first.dates) && Object.isFrozen(first.dayStarts)).toBe(true);
    expect(() => (first.dates as string[]).push("changed")).toThrow(TypeError);
    expect(zoneDaysCovering("Europe/Berlin", from, to)).toEqual(expected);
    expect(zoneDaysCovering("UTC", from, to).dates).toEqual(["2026-10-24", "2026-10-25"]);
  });

  it("stays right when far more ranges are asked for than it remembers", () => {
    const hour = 3_600_000;
    const base = at("2026-03-01T00:00:00Z");
    for (let i = 0; i < 5_000; i++) {
      const span = zoneDaysCovering("America/New_York", base + i * hour, base + (i + 1) * hour);
      expect(span.dates).toHaveLength(1);
      expect(span.dayStarts[0]).toBeLessThanOrEqual(base + i * hour);
      expect(span.dayStarts[1]).toBeGreaterThan(base + i * hour);
    }
  });
});
