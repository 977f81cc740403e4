/**
 * A past week's report can be rebuilt at any later time and comes out the
 * same: same JSON (but for generated_at), same HTML, same text, from rollups
 * and from raw rows.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveReportWeek } from "../../../src/central/aggregate/week.js";
import { buildWeeklyReport, renderReport, type WeeklyReport } from "../../../src/central/report/index.js";
import { demoFleet } from "../../helpers/demo-fleet.js";
import { type TempStore, tempStore } from "../../helpers/store-backends.js";

const TZ = "Europe/Berlin";
const withoutClock = (r: WeeklyReport) => ({ ...r, generated_at: "" });

describe("rebuilding a past week", () => {
  let t: TempStore;
  const week = resolveReportWeek("2026-W46", TZ);
  beforeAll(async () => {
    t = await tempStore();
    await demoFleet(t.store, week, 21);
  });
  afterAll(async () => {
    await t.cleanup();
  });

  it("is deterministic for the same data, whenever and however it is built", async () => {
    const monday = week.to + 7 * 3600_000;
    const first = await buildWeeklyReport(t.store, { week: week.week, timeZone: TZ, now: monday });
    const later = await buildWeeklyReport(t.store, {
      week: week.week,
      timeZone: TZ,
      now: monday + 90 * 86_400_000,
    });
    const raw = await buildWeeklyReport(t.store, {
      week: week.week,
      timeZone: TZ,
      now: monday,
      source: "raw",
    });
    expect(first.servers.length).toBeGreaterThan(5);
    expect(withoutClock(later)).toEqual(withoutClock(first));
    expect(withoutClock(raw).servers).toEqual(withoutClock(first).servers);

    const html1 = await renderReport(first, "standalone");
    const html2 = await renderReport({ ...later, generated_at: first.generated_at }, "standalone");
    expect(html2.html).toBe(html1.html);
    expect(html2.text).toBe(html1.text);
    expect(html2.subject).toBe(html1.subject);
  });
});
