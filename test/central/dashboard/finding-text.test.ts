import { describe, expect, it } from "vitest";
import {
  daysFromNow,
  findingLabel,
  findingMessage,
  findingShown,
} from "../../../src/central/dashboard/layout.js";

const DAY = 86_400_000;
const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

describe("a finding on the dashboard", () => {
  it("does not repeat its title after its label", () => {
    const cases: [string, string, string][] = [
      [
        "memory_pressure",
        "Memory pressure: average use 97 % on Mon 30 Nov.",
        "average use 97 % on Mon 30 Nov.",
      ],
      [
        "stopped_reporting",
        "Stopped reporting: last sample Fri 4 Dec 11:55.",
        "last sample Fri 4 Dec 11:55.",
      ],
      ["silent", "Silent: no data received this week.", "no data received this week."],
      // The report's own title differs from the dashboard's label: dropped too.
      [
        "cpu_sustained_high",
        "Sustained high CPU: whole-day average above 75 %.",
        "whole-day average above 75 %.",
      ],
      ["coverage_gap", "Gaps in data: received 50 % on Wed 2 Dec.", "received 50 % on Wed 2 Dec."],
    ];
    for (const [kind, message, shown] of cases) {
      expect(findingMessage(kind, message), kind).toBe(shown);
      const line = `${findingLabel(kind)}: ${findingMessage(kind, message)}`;
      expect(line, kind).not.toMatch(/^([^:]+): \1:/);
    }
  });

  it("keeps a message whose start is a sentence, not a title", () => {
    const disk = "Disk /scratch is 86 % full: 67.9 GiB free of 475 GiB (threshold 85 %).";
    expect(findingMessage("disk_full", disk)).toBe(disk);
    const trend =
      "Memory use grew from 66 % to 85 % since Wed 2 Dec 01:00; at this rate it reaches 100 % around Thu 10 Dec (in 3 days).";
    expect(findingMessage("memory_trend", trend)).toBe(trend);
  });

  it("counts a forecast's days from today, not from the end of the report's week", () => {
    const now = Date.now();
    const inTen = isoDay(now + 10 * DAY);
    expect(daysFromNow(inTen, now)).toBe(10);
    const disk = {
      kind: "disk_full_forecast",
      date: inTen,
      message: `Disk /data will be full around ${inTen} (in 16 days) at its growth of 2 GiB/day.`,
    };
    expect(findingShown(disk, now)).toBe(
      `Disk /data will be full around ${inTen} (in 10 days from today) at its growth of 2 GiB/day.`,
    );
    const trend = {
      kind: "memory_trend",
      date: isoDay(now + DAY),
      message:
        "Memory use grew from 60 % to 80 %; at this rate it reaches 100 % around Tue 8 Dec (in 3 days).",
    };
    expect(findingShown(trend, now)).toContain("(tomorrow)");
    expect(findingShown({ ...trend, date: isoDay(now - 2 * DAY) }, now)).toContain("(already past)");
  });
});
