import { afterEach, describe, expect, it } from "vitest";
import { weeklyReportComposer } from "../../../src/central/delivery/composer.js";
import { parseDeliveryGroups } from "../../../src/central/delivery/groups.js";
import { isoWeekBefore, isoWeekOf, weekInstants } from "../../../src/central/delivery/week.js";
import {
  type GroupFigures,
  groupFigures,
  renderDigest,
  renderReport,
  type WeeklyReport,
} from "../../../src/central/report/index.js";
import type { Storage } from "../../../src/central/storage/store.js";
import { type StoreBackend, storeBackends, type TempStore, upload } from "../../helpers/store-backends.js";
import { syntheticReport } from "../../helpers/synthetic-report.js";
import { GiB, HOUR, shapeRows } from "./shaped.js";

/**
 * "By group" in the whole fleet's report (issue 30, docs/report.md) on
 * SQLite and PostgreSQL: two groups that select by tags and one by a name
 * glob, a server that moved from one team to the other this week (counted
 * in the group it had in each week), a server in two groups, one in none.
 * Dates are relative to the real clock: last week and this week.
 */
const BACKENDS = await storeBackends();
const TZ = "UTC";
const BASE = "https://mon.example.com/";

const GROUPS = parseDeliveryGroups(
  {
    groups: [
      { name: "payments", select: "team=payments", to: ["pay@example.com"] },
      { name: "web", tags: { team: "web" }, to: ["web@example.com"] },
      { name: "dbs", select: "name=db-*", to: ["dba@example.com"] },
    ],
  },
  ["ops@example.com"],
);
const group = (name: string) => GROUPS.find((g) => g.name === name)!;

/** Servers sampled every 30 minutes through last week (db-02 stops after two days) and this week so far. */
async function seed(store: Storage, now: number): Promise<{ lastWeek: string; thisWeek: string }> {
  const thisWeek = isoWeekOf(now, TZ);
  const lastWeek = isoWeekBefore(now, TZ);
  const prev = weekInstants(lastWeek, TZ);
  const cur = weekInstants(thisWeek, TZ);
  const diskUsed: Record<string, number> = { "pay-01": 97, "web-01": 88 };
  for (const server of ["pay-01", "pay-02", "web-01", "db-01", "db-02", "app-01", "lone-01"]) {
    const rows = [
      ...shapeRows({
        server,
        intervalSeconds: 1800,
        from: prev.from,
        to: server === "db-02" ? prev.from + 48 * HOUR : now,
        memPercent: () => 30,
        cpu: () => 20,
        mounts: () => [{ mount: "/", total: 100 * GiB, used: (diskUsed[server] ?? 40) * GiB }],
      }),
    ];
    await upload(store, rows);
  }
  const long = prev.from - 14 * 24 * HOUR;
  await store.tags.replace("pay-01", "agent", { team: "payments", env: "prod" }, long);
  await store.tags.replace("pay-02", "agent", { team: "payments" }, long);
  await store.tags.replace("db-01", "agent", { team: "payments" }, long);
  await store.tags.replace("web-01", "agent", { team: "web" }, long);
  // app-01 was a payments server through last week; an admin moved it to web during this week.
  await store.tags.replace("app-01", "agent", { team: "payments" }, long);
  await store.tags.edit(
    "app-01",
    { set: { team: "web" }, unset: [] },
    cur.from + Math.floor((now - cur.from) / 2),
  );
  return { lastWeek, thisWeek };
}

const byName = (groups: readonly GroupFigures[]) => new Map(groups.map((g) => [g.name, g]));

