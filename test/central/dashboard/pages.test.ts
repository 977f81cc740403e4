import { readFileSync } from "node:fs";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { authenticate } from "../../../src/central/auth/tokens.js";
import { links } from "../../../src/central/report/digest-content.js";
import {
  ADMIN,
  type DashboardHarness,
  dashboardBackends,
  dashboardHarness,
  InjectClient,
  NOW,
  REPORT_WEEK,
  VIEWER,
} from "./harness.js";

/** The dashboard over app.inject, on SQLite and PostgreSQL: every page, role and safeguard. */
const backends = await dashboardBackends();
const HOSTILE = 'db-<b>"x"';

describe.each(backends)("dashboard pages: %s", (_name, skipReason, make) => {
  let h: DashboardHarness | undefined;
  beforeAll(async () => {
    if (skipReason === undefined) h = await make();
  });
  afterAll(async () => h?.close());
  beforeEach((ctx) => {
    if (skipReason !== undefined) ctx.skip(skipReason);
  });

  it("sends a visitor to the sign-in page and back to the page asked for", async () => {
    const c = new InjectClient(h!.app);
    const first = await c.get(`/servers/web-02?week=${REPORT_WEEK}`);
    expect(first.statusCode).toBe(303);
    expect(first.headers.location).toBe(
      `/login?next=${encodeURIComponent(`/servers/web-02?week=${REPORT_WEEK}`)}`,
    );
    const form = await c.get(String(first.headers.location));
    expect(form.body).toContain(`name="next" value="/servers/web-02?week=${REPORT_WEEK}"`);
    const res = await c.post("/login", {
      username: ADMIN.name,
      password: ADMIN.password,
      next: `/servers/web-02?week=${REPORT_WEEK}`,
    });
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe(`/servers/web-02?week=${REPORT_WEEK}`);
    // Never to another site.
    await c.get("/logout");
    const evil = new InjectClient(h!.app);
    await evil.get("/login");
    const off = await evil.post("/login", {
      username: ADMIN.name,
      password: ADMIN.password,
      next: "//evil.example/",
    });
    expect(off.headers.location).toBe("/");
  });

  it("answers the browser's /favicon.ico without a session (no 404 in any console), and every page names it", async () => {
    const c = new InjectClient(h!.app);
    const icon = await c.get("/favicon.ico");
    expect(icon.statusCode).toBe(200);
    expect(icon.headers["content-type"]).toBe("image/svg+xml");
    expect(icon.body).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"[^>]*>.*<\/svg>$/);
    expect((await c.get("/login")).body).toContain(
      '<link rel="icon" href="/favicon.ico" type="image/svg+xml">',
    );
  });

  it("serves exactly the digest's links: /reports/<week> and /servers/<name>?week=<week>", async () => {
    const c = new InjectClient(h!.app);
    await c.signIn(VIEWER);
    const report = await c.get(`/reports/${REPORT_WEEK}`);
    expect(report.statusCode).toBe(200);
    expect(report.body).toContain(`Weekly report ${REPORT_WEEK}`);
    const server = await c.get(`/servers/web-02?week=${REPORT_WEEK}`);
    expect(server.statusCode).toBe(200);
    expect(server.body).toContain(`Week ${REPORT_WEEK}`);
    // The week's days, hour points: 7 × 24.
    expect(server.body).toMatch(/hourly points, 168 of them/);
    expect(server.body).toContain('class="report-findings current"');
  });

  it("answers every link the digest makes (SRVUTIL_PUBLIC_URL), hostile names and groups included", async () => {
    const c = new InjectClient(h!.app);
    await c.signIn(VIEWER);
    const base = "https://srvutil.example.com/";
    const report = JSON.parse((await c.get(`/reports/${REPORT_WEEK}/report.json`)).body);
    for (const group of ["default", "web"]) {
      const l = links(report, { publicUrl: base, group })!;
      const urls = [l.report, ...["web-01", "web-02", HOSTILE].map((n) => l.server(n))];
      for (const url of urls) {
        const u = new URL(url);
        const res = await c.get(u.pathname + u.search);
        expect(res.statusCode, url).toBe(200);
      }
    }
  });

  it("sets the cookie HttpOnly and SameSite=Lax, and the security headers on every page", async () => {
    const c = new InjectClient(h!.app);
    const login = await c.get("/login");
    expect(String(login.headers["set-cookie"])).toMatch(/HttpOnly; SameSite=Lax/);
    expect(String(login.headers["set-cookie"])).not.toMatch(/Secure/);
    await c.get("/login");
    const res = await c.post("/login", { username: ADMIN.name, password: ADMIN.password });
    const cookie = (res.headers["set-cookie"] as string[]).find((x) => x.startsWith("srvutil_session="))!;
    expect(cookie).toMatch(/; Path=\/; HttpOnly; SameSite=Lax; Max-Age=\d+/);
    for (const url of [
      "/",
      "/servers/web-01",
      "/reports",
      `/reports/${REPORT_WEEK}`,
      "/admin/tokens",
      "/login",
    ]) {
      const r = await c.get(url);
      const csp = String(r.headers["content-security-policy"]);
      expect(csp, url).toContain("script-src 'self'");
      expect(csp, url).not.toMatch(/script-src[^;]*unsafe-inline/);
      expect(csp, url).toContain("frame-ancestors 'none'");
      expect(r.headers["x-content-type-options"], url).toBe("nosniff");
    }
    // The archived report (mail HTML, inline styles) may run no script at all.
    const html = await c.get(`/reports/${REPORT_WEEK}/report.html`);
    expect(html.statusCode).toBe(200);
    expect(String(html.headers["content-security-policy"])).toMatch(/default-src 'none'/);
    expect(String(html.headers["content-security-policy"])).not.toContain("script-src");
  });

  it("refuses wrong passwords, then slows that user name down from that address only", async () => {
    const c = new InjectClient(h!.app, "192.0.2.10");
    await c.get("/login");
    const wrong = await c.post("/login", { username: "mallory-target", password: "nope nope nope" });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.body).toContain("Wrong user name or password.");
    expect(wrong.headers["x-srvutil-error-code"]).toBe("SRVUTIL_E_UNAUTHORIZED");
    for (let i = 0; i < 4; i++) {
      await c.get("/login");
      expect(
        (await c.post("/login", { username: "mallory-target", password: "nope nope nope" })).statusCode,
      ).toBe(401);
    }
    // The sixth attempt waits for a delay that starts at 1 s (the dashboard's clock stands still here).
    await c.get("/login");
    const throttled = await c.post("/login", { username: "mallory-target", password: "whatever at all" });
    expect(throttled.statusCode).toBe(429);
    expect(throttled.headers["retry-after"]).toBe("1");
    expect(throttled.headers["x-srvutil-error-code"]).toBe("SRVUTIL_E_AUTH_THROTTLED");
    expect(throttled.body).toContain(
      "Too many failed sign-ins from this address. Wait 1 second and try again.",
    );
    // The same user name from another address, and another user from the first one, are not slowed.
    const elsewhere = new InjectClient(h!.app, "192.0.2.11");
    await elsewhere.get("/login");
    expect((await elsewhere.post("/login", { username: "mallory-target", password: "x" })).statusCode).toBe(
      401,
    );
    await new InjectClient(h!.app, "192.0.2.10").signIn(VIEWER);
  });

  it("gives every refusal page its stable code in X-Srvutil-Error-Code, and none to a page that is not one", async () => {
    const code = (res: { headers: Record<string, unknown> }) => res.headers["x-srvutil-error-code"];
    const anonymous = new InjectClient(h!.app, "192.0.2.20");
    await anonymous.get("/login");
    const nul = await anonymous.post("/login", { username: "a\u0000b", password: "whatever at all" });
    expect([nul.statusCode, code(nul)]).toEqual([400, "SRVUTIL_E_BAD_REQUEST"]);
    const noCsrf = await anonymous.post(
      "/login",
      { username: ADMIN.name, password: ADMIN.password },
      {},
      false,
    );
    expect([noCsrf.statusCode, code(noCsrf)]).toEqual([403, "SRVUTIL_E_FORBIDDEN"]);
    const viewer = new InjectClient(h!.app, "192.0.2.21");
    await viewer.signIn(VIEWER);
    const adminPage = await viewer.get("/admin/users");
    expect([adminPage.statusCode, code(adminPage)]).toEqual([403, "SRVUTIL_E_FORBIDDEN"]);
    const noServer = await viewer.get("/servers/no-such-server");
    expect([noServer.statusCode, code(noServer)]).toEqual([404, "SRVUTIL_E_NOT_FOUND"]);
    const noAsset = await viewer.get("/assets/nothing.js");
    expect([noAsset.statusCode, code(noAsset)]).toEqual([404, "SRVUTIL_E_NOT_FOUND"]);
    const fleet = await viewer.get("/");
    expect([fleet.statusCode, code(fleet)]).toEqual([200, undefined]);
  });

  it("escapes agent-supplied names on every page", async () => {
    const c = new InjectClient(h!.app);
    await c.signIn(ADMIN);
    const fleet = await c.get("/");
    expect(fleet.body).not.toContain(HOSTILE);
    expect(fleet.body).toContain("db-&lt;b&gt;&quot;x&quot;");
    const page = await c.get(`/servers/${encodeURIComponent(HOSTILE)}`);
    expect(page.statusCode).toBe(200);
    expect(page.body).not.toContain("<b>");
    // The chart JSON cannot close its script element.
    expect(page.body).toContain("db-\\u003cb>");
  });

  it("filters and sorts the fleet from the URL", async () => {
    const c = new InjectClient(h!.app);
    await c.signIn(VIEWER);
    const names = (body: string) =>
      [...body.matchAll(/<th scope="row"><a href="\/servers\/([^"]+)">/g)].map((m) =>
        decodeURIComponent(m[1]!),
      );
    expect(names((await c.get("/?sort=name")).body)).toEqual([HOSTILE, "web-01", "web-02"]);
    expect(names((await c.get("/?sort=name&dir=desc")).body)).toEqual(["web-02", "web-01", HOSTILE]);
    expect(names((await c.get("/?sort=cpu&dir=desc")).body)[0]).toBe(HOSTILE);
    expect(names((await c.get("/?group=web")).body).sort()).toEqual(["web-01", "web-02"]);
    expect(names((await c.get("/?status=ok")).body)).toEqual(["web-01"]);
    expect(names((await c.get("/?q=WEB-0&status=critical")).body)).toEqual(["web-02"]);
    const fleet = await c.get("/");
    expect(fleet.body).toMatch(/Needs action/);
    expect(fleet.body).toContain(`href="/servers/web-02?week=${REPORT_WEEK}"`);
  });

  it("shows each range from the rollups: 24 h, 7 days, 30 days, 1 year, custom", async () => {
    const c = new InjectClient(h!.app);
    await c.signIn(VIEWER);
    const points = async (q: string) => {
      const r = await c.get(`/servers/web-01?${q}`);
      expect(r.statusCode, q).toBe(200);
      return /(hourly|daily) points, (\d+) of them/.exec(r.body)!.slice(1);
    };
    expect(await points("range=24h")).toEqual(["hourly", "24"]);
    expect(await points("range=7d")).toEqual(["hourly", String(7 * 24)]);
    // 20 days of history (from 12:30, so its first hour is a partial one) in a 30-day window.
    expect(await points("range=30d")).toEqual(["hourly", String(20 * 24 + 1)]);
    const year = await points("range=1y");
    expect(year[0]).toBe("daily");
    expect(Number(year[1])).toBe(21);
    expect(await points("range=custom&from=2026-03-01&to=2026-03-02")).toEqual(["hourly", "48"]);
    const bad = await c.get("/servers/web-01?range=custom&from=2026-03-05&to=2026-03-01");
    expect(bad.body).toContain("the end date is before the start date");
    const page = await c.get("/servers/web-02?range=7d");
    expect(page.body).toMatch(/<th scope="row">CPU<\/th><td class="num">\d+\.\d\s%/);
    expect(page.body).toContain("Disk-full forecast");
  });

  it("gives a viewer no admin links and 403 on admin pages and actions", async () => {
    const c = new InjectClient(h!.app);
    await c.signIn(VIEWER);
    const fleet = await c.get("/");
    expect(fleet.body).not.toContain("/admin/");
    for (const url of ["/admin/tokens", "/admin/users", "/admin/groups", "/admin/agent-updates"]) {
      expect((await c.get(url)).statusCode, url).toBe(403);
    }
    expect((await c.post("/admin/tokens", { role: "agent", name: "sneaky" })).statusCode).toBe(403);
    expect((await c.post(`/reports/${REPORT_WEEK}/resend`, { group: "default" })).statusCode).toBe(403);
    expect((await c.get(`/reports/${REPORT_WEEK}`)).body).not.toContain("Resend");
    expect((await h!.store.tokens.list("agent")).some((t) => t.server === "sneaky")).toBe(false);
  });

  it("refuses state changes without the CSRF token or from another origin", async () => {
    const c = new InjectClient(h!.app);
    await c.signIn(ADMIN);
    const none = await c.post("/admin/tokens", { role: "agent", name: "forged-1" }, {}, false);
    expect(none.statusCode).toBe(403);
    const otherOrigin = await c.post(
      "/admin/tokens",
      { role: "agent", name: "forged-2" },
      { origin: "http://evil.example" },
    );
    expect(otherOrigin.statusCode).toBe(403);
    const crossSite = await c.post(
      "/admin/tokens",
      { role: "agent", name: "forged-3" },
      { "sec-fetch-site": "cross-site" },
    );
    expect(crossSite.statusCode).toBe(403);
    expect((await h!.store.tokens.list("agent")).filter((t) => t.server.startsWith("forged-"))).toEqual([]);
  });

  it("creates an agent token shown once, which then uploads; revoking it stops it", async () => {
    const c = new InjectClient(h!.app);
    await c.signIn(ADMIN);
    const created = await c.post("/admin/tokens", { role: "agent", name: "web-03" });
    expect(created.statusCode).toBe(201);
    const token = /id="new-token" class="token" readonly value="(srvu_[^"]+)"/.exec(created.body)![1]!;
    expect((await authenticate(h!.store, `Bearer ${token}`, "agent")).ok).toBe(true);
    const list = await c.get("/admin/tokens");
    expect(list.body).not.toContain(token);
    expect(list.body).toContain("web-03");
    const revoked = await c.post("/admin/tokens/revoke", { role: "agent", name: "web-03" });
    expect(revoked.body).toContain("Revoked 1 agent token(s) of web-03");
    expect(await authenticate(h!.store, `Bearer ${token}`, "agent")).toEqual({
      ok: false,
      reason: "revoked",
    });
    const bad = await c.post("/admin/tokens", { role: "agent", name: "bad name!" });
    expect(bad.statusCode).toBe(400);
    // Recorded in automation.log, never the secret.
    const log = readFileSync(h!.logFile, "utf8");
    expect(log).toMatch(/token created.*"name":"web-03".*"by":"alice"/);
    expect(log).toMatch(/token revoked.*"name":"web-03".*"count":1/);
    expect(log).toMatch(/dashboard\.signed_in.*"user":"alice"/);
    expect(log).not.toContain(token.split("_")[2]!);
  });

  it("signing out and removing a user end sessions in the database", async () => {
    const admin = new InjectClient(h!.app);
    await admin.signIn(ADMIN);
    const added = await admin.post("/admin/users", {
      name: "temp-user",
      role: "viewer",
      password: "temporary pass 1",
    });
    expect(added.statusCode).toBe(201);
    const temp = new InjectClient(h!.app);
    await temp.signIn({ name: "temp-user", password: "temporary pass 1" });
    expect((await temp.get("/")).statusCode).toBe(200);
    await admin.post("/admin/users/remove", { name: "temp-user" });
    expect((await temp.get("/")).statusCode).toBe(303);

    const again = new InjectClient(h!.app);
    await again.signIn(VIEWER);
    const cookie = again.cookies.get("srvutil_session")!;
    const out = await again.post("/logout", {});
    expect(out.statusCode).toBe(303);
    // The old cookie value is worthless now, on any instance.
    const replay = await h!.app.inject({
      method: "GET",
      url: "/",
      headers: { cookie: `srvutil_session=${cookie}` },
    });
    expect(replay.statusCode).toBe(303);
  });

  it("lists the archive with delivery status, serves JSON and CSV downloads, and queues a resend", async () => {
    const c = new InjectClient(h!.app);
    await c.signIn(ADMIN);
    const list = await c.get("/reports");
    expect(list.body).toContain(`/reports/${REPORT_WEEK}?group=web`);
    expect(list.body).toMatch(/dl-pending/);
    const csv = await c.get(`/reports/${REPORT_WEEK}/daily.csv`);
    expect(csv.headers["content-disposition"]).toBe(
      `attachment; filename="srvutil-${REPORT_WEEK}-daily.csv"`,
    );
    expect(csv.body.split("\n")[0]).toMatch(/^week,server,status,date,/);
    const json = await c.get(`/reports/${REPORT_WEEK}/report.json?group=web`);
    const parsed = JSON.parse(json.body) as { week: string; servers: { server: string }[] };
    expect(parsed.week).toBe(REPORT_WEEK);
    expect(parsed.servers.map((s) => s.server).sort()).toEqual(["web-01", "web-02"]);
    const page = await c.get(`/reports/${REPORT_WEEK}`);
    expect(page.body).toContain("Resend to web");
    const resend = await c.post(`/reports/${REPORT_WEEK}/resend`, { group: "web" });
    expect(resend.statusCode).toBe(303);
    const d = await h!.store.deliveries.get({ week: REPORT_WEEK, group: "web" });
    expect(d?.state).toBe("pending");
    expect(d?.nextAttemptAt).toBeLessThanOrEqual(NOW);
    expect((await c.get(`/reports/2019-W01`)).statusCode).toBe(404);
    expect((await c.get(`/reports/${REPORT_WEEK}/..%2F..%2Fetc%2Fpasswd`)).statusCode).toBe(404);
  });
});

