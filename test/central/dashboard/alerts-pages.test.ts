import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { cookieOf, HOSTILE_SERVER, MIN, useAlertsDashboard } from "./alerts-fixture.js";
import { ADMIN, dashboardBackends } from "./harness.js";

/**
 * /alerts over app.inject, on SQLite and PostgreSQL, with the real clock:
 * what viewers and admins see, acknowledge and silence round trips, bad
 * input, hostile text, and the server page's alerts. The channels page is
 * alerts-channels.test.ts; the setup is alerts-fixture.ts.
 */
const backends = await dashboardBackends();
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

describe.each(backends)("dashboard alerts page: %s", (_name, skipReason, make) => {
  const t = useAlertsDashboard(skipReason, make);

  it("shows a viewer what fires now, the silences and the history, with no form and no channels page", async () => {
    const { viewer } = t();
    const res = await viewer.get("/alerts");
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('<a href="/alerts" aria-current="page">Alerts</a>');
    expect(res.body).toContain("2 firing, 1 pending");
    const open = res.body.slice(res.body.indexOf('id="now-h"'), res.body.indexOf('id="sil-h"'));
    expect(open).toContain('<a href="/servers/web-01">web-01</a>');
    expect(open).toContain("cpu_pressure");
    expect(open).toContain("CPU above 90 % for 15 minutes");
    expect(open).toContain("memory_pressure");
    expect(open).toMatch(/<td>pending<\/td>/);
    // Firing before pending, critical first.
    expect(open.indexOf("disk_nearly_full")).toBeLessThan(open.indexOf("cpu_pressure"));
    expect(open.indexOf("cpu_pressure")).toBeLessThan(open.indexOf("memory_pressure"));
    expect(res.body).not.toMatch(/<form method="post" action="\/alerts/);
    expect(res.body).not.toContain("Add a silence");
    expect(res.body).not.toContain('href="/alerts/channels"');
    expect((await viewer.get("/alerts/channels")).statusCode).toBe(403);
    // The fleet page says how many fire, linking here.
    const fleet = await viewer.get("/");
    expect(fleet.body).toContain('<a href="/alerts">Alerts: <strong>2</strong> firing, 1 pending</a>');
  });

  it("escapes hostile server names, mounts and summaries, and drops their control characters", async () => {
    const { admin } = t();
    for (const url of ["/alerts", "/alerts?days=30"]) {
      const res = await admin.get(url);
      expect(res.statusCode, url).toBe(200);
      expect(res.body, url).not.toContain("<script>");
      expect(res.body, url).not.toContain("<i>x");
      expect(res.body, url).toContain("db-&lt;script&gt;alert(1)&lt;/script&gt;");
      expect(res.body, url).toContain(`href="/servers/${encodeURIComponent(HOSTILE_SERVER)}"`);
      expect(res.body, url).toContain("Disk \uFFFD[31m&lt;script&gt;alert(2)&lt;/script&gt; full\uFFFD soon");
      expect(res.body, url).toContain("/mnt/&lt;i&gt;x\uFFFD");
      expect(CONTROL.test(res.body), url).toBe(false);
    }
  });

  it("shows the last 7 days of history, resolved included, and `days` widens it (1 to 90)", async () => {
    const { viewer } = t();
    const week = await viewer.get("/alerts");
    const history = week.body.slice(week.body.indexOf('id="hist-h"'));
    expect(history).toContain("the last 7 days");
    expect(history).toContain("memory full within 48 hours at its trend");
    // Fired 125 minutes before it resolved: the duration, both times.
    expect(history).toMatch(
      /memory_trend[\s\S]*?<td>resolved<\/td>\s*<td><time[^>]*>[^<]+<\/time><\/td><td><time[^>]*>[^<]+<\/time><\/td>\s*<td>2 h 5 min<\/td>/,
    );
    expect(history).not.toContain("an old one");
    const wide = await viewer.get("/alerts?days=14");
    expect(wide.statusCode).toBe(200);
    expect(wide.body).toContain("the last 14 days");
    expect(wide.body).toContain("no sample for 75 minutes (an old one)");
    expect(wide.body).toMatch(/server_silent[\s\S]*?<td>1 h<\/td>/);
    for (const bad of ["0", "91", "abc", "7.5"]) {
      const res = await viewer.get(`/alerts?days=${bad}`);
      expect(res.statusCode, bad).toBe(200);
      expect(res.body, bad).toContain("Days: a whole number from 1 to 90; showing 7 days.");
      expect(res.body, bad).toContain("the last 7 days");
    }
  });

  it("refuses every alerts POST of a viewer (403) and of a form without its CSRF token, writing nothing", async () => {
    const { h, admin, viewer, receiver } = t();
    const { episodes } = await h.store.alerts.readOpen();
    const id = String(episodes.find((e) => e.server === "web-01")!.id);
    const posts: [string, Record<string, string>][] = [
      ["/alerts/ack", { id, note: "mine" }],
      ["/alerts/silences", { server: "web-*", duration: "2h", reason: "forged" }],
      ["/alerts/silences/end", { id: "1" }],
      ["/alerts/channels/test", { name: "ops-hook" }],
    ];
    const before = receiver.requests.length;
    for (const [url, form] of posts) {
      const v = await viewer.post(url, form);
      expect(v.statusCode, url).toBe(403);
      expect(v.headers["content-type"], url).toMatch(/^text\/html/);
      const noToken = await admin.post(url, form, {}, false);
      expect(noToken.statusCode, url).toBe(403);
      expect(noToken.body, url).toContain("missing or wrong CSRF token");
      const wrong = await admin.post(url, { ...form, _csrf: "guess" });
      expect(wrong.statusCode, url).toBe(403);
      const signedOut = await h.app.inject({
        method: "POST",
        url,
        headers: { "content-type": "application/x-www-form-urlencoded" },
        payload: new URLSearchParams(form).toString(),
      });
      expect(signedOut.statusCode, url).toBe(403);
    }
    const after = await h.store.alerts.readOpen();
    expect(after.episodes.find((e) => e.server === "web-01")!.acknowledgedBy).toBeNull();
    expect(await h.store.alerts.listSilences({})).toEqual([]);
    expect(receiver.requests.length).toBe(before);
  });

  it("acknowledges an alert with a note: on the page, the server page and in store.alerts, logged", async () => {
    const { h, admin, viewer } = t();
    const page = await admin.get("/alerts");
    expect(page.body).toContain('action="/alerts/ack"');
    const target = (await h.store.alerts.readOpen()).episodes.find((e) => e.rule === "cpu_pressure")!;
    const res = await admin.post("/alerts/ack", { id: String(target.id), note: "ana is on it <b>" });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain(`Acknowledged alert ${target.id}.`);
    expect(res.body).toMatch(/by alice at <time[^>]*>[^<]+<\/time>: ana is on it &lt;b&gt;/);
    const stored = (await h.store.alerts.readOpen()).episodes.find((e) => e.id === target.id)!;
    expect(stored.acknowledgedBy).toBe(ADMIN.name);
    expect(stored.acknowledgeNote).toBe("ana is on it <b>");
    expect(Math.abs(stored.acknowledgedAt! - Date.now())).toBeLessThan(60_000);
    const server = await viewer.get("/servers/web-01");
    expect(server.statusCode).toBe(200);
    const section = server.body.slice(server.body.indexOf('id="alerts-h"'));
    expect(section).toContain("cpu_pressure");
    expect(section).toContain("acknowledged by alice: ana is on it &lt;b&gt;");
    // Another server's alerts are not on this one's page.
    expect(section.slice(0, section.indexOf("</section>"))).not.toContain("memory_pressure");
    // A resolved or unknown alert: said so, nothing written.
    const gone = await admin.post("/alerts/ack", { id: "999999", note: "" });
    expect(gone.statusCode).toBe(200);
    expect(gone.body).toContain("Alert 999999 is not open");
    expect(readFileSync(h.logFile, "utf8")).toMatch(
      new RegExp(`alert acknowledged.*"id":${target.id}.*"by":"alice"`),
    );
  });

  it("adds a silence that covers the matching alert, shows it in force, then ends it", async () => {
    const { h, admin, viewer } = t();
    const res = await admin.post("/alerts/silences", {
      server: "db-*",
      rule: "disk_nearly_full",
      group: "",
      duration: "2h",
      reason: "kernel upgrade <i>",
    });
    expect(res.statusCode).toBe(201);
    const [silence] = await h.store.alerts.listSilences({ activeAt: Date.now() });
    expect(silence).toMatchObject({
      server: "db-*",
      rule: "disk_nearly_full",
      group: null,
      reason: "kernel upgrade <i>",
      createdBy: ADMIN.name,
    });
    expect(silence!.endsAt - silence!.startsAt).toBe(2 * 60 * MIN);
    expect(Math.abs(silence!.startsAt - Date.now())).toBeLessThan(60_000);
    expect(res.body).toContain(`Silence ${silence!.id} (server db-*, rule disk_nearly_full) until`);
    const page = await viewer.get("/alerts");
    const silences = page.body.slice(page.body.indexOf('id="sil-h"'), page.body.indexOf('id="hist-h"'));
    expect(silences).toContain('<th scope="row">server db-*, rule disk_nearly_full</th><td>alice</td>');
    expect(silences).toContain("kernel upgrade &lt;i&gt;");
    // The hostile db server's alert is covered, with the reason; web-01's is not.
    const open = page.body.slice(page.body.indexOf('id="now-h"'), page.body.indexOf('id="sil-h"'));
    const hostileRow = open.slice(open.indexOf("disk_nearly_full"));
    expect(hostileRow.slice(0, hostileRow.indexOf("</tr>"))).toMatch(
      /yes, until <time[^>]*>[^<]+<\/time>: kernel upgrade &lt;i&gt;/,
    );
    const cpuRow = open.slice(open.indexOf("cpu_pressure"));
    expect(cpuRow.slice(0, cpuRow.indexOf("</tr>"))).toContain("<td>no</td>");
    // A group silence covers by the groups file: web-02 is in "web".
    const group = await admin.post("/alerts/silences", {
      server: "",
      rule: "",
      group: "web",
      duration: "30m",
      reason: "web deploy",
    });
    expect(group.statusCode).toBe(201);
    const withGroup = await viewer.get("/alerts");
    const pendingRow = withGroup.body.slice(withGroup.body.indexOf("memory_pressure"));
    expect(pendingRow.slice(0, pendingRow.indexOf("</tr>"))).toContain(": web deploy");
    const ids = (await h.store.alerts.listSilences({ activeAt: Date.now() })).map((s) => s.id);
    for (const id of ids) {
      const end = await admin.post("/alerts/silences/end", { id: String(id) });
      expect(end.statusCode).toBe(200);
      expect(end.body).toContain(`Silence ${id} ended.`);
    }
    expect(await h.store.alerts.listSilences({ activeAt: Date.now() })).toEqual([]);
    const after = await viewer.get("/alerts");
    expect(after.body).toContain("No silence is in force.");
    expect(after.body).not.toContain("kernel upgrade");
    const again = await admin.post("/alerts/silences/end", { id: String(ids[0]) });
    expect(again.body).toContain(`Silence ${ids[0]} is not in force`);
    const log = readFileSync(h.logFile, "utf8");
    expect(log).toMatch(/alert silence added.*"server":"db-\*".*"rule":"disk_nearly_full".*"by":"alice"/);
    expect(log).toMatch(new RegExp(`alert silence ended.*"id":${ids[0]}.*"by":"alice"`));
  });

  it("answers bad silence and acknowledge input with the page and a 400 message, keeping what was typed", async () => {
    const { h, admin } = t();
    const good = { server: "web-*", rule: "", group: "", duration: "2h", reason: "maintenance" };
    const cases: [Record<string, string>, string][] = [
      [{ ...good, server: "web 01<b>" }, "Server glob: letters, digits"],
      [{ ...good, server: "x".repeat(129) }, "Server glob: letters, digits"],
      [{ ...good, rule: "disk_full" }, "Rule: one of server_silent"],
      [{ ...good, group: "nogroup" }, "Group: one of default, web."],
      [{ ...good, duration: "2 fortnights" }, "For: expected a span such as 30m, 2h or 3d"],
      [{ ...good, duration: "0h" }, "For: expected a span such as 30m, 2h or 3d"],
      [{ ...good, duration: "400d" }, "For: at most 366 days"],
      [{ ...good, reason: "   " }, "Reason: say why"],
      [{ ...good, reason: "r".repeat(501) }, "Reason: at most 500 characters."],
      [{ ...good, reason: "nul\u0000byte" }, "Reason: control characters are not allowed."],
      [{ ...good, server: "" }, "Name what to silence"],
    ];
    for (const [form, message] of cases) {
      const res = await admin.post("/alerts/silences", form);
      expect(res.statusCode, message).toBe(400);
      expect(res.headers["content-type"], message).toMatch(/^text\/html/);
      expect(res.headers["x-srvutil-error-code"], message).toBeDefined();
      expect(res.body, message).toContain(message);
      expect(res.body, message).not.toMatch(/\bat .*\.(?:ts|js):\d+/);
      expect(res.body, message).toContain("<h1>Alerts</h1>");
    }
    const typed = await admin.post("/alerts/silences", {
      ...good,
      duration: "2 fortnights",
      reason: "kept <b>",
    });
    expect(typed.body).toContain('name="duration" required maxlength="20" size="6" value="2 fortnights"');
    expect(typed.body).toContain('value="kept &lt;b&gt;"');
    expect(await h.store.alerts.listSilences({})).toHaveLength(2);
    for (const [form, message] of [
      [{ id: "abc", note: "" }, "No such alert."],
      [{ id: "1", note: "n".repeat(501) }, "Note: at most 500 characters."],
      [{ id: "1", note: "bell\u0007" }, "Note: control characters are not allowed."],
    ] as const) {
      const res = await admin.post("/alerts/ack", form);
      expect(res.statusCode, message).toBe(400);
      expect(res.body, message).toContain(message);
    }
    const end = await admin.post("/alerts/silences/end", { id: "-1" });
    expect(end.statusCode).toBe(400);
    expect(end.body).toContain("No such silence.");
    // A post with no form at all: the page, not fastify's JSON.
    const empty = await h.app.inject({
      method: "POST",
      url: "/alerts/silences",
      headers: { cookie: cookieOf(admin) },
    });
    expect(empty.statusCode).toBe(403);
    expect(empty.headers["content-type"]).toMatch(/^text\/html/);
  });
});