describe.each(BACKENDS)("the whole fleet's report by group: $name", (backend: StoreBackend) => {
  let t: TempStore | undefined;
  afterEach(async () => {
    await t?.cleanup();
    t = undefined;
  });

  it("counts each group's servers as tagged that week, links each group's report, and leaves it out of a group's own report", async (ctx) => {
    if (backend.skipReason !== undefined) ctx.skip(backend.skipReason);
    t = await backend.make();
    const store = t.store;
    const now = Date.now();
    const { lastWeek, thisWeek } = await seed(store, now);
    const compose = weeklyReportComposer(store, { groups: GROUPS, digest: { publicUrl: BASE } });

    const mail = await compose({ week: lastWeek, group: group("default"), timeZone: TZ, now });
    const json = JSON.parse((await store.reports.part(lastWeek, "default", "json"))!) as WeeklyReport;
    expect(json.servers).toHaveLength(7);
    const rows = byName(json.groups!);
    expect([...rows.keys()]).toEqual(["payments", "web", "dbs", null]);
    // app-01 was a payments server last week; db-01 is in payments (tag) and dbs (glob).
    expect(rows.get("payments")).toMatchObject({
      servers: 4,
      counts: { critical: 1, warning: 0, silent: 0, ok: 3 },
      worst: { server: "pay-01", status: "critical" },
    });
    expect(rows.get("web")).toMatchObject({
      servers: 1,
      counts: { critical: 0, warning: 1, silent: 0, ok: 0 },
      worst: { server: "web-01", status: "warning" },
    });
    expect(rows.get("dbs")).toMatchObject({
      servers: 2,
      counts: { critical: 0, warning: 0, silent: 1, ok: 1 },
      worst: { server: "db-02", status: "silent" },
    });
    expect(rows.get(null)).toMatchObject({
      servers: 1,
      counts: { critical: 0, warning: 0, silent: 0, ok: 1 },
      worst: null,
      findings: 0,
    });
    const pay01 = json.servers.find((s) => s.server === "pay-01")!;
    expect(rows.get("payments")!.findings).toBe(pay01.findings.filter((f) => f.severity !== "info").length);
    expect(rows.get("payments")!.worst!.reason).toBe(
      json.fleet!.needs_action.find((n) => n.server === "pay-01")!.reason,
    );

    // The email (HTML and text) and the full report show the same, each group linking its own report.
    const link = (g: string) => `${BASE}reports/${lastWeek}?group=${g}`;
    const html = await store.reports.part(lastWeek, "default", "html");
    for (const body of [mail.html, html!]) {
      expect(body).toContain(">By group<");
      expect(body).toContain("A server in several groups counts in each");
      for (const g of ["payments", "web", "dbs"]) expect(body).toContain(`<a href="${link(g)}"`);
      expect(body).toMatch(/>CRITICAL<\/td><td[^>]*><b><a [^>]*>payments<\/a><\/b> &middot; 4 servers<br>/);
      expect(body).toMatch(/>SILENT<\/td><td[^>]*><b><a [^>]*>dbs<\/a><\/b> &middot; 2 servers<br>/);
      expect(body).toMatch(/>OK<\/td><td[^>]*><b><i>in no group<\/i><\/b> &middot; 1 server<br>/);
      expect(body).toContain("critical 1, warning 0, silent 0, ok 3");
    }
    expect(mail.text).toContain("BY GROUP (");
    expect(mail.text).toMatch(
      new RegExp(
        `\\n- payments: 4 servers: critical 1, warning 0, silent 0, ok 3; worst pay-01 \\[critical\\]: [^\\n]+ <${link("payments").replace(/[?.]/g, "\\$&")}>\\n`,
      ),
    );
    expect(mail.text).toContain(
      "\n- web: 1 server: critical 0, warning 1, silent 0, ok 0; worst web-01 [warning]:",
    );
    expect(mail.text).toContain(
      "\n- in no group: 1 server: critical 0, warning 0, silent 0, ok 1; nothing needs action\n",
    );

    // This week app-01 is web's: the week's tags decide, not today's alone.
    await compose({ week: thisWeek, group: group("default"), timeZone: TZ, now });
    const current = JSON.parse((await store.reports.part(thisWeek, "default", "json"))!) as WeeklyReport;
    expect([...byName(current.groups!)].map(([n, g]) => [n, g.servers])).toEqual([
      ["payments", 3],
      ["web", 2],
      ["dbs", 2],
      [null, 1],
    ]);
    for (const g of current.groups!) {
      expect(g.counts.ok + g.counts.warning + g.counts.critical + g.counts.silent).toBe(g.servers);
    }

    // A group's own report is one group: no section, no `groups`.
    const own = await compose({ week: lastWeek, group: group("payments"), timeZone: TZ, now });
    expect(own.servers).toBe(4);
    const ownJson = JSON.parse((await store.reports.part(lastWeek, "payments", "json"))!) as WeeklyReport;
    expect(ownJson.groups).toBeUndefined();
    for (const body of [own.html, own.text, (await store.reports.part(lastWeek, "payments", "html"))!]) {
      expect(body).not.toMatch(/By group|BY GROUP/);
    }

    // Without a groups file (only the whole fleet), the report is as before.
    const plain = await weeklyReportComposer(store, { digest: { publicUrl: BASE } })({
      week: lastWeek,
      group: group("default"),
      timeZone: TZ,
      now,
    });
    expect(plain.html).not.toContain("By group");
    expect(plain.text).not.toContain("BY GROUP");
    const plainJson = JSON.parse((await store.reports.part(lastWeek, "default", "json"))!) as WeeklyReport;
    expect(Object.hasOwn(plainJson, "groups")).toBe(false);
  }, 120_000);
});

