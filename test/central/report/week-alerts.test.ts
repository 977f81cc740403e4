/**
 * "Alerts this week" (issue 28): the weekly report's `alerts` and its
 * section in the email digest (HTML and text) and the full report, from
 * episodes stored through the real alert store (store.alerts.commitEvaluation)
 * on SQLite and PostgreSQL, for last week by the real clock.
 */
import { DateTime } from "luxon";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveReportWeek } from "../../../src/central/aggregate/week.js";
import type { AlertEpisode } from "../../../src/central/alerts/types.js";
import { weeklyReportComposer } from "../../../src/central/delivery/composer.js";
import { parseDeliveryGroups } from "../../../src/central/delivery/groups.js";
import {
  buildWeeklyReport,
  renderDigest,
  renderReport,
  type WeeklyReport,
} from "../../../src/central/report/index.js";
import type { Storage } from "../../../src/central/storage/store.js";
import type { MetricRow } from "../../../src/protocol/index.js";
import { alertCommit, alertEpisode } from "../../helpers/alerts.js";
import { DAY_MS } from "../../helpers/clock.js";
import { storeBackends, type TempStore, upload } from "../../helpers/store-backends.js";

const BACKENDS = await storeBackends();
const TZ = "Europe/Berlin";
const HOUR = 3_600_000;
const MIN = 60_000;
const GROUP = (s: string) => s === "db-01" || s === "web-01" || s === "quiet-01";
const HOSTILE = `<img src=x onerror=alert(1)> & "q" full soon\nFAKE LINE`;

/** Hourly samples of `server` from `from` to `to`. */
function hourly(server: string, from: number, to: number): MetricRow[] {
  const rows: MetricRow[] = [];
  for (let ts = from, i = 0; ts < to; ts += HOUR, i++) {
    rows.push({
      timestamp: ts,
      server,
      cpuPercent: 20 + (i % 7),
      cpuPeakPercent: 40,
      intervalSeconds: 3600,
      memTotalBytes: 8e9,
      memUsedBytes: 3e9,
      memAvailableBytes: 5e9,
      diskMount: "/",
      diskTotalBytes: 1e11,
      diskUsedBytes: 4e10,
      diskFreeBytes: 6e10,
    });
  }
  return rows;
}

function resolved(ep: Omit<AlertEpisode, "id">): Omit<AlertEpisode, "id"> {
  return { ...ep, state: "resolved", clearSince: (ep.resolvedAt ?? 0) - 10 * MIN };
}

