import { afterEach, describe, expect, it } from "vitest";
import { weeklyReportComposer } from "../../../src/central/delivery/composer.js";
import { NO_TAGS, parseDeliveryGroups } from "../../../src/central/delivery/groups.js";
import { isoWeekBefore, isoWeekOf, weekInstants } from "../../../src/central/delivery/week.js";
import { tagsDuring } from "../../../src/central/storage/tag-store.js";
import type { MetricRow } from "../../../src/protocol/index.js";
import { type StoreBackend, storeBackends, type TempStore, upload } from "../../helpers/store-backends.js";

/**
 * store.tags' history on SQLite and PostgreSQL, and the weekly report of a
 * group that selects by tags: a server that moved from team A to team B
 * this week is in A's report for last week and in B's for this week. Dates
 * are relative to the real clock: last week and this week, whatever today is.
 */
const BACKENDS = await storeBackends();
const TZ = "UTC";
const HOUR = 3_600_000;

function row(server: string, ts: number): MetricRow {
  return {
    timestamp: ts,
    server,
    cpuPercent: 20,
    cpuPeakPercent: 30,
    intervalSeconds: 60,
    memTotalBytes: 8_000_000_000,
    memUsedBytes: 2_000_000_000,
    memAvailableBytes: 6_000_000_000,
    diskMount: "/",
    diskTotalBytes: 100_000_000_000,
    diskUsedBytes: 30_000_000_000,
    diskFreeBytes: 70_000_000_000,
  };
}

