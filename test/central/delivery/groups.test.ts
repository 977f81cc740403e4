import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  GroupsConfigError,
  globToRegExp,
  loadDeliveryGroups,
  NO_TAGS,
  parseDeliveryGroups,
} from "../../../src/central/delivery/groups.js";
import { isoWeekBefore, resolveDeliveryWeek, weekDateRange } from "../../../src/central/delivery/week.js";

describe("groups file", () => {
  it("without a file there is one default group (the whole fleet) to SRVUTIL_REPORT_TO", () => {
    const [g, ...rest] = loadDeliveryGroups(null, ["ops@example.com"]);
    expect(rest).toEqual([]);
    expect(g!.name).toBe("default");
    expect(g!.recipients).toEqual({ to: ["ops@example.com"], cc: [], bcc: [] });
    expect(g!.includes("anything-01", NO_TAGS)).toBe(true);
  });

  it("maps server globs to recipients; the default group can be redirected or disabled", () => {
    const groups = parseDeliveryGroups(
      {
        default: { to: ["all@example.com"], bcc: ["audit@example.com"] },
        groups: [
          { name: "web", servers: ["web-*", "lb-0?"], to: ["w@example.com"], cc: ["c@example.com"] },
          { name: "db", servers: ["db.*"], to: ["d@example.com"] },
        ],
      },
      ["ops@example.com"],
    );
    expect(groups.map((g) => g.name)).toEqual(["default", "web", "db"]);
    const web = groups[1]!;
    expect(["web-01", "WEB-02", "lb-01"].map((n) => web.includes(n, NO_TAGS))).toEqual([true, true, true]);
    expect(["web", "lb-001", "db-01", "xweb-01"].map((n) => web.includes(n, NO_TAGS))).toEqual([
      false,
      false,
      false,
      false,
    ]);
    expect(groups[2]!.includes("db.eu-1", NO_TAGS)).toBe(true);
    expect(groups[2]!.includes("dbXeu", NO_TAGS)).toBe(false); // "." is literal
    expect(groups[0]!.recipients).toEqual({ to: ["all@example.com"], cc: [], bcc: ["audit@example.com"] });
    expect(parseDeliveryGroups({ default: { enabled: false } }, ["x@y.z"])).toEqual([]);
  });

  it("names the file and the field to fix", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-groups-"));
    try {
      const file = path.join(dir, "groups.json");
      writeFileSync(file, "{ not json");
      expect(() => loadDeliveryGroups(file, [])).toThrow(/groups\.json: not valid JSON/);
      expect(() => loadDeliveryGroups(path.join(dir, "missing.json"), [])).toThrow(
        /SRVUTIL_GROUPS_FILE: cannot read/,
      );
      writeFileSync(
        file,
        JSON.stringify({ groups: [{ name: "web", servers: ["web-*"], to: ["not-an-address"] }] }),
      );
      expect(() => loadDeliveryGroups(file, [])).toThrow(
        /groups\.json: groups\.0\.to\.0: expected an email address/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const bad = (json: unknown) => () => parseDeliveryGroups(json, []);
    expect(bad({ groups: [{ name: "default", servers: ["*"], to: ["a@b.c"] }] })).toThrow(/reserved/);
    expect(bad({ groups: [{ name: "web", servers: [], to: ["a@b.c"] }] })).toThrow(
      /at least one server glob/,
    );
    expect(bad({ groups: [{ name: "web", servers: ["web/*"], to: ["a@b.c"] }] })).toThrow(/wildcards/);
    expect(bad({ groups: [{ name: "web", servers: ["a"], to: [] }] })).toThrow(/at least one 'to'/);
    expect(
      bad({
        groups: [
          { name: "w", servers: ["a"], to: ["a@b.c"] },
          { name: "w", servers: ["b"], to: ["a@b.c"] },
        ],
      }),
    ).toThrow(/defined twice/);
    expect(bad({ groups: [{ name: "w", servers: ["a"], to: ["a@b.c"], tags: ["x"] }] })).toThrow(
      GroupsConfigError,
    );
    expect(globToRegExp("a+b*").test("a+bcd")).toBe(true);
  });
});

describe("report weeks", () => {
  it("a Monday 07:00 run reports the previous ISO week in the report time zone", () => {
    // Monday 2026-11-23 00:30 in Berlin is still Sunday in UTC.
    expect(isoWeekBefore(Date.parse("2026-11-22T23:30:00Z"), "Europe/Berlin")).toBe("2026-W47");
    expect(isoWeekBefore(Date.parse("2026-11-22T23:30:00Z"), "UTC")).toBe("2026-W46");
    expect(isoWeekBefore(Date.parse("2027-01-04T06:00:00Z"), "Europe/Berlin")).toBe("2026-W53");
    expect(resolveDeliveryWeek("last", "UTC", Date.parse("2026-11-25T12:00:00Z"))).toBe("2026-W47");
    expect(resolveDeliveryWeek("2026-W53", "UTC", 0)).toBe("2026-W53");
    expect(() => resolveDeliveryWeek("2025-W53", "UTC", 0)).toThrow(/not an ISO week/);
    expect(() => resolveDeliveryWeek("2026-47", "UTC", 0)).toThrow(/--week/);
    expect(weekDateRange("2026-W47", "Europe/Berlin")).toEqual({ first: "2026-11-16", last: "2026-11-22" });
  });
});