describe.each(BACKENDS)("alerts this week ($name)", (backend) => {
  let t: TempStore | undefined;
  let store: Storage;
  const now = Date.now();
  const week = resolveReportWeek("last", TZ, now);
  /** A local time of last week's day `d` (0 = Monday), "HH:mm". */
  const at = (d: number, hm: string) => DateTime.fromISO(`${week.dates[d]}T${hm}`, { zone: TZ }).toMillis();
  const firedText = (d: number, hm: string) =>
    `${DateTime.fromISO(week.dates[d]!).toFormat("ccc d LLL")} ${hm}`;
  let group: WeeklyReport;
  let fleet: WeeklyReport;

  beforeAll(async () => {
    if (backend.skipReason !== undefined) return;
    t = await backend.make();
    store = t.store;
    for (const s of ["db-01", "web-01", "quiet-01", "other-01"]) {
      await upload(store, hourly(s, week.from - 7 * DAY_MS, Math.min(now, week.to + DAY_MS)));
    }
    const { version } = await store.alerts.readOpen();
    const inserts = [
      // Fired and resolved within last week (3 h 20 min), with a hostile summary and mount.
      resolved(
        alertEpisode(now, {
          server: "db-01",
          rule: "disk_full_soon",
          mount: "/var/<x>",
          severity: "critical",
          summary: HOSTILE,
          startedAt: at(1, "09:50"),
          firingAt: at(1, "10:00"),
          resolvedAt: at(1, "13:20"),
        }),
      ),
      // Fired on Sunday evening and still firing now.
      alertEpisode(now, {
        server: "web-01",
        rule: "cpu_pressure",
        severity: "warning",
        summary: "CPU above 75 % for 60 minutes",
        startedAt: at(6, "19:00"),
        firingAt: at(6, "20:00"),
      }),
      // Firing when the week ended, resolved after it: still firing as far as last week's report goes.
      resolved(
        alertEpisode(now, {
          server: "web-01",
          rule: "disk_nearly_full",
          mount: "/",
          severity: "warning",
          summary: "/ at 86 %",
          startedAt: at(6, "21:55"),
          firingAt: at(6, "22:00"),
          resolvedAt: week.to + 2 * HOUR,
        }),
      ),
      // Fired and resolved the week before: not in last week's report.
      resolved(
        alertEpisode(now, {
          server: "db-01",
          rule: "memory_pressure",
          severity: "critical",
          summary: "memory above 95 %",
          startedAt: week.from - 3 * DAY_MS,
          firingAt: week.from - 3 * DAY_MS + 10 * MIN,
          resolvedAt: week.from - 2 * DAY_MS,
        }),
      ),
      // Another group's server: in the fleet's report only.
      alertEpisode(now, {
        server: "other-01",
        rule: "server_silent",
        severity: "critical",
        summary: "no sample for 2 hours",
        startedAt: at(3, "02:00"),
        firingAt: at(3, "02:00"),
      }),
      // Pending during the week, never fired: in no report.
      resolved(
        alertEpisode(now, {
          server: "db-01",
          rule: "memory_trend",
          startedAt: at(2, "08:00"),
          firingAt: null,
          resolvedAt: at(2, "08:20"),
        }),
      ),
    ];
    expect(await store.alerts.commitEvaluation(alertCommit(now, { expectedVersion: version, inserts }))).toBe(
      true,
    );
    group = await buildWeeklyReport(store, { week: "last", timeZone: TZ, now, includeServer: GROUP });
    fleet = await buildWeeklyReport(store, { week: "last", timeZone: TZ, now });
  }, 60_000);
  afterAll(async () => {
    await t?.cleanup();
  });

  it("lists what fired in the week, for how long, and what still fires, for the group's servers only", (ctx) => {
    if (backend.skipReason !== undefined) ctx.skip(backend.skipReason);
    const a = group.alerts!;
    expect({ fired: a.fired, still: a.still_firing, more: a.more }).toEqual({ fired: 3, still: 2, more: 0 });
    // Critical first, then the longest.
    expect(a.episodes).toEqual([
      {
        server: "db-01",
        rule: "disk_full_soon",
        mount: "/var/<x>",
        severity: "critical",
        summary: HOSTILE,
        fired_at: new Date(at(1, "10:00")).toISOString(),
        resolved_at: new Date(at(1, "13:20")).toISOString(),
        firing_ms: 200 * MIN,
        still_firing: false,
      },
      {
        server: "web-01",
        rule: "cpu_pressure",
        mount: "",
        severity: "warning",
        summary: "CPU above 75 % for 60 minutes",
        fired_at: new Date(at(6, "20:00")).toISOString(),
        resolved_at: null,
        // Until the week's end: the report judges last week as it ended.
        firing_ms: 4 * HOUR,
        still_firing: true,
      },
      {
        server: "web-01",
        rule: "disk_nearly_full",
        mount: "/",
        severity: "warning",
        summary: "/ at 86 %",
        fired_at: new Date(at(6, "22:00")).toISOString(),
        resolved_at: null,
        firing_ms: 2 * HOUR,
        still_firing: true,
      },
    ]);
    expect(fleet.alerts!.fired).toBe(4);
    expect(fleet.alerts!.episodes.map((x) => x.server)).toEqual(["other-01", "db-01", "web-01", "web-01"]);
  });

  it("reaches a group's email through the production composer, without other groups' alerts", async (ctx) => {
    if (backend.skipReason !== undefined) ctx.skip(backend.skipReason);
    const groups = parseDeliveryGroups(
      { groups: [{ name: "core", servers: ["db-*", "web-*"], to: ["ops@example.com"] }] },
      ["all@example.com"],
    );
    const core = groups.find((g) => g.name === "core")!;
    const mail = await weeklyReportComposer(store)({ week: group.week, group: core, timeZone: TZ, now });
    expect(mail.html).toContain("3 alerts fired, 2 still firing");
    expect(mail.text).toContain("ALERTS THIS WEEK: 3 alerts fired, 2 still firing\n");
    expect(mail.html).not.toContain("other-01");
    const all = groups.find((g) => g.name === "default")!;
    const fleetMail = await weeklyReportComposer(store)({ week: group.week, group: all, timeZone: TZ, now });
    expect(fleetMail.html).toContain("4 alerts fired, 3 still firing");
    expect(fleetMail.text).toContain("- [critical] other-01 server_silent: fired");
  });

  it("is the same whenever the past week is rebuilt", async (ctx) => {
    if (backend.skipReason !== undefined) ctx.skip(backend.skipReason);
    const later = await buildWeeklyReport(store, {
      week: group.week,
      timeZone: TZ,
      now: now + 40 * DAY_MS,
      includeServer: GROUP,
    });
    expect(later.alerts).toEqual(group.alerts);
  });

  it("shows the section in the digest's HTML and text, escaped, times in the report's zone", (ctx) => {
    if (backend.skipReason !== undefined) ctx.skip(backend.skipReason);
    const d = renderDigest(group, { publicUrl: "https://srvutil.example" });
    expect(d.html).toContain("Alerts this week");
    expect(d.html).toContain("3 alerts fired, 2 still firing");
    expect(d.html).toContain("&lt;img src=x onerror=alert(1)&gt; &amp; &quot;q&quot; full soon");
    expect(d.html).toContain("disk_full_soon /var/&lt;x&gt;");
    expect(d.html).not.toContain("<img src=x");
    expect(d.html).not.toContain("/var/<x>");
    expect(d.html).toContain(`fired ${firedText(1, "10:00")} &middot; 3 h 20 min`);
    expect(d.html).toContain(`fired ${firedText(6, "20:00")} &middot; <b`);
    expect(d.html).toContain("still firing (4 h so far)");
    // The server's name links to its dashboard page, as in "Needs action".
    expect(d.html).toContain(`href="https://srvutil.example/servers/db-01?week=${group.week}"`);
    // After "Needs action", before the heatmaps.
    const alertsAt = d.html.indexOf("Alerts this week");
    expect(alertsAt).toBeGreaterThan(d.html.indexOf("Needs action"));
    expect(alertsAt).toBeLessThan(d.html.indexOf("Peak CPU per day"));

    expect(d.text).toContain("ALERTS THIS WEEK: 3 alerts fired, 2 still firing\n");
    expect(d.text).toContain(
      `- [critical] db-01 disk_full_soon /var/<x>: fired ${firedText(1, "10:00")}, 3 h 20 min. <img src=x onerror=alert(1)> & "q" full soon FAKE LINE\n`,
    );
    expect(d.text).toContain(
      `- [warning] web-01 cpu_pressure: fired ${firedText(6, "20:00")}, still firing (4 h so far). CPU above 75 % for 60 minutes\n`,
    );
    // A line break in an agent's string does not make a line of its own.
    expect(d.text).not.toContain("\nFAKE LINE");
  });

  it("shows the section in the full report, HTML and text", async (ctx) => {
    if (backend.skipReason !== undefined) ctx.skip(backend.skipReason);
    const r = await renderReport(group, "standalone");
    expect(r.html).toContain("Alerts this week");
    expect(r.html).toContain("3 alerts fired, 2 still firing");
    expect(r.html).toContain("&lt;img src=x onerror=alert(1)&gt;");
    expect(r.html).not.toContain("<img src=x");
    expect(r.html).toContain("still firing (2 h so far)");
    expect(r.text).toContain("ALERTS THIS WEEK: 3 alerts fired, 2 still firing\n");
    expect(r.text).toContain(
      `web-01 disk_nearly_full /: fired ${firedText(6, "22:00")}, still firing (2 h so far)`,
    );
  });

  it("has no alerts and no section when nothing fired", async (ctx) => {
    if (backend.skipReason !== undefined) ctx.skip(backend.skipReason);
    const quiet = await buildWeeklyReport(store, {
      week: "last",
      timeZone: TZ,
      now,
      includeServer: (s) => s === "quiet-01",
    });
    expect(quiet.servers.map((s) => s.server)).toEqual(["quiet-01"]);
    expect(Object.keys(quiet)).not.toContain("alerts");
    expect(JSON.stringify(quiet)).not.toContain("alerts");
    const d = renderDigest(quiet);
    const r = await renderReport(quiet, "standalone");
    for (const out of [d.html, d.text, r.html, r.text]) expect(out.toLowerCase()).not.toContain("alerts");
  });
});