describe("By group escapes what config and agents supply", () => {
  it("escapes a hostile group name, server name and reason in HTML, and keeps them on one line in text", async () => {
    const base = syntheticReport(4);
    const hostile = '<img src=x onerror="alert(1)">\nFAKE LINE';
    const report: WeeklyReport = {
      ...base,
      groups: [
        {
          name: hostile,
          servers: 1,
          counts: { critical: 1, warning: 0, silent: 0, ok: 0 },
          findings: 1,
          worst: { server: "<script>alert(2)</script>", status: "critical", reason: 'disk "/" <b>full</b>' },
        },
        {
          name: null,
          servers: 3,
          counts: { critical: 0, warning: 0, silent: 0, ok: 3 },
          findings: 0,
          worst: null,
        },
      ],
    };
    const digest = renderDigest(report, { publicUrl: BASE });
    const full = await renderReport(report, "standalone", { publicUrl: BASE });
    for (const html of [digest.html, full.html]) {
      expect(html).toContain("By group");
      expect(html).not.toContain("<img src=x");
      expect(html).not.toContain("<script>");
      expect(html).not.toContain("<b>full</b>");
      expect(html).toContain("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;");
      expect(html).toContain("&lt;script&gt;alert(2)&lt;/script&gt;");
      expect(html).toContain(
        `href="${BASE}reports/${report.week}?group=%3Cimg%20src%3Dx%20onerror%3D%22alert(1)%22%3E%0AFAKE%20LINE"`,
      );
    }
    for (const text of [digest.text, full.text]) {
      expect(text).toContain('- <img src=x onerror="alert(1)"> FAKE LINE: 1 server:');
      expect(text).not.toMatch(/\nFAKE LINE/);
    }
    // Without a public URL the names are not links.
    expect(renderDigest(report).html).not.toContain("?group=");
  });

  it("keeps a digest with hundreds of groups under its HTML budget, counting the groups not shown; the text lists all", () => {
    const base = syntheticReport(300);
    const names = Array.from(
      { length: 400 },
      (_, i) => `team-${String(i).padStart(3, "0")}-${"g".repeat(55)}`,
    );
    const groups = groupFigures(
      base.servers,
      base.fleet!.needs_action,
      names.map((name, i) => ({
        name,
        includes: (s: string) => s.length % 400 === i || s.endsWith(String(i)),
      })),
    );
    const report: WeeklyReport = { ...base, groups };
    const digest = renderDigest(report, { publicUrl: BASE });
    expect(Buffer.byteLength(digest.html)).toBeLessThanOrEqual(88_000);
    const shown = [...digest.html.matchAll(/\?group=team-\d{3}-/g)].length;
    expect(shown).toBeGreaterThanOrEqual(10);
    expect(digest.html).toContain(
      `and ${400 - shown} more groups, listed in the full report and the plain-text part.`,
    );
    expect(digest.html).toContain("<i>in no group</i>");
    for (const name of names) expect(digest.text).toContain(`\n- ${name}: `);
  });
});