describe("dashboard behind https (SRVUTIL_PUBLIC_URL)", () => {
  it("marks the cookies Secure and accepts the public origin on forms", async () => {
    const h = await dashboardHarness({ kind: "sqlite" }, { publicUrl: "https://srvutil.example.com" });
    try {
      const c = new InjectClient(h.app);
      const login = await c.get("/login");
      expect(String(login.headers["set-cookie"])).toMatch(/HttpOnly; SameSite=Lax; Max-Age=3600; Secure/);
      const res = await c.post(
        "/login",
        { username: ADMIN.name, password: ADMIN.password },
        { origin: "https://srvutil.example.com" },
      );
      expect(res.statusCode).toBe(303);
      expect((res.headers["set-cookie"] as string[]).find((x) => x.startsWith("srvutil_session="))).toMatch(
        /; Secure$/,
      );
      await c.get("/admin/tokens");
      const ok = await c.post(
        "/admin/tokens",
        { role: "viewer", name: "grafana" },
        { origin: "https://srvutil.example.com" },
      );
      expect(ok.statusCode).toBe(201);
    } finally {
      await h.close();
    }
  });
});

const NEW_KINDS: [string, "info" | "warning" | "critical", string][] = [
  ["memory_trend", "warning", "Memory climbing"],
  ["cpu_trend", "critical", "CPU climbing"],
  ["ram_changed", "info", "RAM changed"],
  ["disk_resized", "info", "Disk resized"],
  ["mount_added", "info", "Mount added"],
  ["mount_removed", "info", "Mount removed"],
  ["new_server", "info", "New server"],
];