describe.each(BACKENDS)("tag history: $name", (backend: StoreBackend) => {
  let t: TempStore | undefined;
  afterEach(async () => {
    await t?.cleanup();
    t = undefined;
  });
  const open = async (ctx: { skip: (why: string) => void }) => {
    if (backend.skipReason !== undefined) ctx.skip(backend.skipReason);
    t = await backend.make();
    return t.store;
  };

  it("keeps intervals: a change closes the old value and opens the new; an unchanged set writes nothing", async (ctx) => {
    const store = await open(ctx);
    const now = Date.now();
    const t0 = now - 10 * 24 * HOUR;
    const t1 = now - 3 * 24 * HOUR;
    expect(await store.tags.replace("app-01", "agent", { team: "a", env: "prod" }, t0)).toBe(true);
    expect(await store.tags.replace("app-01", "agent", { env: "prod", team: "a" }, t0 + HOUR)).toBe(false);
    expect(await store.tags.replace("app-01", "agent", { team: "b", env: "prod" }, t1)).toBe(true);
    const all = await store.tags.during(0, now + HOUR);
    expect(all.map((i) => [i.key, i.value, i.from, i.to])).toEqual([
      ["env", "prod", t0, null],
      ["team", "a", t0, t1],
      ["team", "b", t1, null],
    ]);
    // Before t1 the server was A's, after it B's; intervals that end before a span are not in it.
    expect(tagsDuring(await store.tags.during(t0, t1)).get("app-01")).toEqual({ team: "a", env: "prod" });
    expect(tagsDuring(await store.tags.during(t1 + 1, now)).get("app-01")).toEqual({
      team: "b",
      env: "prod",
    });
    expect(await store.tags.during(0, t0)).toEqual([]);
    // Replacing with no tags closes every open one.
    expect(await store.tags.replace("app-01", "agent", {}, now)).toBe(true);
    expect(await store.tags.current("app-01")).toEqual([]);
  });

  it("merges central edits, which win over the agent's value, and refuses more than 32 central tags", async (ctx) => {
    const store = await open(ctx);
    const now = Date.now();
    await store.tags.replace("app-01", "agent", { team: "a", env: "prod" }, now - HOUR);
    expect(
      await store.tags.edit("app-01", { set: { team: "c", site: "fra" }, unset: [] }, now - 60_000),
    ).toBe(true);
    expect(await store.tags.edit("app-01", { set: { team: "c" }, unset: ["nothing"] }, now)).toBe(false);
    const current = await store.tags.current("app-01");
    expect(current.map((r) => [r.source, r.key, r.value])).toEqual([
      ["agent", "env", "prod"],
      ["agent", "team", "a"],
      ["central", "site", "fra"],
      ["central", "team", "c"],
    ]);
    expect(tagsDuring(await store.tags.during(now - 1000, now + 1000)).get("app-01")).toEqual({
      env: "prod",
      team: "c",
      site: "fra",
    });
    const many = Object.fromEntries(Array.from({ length: 31 }, (_, i) => [`k${i}`, "v"]));
    await expect(store.tags.edit("app-01", { set: many, unset: [] }, now)).rejects.toThrow(/at most 32/);
    expect(await store.tags.current("app-01")).toEqual(current);
    // A second instance sees the same, and two edits at once leave one open row per key.
    const other = await t!.another();
    await Promise.all([
      store.tags.edit("app-01", { set: { site: "ams" }, unset: [] }, now + 1),
      other.tags.edit("app-01", { set: { site: "ber" }, unset: [] }, now + 2),
    ]);
    const sites = (await other.tags.current("app-01")).filter((r) => r.key === "site");
    expect(sites).toHaveLength(1);
    expect(["ams", "ber"]).toContain(sites[0]!.value);
  });

  it("reports a server that moved from team A to team B under A last week and under B this week", async (ctx) => {
    const store = await open(ctx);
    const now = Date.now();
    const thisWeek = isoWeekOf(now, TZ);
    const lastWeek = isoWeekBefore(now, TZ);
    const cur = weekInstants(thisWeek, TZ);
    const prev = weekInstants(lastWeek, TZ);
    expect(prev.to).toBe(cur.from);
    // Samples in both weeks for both servers (this week's from its start up to now).
    for (const server of ["app-01", "app-02"]) {
      const ts = [prev.from + 24 * HOUR, prev.from + 25 * HOUR, cur.from];
      if (now - 60_000 > cur.from) ts.push(now - 60_000);
      await upload(
        store,
        ts.map((x) => row(server, x)),
      );
    }
    // app-02 is A's throughout; app-01 was A's and moved to B during this week.
    const moved = cur.from + Math.floor((now - cur.from) / 2);
    await store.tags.replace("app-02", "agent", { team: "a" }, prev.from - 7 * 24 * HOUR);
    await store.tags.replace("app-01", "agent", { team: "a", env: "prod" }, prev.from - 7 * 24 * HOUR);
    await store.tags.replace("app-01", "agent", { team: "b", env: "prod" }, moved);

    const groups = parseDeliveryGroups(
      {
        default: { enabled: false },
        groups: [
          { name: "team-a", select: "team=a", to: ["a@example.com"] },
          { name: "team-b", tags: { team: "b" }, to: ["b@example.com"] },
          { name: "b-apps", select: "team=b,name=app-*", to: ["b@example.com"] },
        ],
      },
      [],
    );
    const compose = weeklyReportComposer(store);
    const serversOf = async (week: string, name: string) => {
      const group = groups.find((g) => g.name === name)!;
      const mail = await compose({ week, group, timeZone: TZ, now });
      const rows = (await store.reports.serverRows(week, name)).map((r) => r.server).sort();
      expect(mail.servers).toBe(rows.length);
      return rows;
    };
    expect(await serversOf(lastWeek, "team-a")).toEqual(["app-01", "app-02"]);
    expect(await serversOf(lastWeek, "team-b")).toEqual([]);
    expect(await serversOf(thisWeek, "team-a")).toEqual(["app-02"]);
    expect(await serversOf(thisWeek, "team-b")).toEqual(["app-01"]);
    expect(await serversOf(thisWeek, "b-apps")).toEqual(["app-01"]);
    // Now, without history: the groups' current members.
    const team = groups.find((g) => g.name === "team-b")!;
    expect(team.includes("app-01", { team: "b" })).toBe(true);
    expect(team.includes("app-01", NO_TAGS)).toBe(false);
  });
});