describe("a week of many alerts", () => {
  let t: TempStore;
  const now = Date.now();
  const week = resolveReportWeek("last", TZ, now);
  let report: WeeklyReport;

  beforeAll(async () => {
    t = await BACKENDS[0].make();
    const inserts = Array.from({ length: 55 }, (_, i) =>
      resolved(
        alertEpisode(now, {
          server: `storm-${String(i).padStart(2, "0")}`,
          summary: "CPU above 75 % for 60 minutes",
          startedAt: week.from + DAY_MS + i * HOUR,
          firingAt: week.from + DAY_MS + i * HOUR,
          // Longer the later it is numbered: storm-54 fired longest.
          resolvedAt: week.from + DAY_MS + i * HOUR + (i + 1) * MIN,
        }),
      ),
    );
    // Fired before the week, resolved in it: listed, with its whole firing time.
    inserts.push(
      resolved(
        alertEpisode(now, {
          server: "storm-db",
          rule: "server_silent",
          severity: "critical",
          summary: "no sample for 3 hours",
          startedAt: week.from - 2 * DAY_MS,
          firingAt: week.from - 2 * DAY_MS,
          resolvedAt: week.from + 6 * HOUR,
        }),
      ),
    );
    expect(await t.store.alerts.commitEvaluation(alertCommit(now, { inserts }))).toBe(true);
    report = await buildWeeklyReport(t.store, { week: "last", timeZone: TZ, now });
  }, 60_000);
  afterAll(async () => {
    await t.cleanup();
  });

  it("lists the 50 most severe and longest, and counts the rest", () => {
    const a = report.alerts!;
    expect({ fired: a.fired, still: a.still_firing, listed: a.episodes.length, more: a.more }).toEqual({
      fired: 56,
      still: 0,
      listed: 50,
      more: 6,
    });
    expect(a.episodes[0]).toMatchObject({
      server: "storm-db",
      fired_at: new Date(week.from - 2 * DAY_MS).toISOString(),
      firing_ms: 2 * DAY_MS + 6 * HOUR,
    });
    expect(a.episodes.slice(1, 4).map((x) => [x.server, x.firing_ms])).toEqual([
      ["storm-54", 55 * MIN],
      ["storm-53", 54 * MIN],
      ["storm-52", 53 * MIN],
    ]);
    expect(a.episodes.at(-1)!.server).toBe("storm-06");
  });

  it("shows ten in the digest, three when the HTML budget is tight, each with how many more", async () => {
    const rows = (html: string) => html.split("&middot; cpu_pressure").length - 1;
    const d = renderDigest(report);
    expect(rows(d.html)).toBe(9);
    expect(d.html).toContain("2 d 6 h");
    expect(d.html).toContain("and 46 more (srvutil alerts list --all --since 14d lists the history).");
    expect(d.text).toContain("  and 46 more (srvutil alerts list --all --since 14d lists the history)\n");
    const tight = renderDigest(report, { htmlBudgetBytes: 1 });
    expect(rows(tight.html)).toBe(2);
    expect(tight.html).toContain("56 alerts fired, 0 still firing");
    expect(tight.html).toContain("and 53 more (srvutil");
    // The full report lists all 50 the report holds.
    const full = await renderReport(report, "standalone");
    expect(rows(full.html)).toBe(49);
    expect(full.html).toContain("and 6 more (srvutil");
  });
});