describe.each(backends)("issue 16's finding kinds in the dashboard: %s", (_name, skipReason, make) => {
  let h: DashboardHarness | undefined;
  beforeAll(async () => {
    if (skipReason === undefined) h = await make();
  });
  afterAll(async () => h?.close());
  beforeEach((ctx) => {
    if (skipReason !== undefined) ctx.skip(skipReason);
  });

  it("lists trends under needs action, changes under the week's changes, and all of them on the server page", async () => {
    await h!.store.reports.save({
      week: "2026-W11",
      group: "default",
      createdAt: NOW,
      subject: "s",
      servers: 1,
      needingAction: 1,
      digestHtml: "",
      reportHtml: "",
      json: "{}",
      csv: "",
      serverRows: [
        {
          server: "web-01",
          status: "critical",
          reason: "CPU climbing",
          findings: NEW_KINDS.map(([kind, severity]) => ({
            kind,
            severity,
            message: `${kind} message`,
            ...(kind.startsWith("mount") || kind === "disk_resized" ? { mount: "/srv" } : {}),
          })),
          forecasts: [],
        },
      ],
    });
    const c = new InjectClient(h!.app);
    await c.signIn(VIEWER);
    const fleet = (await c.get("/")).body;
    const needs = fleet.slice(fleet.indexOf('id="na-h"'), fleet.indexOf("Changes in 2026-W11"));
    expect(needs).toContain('<span class="kind">Memory climbing</span>: memory_trend message');
    expect(needs).toContain('<span class="kind">CPU climbing</span>: cpu_trend message');
    const changesAt = fleet.indexOf("Changes in 2026-W11");
    const changes = fleet.slice(changesAt, fleet.indexOf("</section>", changesAt));
    for (const [kind, , label] of NEW_KINDS.filter(([, s]) => s === "info")) {
      expect(changes, kind).toContain(`<span class="kind">${label}</span>`);
      expect(changes, kind).toContain(`${kind} message`);
    }
    const server = (await c.get("/servers/web-01?week=2026-W11")).body;
    for (const [kind, severity, label] of NEW_KINDS) {
      expect(server, kind).toContain(
        `<span class="sev sev-${severity}">${severity}</span> <span class="kind">${label}</span>`,
      );
    }
  });
});
