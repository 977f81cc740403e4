import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createViewerToken, routesOf } from "../../../src/central/http/app.js";
import { InjectClient } from "./harness.js";
import { ADMIN, leaked, MARK, PG, SCOPED, type World, world } from "./scoped-fixture.js";

/*
 * Issue 30's attacker test: a viewer limited to group "alpha" asks, by URL,
 * for everything of group "bravo" on every read route the app has (taken
 * from the app's own route list, so a new route fails here until it is
 * classified), as a signed-in user and with a viewer token, on SQLite and
 * PostgreSQL. Out of scope answers 404 (a server or report outside the
 * scope is not told to exist) or 403 (admin-only pages); no answer carries
 * "bravo" (its servers, its group, its recipients, its delivery error).
 * Admins and an unscoped token get the same URLs answered, so a probe that
 * could never see a leak fails too.
 */

/** What a route is probed with: its own group's URLs (answered) and bravo's (refused). */
interface Probe {
  /** URLs of the scope's own servers or reports: 200, and nothing of bravo in them. */
  own: string[];
  /** URLs of bravo's servers or reports: 404 or 403 for the scoped viewer, 200 for an admin. */
  other: string[];
  /** Lists: 200 with alpha in them and no bravo (an admin's has bravo). */
  list?: string[];
  /** Admin-only pages: 403 for any viewer. */
  adminOnly?: string[];
}

const FILES = ["report.html", "email.html", "report.json", "daily.csv"];

/** Every GET route with per-server or per-group data, and how to probe it. */
function probes(week: string): Record<string, Probe> {
  return {
    "GET /": { own: [], other: [], list: ["/", "/?group=alpha", "/?per=0"] },
    "GET /servers/:name": {
      own: ["/servers/alpha-01", "/servers/alpha-02"],
      other: ["/servers/bravo-01", "/servers/bravo-db", "/servers/bravo-01?week=" + week],
    },
    "GET /reports": { own: [], other: [], list: ["/reports"] },
    "GET /reports/:week": {
      own: [`/reports/${week}?group=alpha`],
      other: [`/reports/${week}?group=bravo`, `/reports/${week}?group=default`],
      list: [`/reports/${week}`],
    },
    "GET /reports/:week/:file": {
      own: FILES.map((f) => `/reports/${week}/${f}?group=alpha`),
      // The whole fleet's report (group default) holds bravo's servers too.
      other: FILES.flatMap((f) => [`/reports/${week}/${f}?group=bravo`, `/reports/${week}/${f}`]),
    },
    "GET /alerts": { own: [], other: [], list: ["/alerts", "/alerts?days=30"] },
    "GET /alerts/channels": { own: [], other: [], adminOnly: ["/alerts/channels"] },
    "GET /admin/tokens": { own: [], other: [], adminOnly: ["/admin/tokens"] },
    "GET /admin/users": { own: [], other: [], adminOnly: ["/admin/users"] },
    "GET /admin/groups": { own: [], other: [], adminOnly: ["/admin/groups"] },
    "GET /admin/add-server": { own: [], other: [], adminOnly: ["/admin/add-server"] },
    "GET /admin/agent-updates": { own: [], other: [], adminOnly: ["/admin/agent-updates"] },
    "GET /api/v1/servers": { own: [], other: [], list: ["/api/v1/servers"] },
    "GET /api/v1/servers/:name/samples": {
      own: ["/api/v1/servers/alpha-01/samples?from=2020-01-01T00:00:00Z&to=2100-01-01T00:00:00Z"],
      other: [
        "/api/v1/servers/bravo-01/samples?from=2020-01-01T00:00:00Z&to=2100-01-01T00:00:00Z",
        "/api/v1/servers/bravo-db/samples?from=2020-01-01T00:00:00Z&to=2100-01-01T00:00:00Z&limit=1",
      ],
    },
    "GET /api/v1/alerts": { own: [], other: [], list: ["/api/v1/alerts", "/api/v1/alerts?history_hours=48"] },
    "GET /api/v1/scrape/targets": { own: [], other: [], list: ["/api/v1/scrape/targets"] },
  };
}

/** GET routes with no per-server data, and why; fetched anyway to check that none names bravo. */
const NO_SERVER_DATA: Record<string, { url: string; why: string }> = {
  "GET /favicon.ico": { url: "/favicon.ico", why: "an icon" },
  "GET /assets/:file": { url: "/assets/app.css", why: "the dashboard's script and stylesheet" },
  "GET /login": { url: "/login", why: "the sign-in form" },
  "GET /auth/oidc/login": { url: "/auth/oidc/login", why: "sends the browser to the identity provider" },
  "GET /auth/oidc/callback": {
    url: "/auth/oidc/callback?code=x&state=y",
    why: "the provider's answer: signs in or refuses, names no server",
  },
  "GET /healthz": { url: "/healthz", why: "process up" },
  "GET /readyz": { url: "/readyz", why: "database answers" },
  "GET /metrics": { url: "/metrics", why: "ingest counters labelled by result, kind, reason, status" },
  "GET /api/v1/openapi.json": { url: "/api/v1/openapi.json", why: "the API's description" },
  "GET /api/v1/agent/whoami": {
    url: "/api/v1/agent/whoami",
    why: "agent tokens only: the token's own server",
  },
  "GET /agent/manifest.json": {
    url: "/agent/manifest.json",
    why: "the agent files this central serves; an agent token gets its own server's decision only",
  },
  "GET /agent/:platform": { url: "/agent/linux-x64", why: "an agent executable" },
  "GET /install.sh": { url: "/install.sh", why: "the installer script" },
  "GET /install.ps1": { url: "/install.ps1", why: "the installer script" },
};

/** Non-GET routes: the admin actions (403 for any viewer) and the writes (agent and relay tokens only). */
const ADMIN_ACTIONS = [
  "POST /reports/:week/resend",
  "POST /admin/tokens",
  "POST /admin/tokens/revoke",
  "POST /admin/users",
  "POST /admin/users/remove",
  "POST /admin/add-server",
  "POST /admin/add-server/revoke",
  "POST /admin/agent-updates",
  "POST /servers/:name/tags",
  "POST /alerts/ack",
  "POST /alerts/silences",
  "POST /alerts/silences/end",
  "POST /alerts/channels/test",
];
const WRITES = [
  "POST /api/v1/metrics",
  "POST /api/v1/prometheus/write",
  "POST /v1/metrics",
  "POST /api/v1/telegraf",
  "POST /api/v1/collectd",
  "POST /api/v1/enrol",
];
/** The sign-in routes; the back-channel logout takes only a logout token signed by the provider. */
const SIGN_IN = ["POST /login", "POST /logout", "POST /auth/oidc/backchannel-logout"];

const backends = [
  ["sqlite", undefined],
  ["postgres", PG.skipReason],
] as const;

describe.each(backends)("scoped viewers, as an attacker would: %s", (backend, skipReason) => {
  let w: World | undefined;
  let admin: InjectClient;
  let scoped: InjectClient;
  let scopedToken = "";
  let wholeToken = "";

  beforeAll(async () => {
    if (skipReason !== undefined) return;
    w = await world(backend);
    admin = new InjectClient(w.app);
    await admin.signIn(ADMIN);
    // The scoped user and token are made the way an admin makes them: the admin pages.
    await admin.get("/admin/users");
    const added = await admin.post("/admin/users", { ...SCOPED, role: "viewer", groups: "alpha" });
    expect(added.statusCode).toBe(201);
    await admin.get("/admin/tokens");
    const created = await admin.post("/admin/tokens", {
      role: "viewer",
      name: "ann-script",
      groups: "alpha",
    });
    expect(created.statusCode).toBe(201);
    scopedToken = /value="(srvv_[0-9a-f_]+)"/.exec(created.body)![1]!;
    wholeToken = await createViewerToken(w.store, "everything");
    scoped = new InjectClient(w.app);
    await scoped.signIn(SCOPED);
  }, 120_000);
  afterAll(async () => {
    await w?.close();
  });
  beforeEach((ctx) => {
    if (skipReason !== undefined) ctx.skip(skipReason);
  });

  const isApi = (url: string) => url.startsWith("/api/");
  const asScoped = (url: string) =>
    isApi(url)
      ? w!.app.inject({ url, headers: { authorization: `Bearer ${scopedToken}` } })
      : scoped.get(url);
  const asWhole = (url: string) =>
    isApi(url) ? w!.app.inject({ url, headers: { authorization: `Bearer ${wholeToken}` } }) : admin.get(url);

  it("every route of the app is classified: probed for scope, or allow-listed with a reason", () => {
    const routes = routesOf(w!.app);
    const gets = new Set(routes.filter((r) => r.method === "GET").map((r) => `GET ${r.url}`));
    const others = new Set(
      routes.filter((r) => r.method !== "GET" && r.method !== "HEAD").map((r) => `${r.method} ${r.url}`),
    );
    // fastify adds a HEAD to every GET; a HEAD of its own would need a probe.
    const heads = routes.filter((r) => r.method === "HEAD").map((r) => `GET ${r.url}`);
    expect(heads.filter((h) => !gets.has(h))).toEqual([]);
    expect([...gets].sort()).toEqual(
      [...Object.keys(probes(w!.week)), ...Object.keys(NO_SERVER_DATA)].sort(),
    );
    expect([...others].sort()).toEqual([...ADMIN_ACTIONS, ...WRITES, ...SIGN_IN].sort());
  });

  it("bravo's server pages, reports, files, samples: 404 or 403 for alpha's viewer (session and token), 200 for an admin", async () => {
    let probed = 0;
    for (const [route, p] of Object.entries(probes(w!.week))) {
      for (const url of p.other) {
        const res = await asScoped(url);
        expect([403, 404], `${route}: ${url} answered ${res.statusCode}`).toContain(res.statusCode);
        expect(leaked(res.body, url), url).toEqual([]);
        const control = await asWhole(url);
        expect(control.statusCode, `admin/unscoped ${url}`).toBe(200);
        expect(control.body.toLowerCase()).toContain(MARK);
        probed++;
      }
    }
    expect(probed).toBeGreaterThan(10);
  });

  it("pages and API answers of alpha's own servers still work, naming nothing of bravo", async () => {
    for (const [route, p] of Object.entries(probes(w!.week))) {
      for (const url of p.own) {
        const res = await asScoped(url);
        expect(res.statusCode, `${route}: ${url}`).toBe(200);
        expect(res.body.toLowerCase(), `${url} names bravo`).not.toContain(MARK);
      }
    }
  });

  it("lists (fleet, reports, alerts, servers, scrape targets) hold alpha's servers and none of bravo's", async () => {
    for (const [route, p] of Object.entries(probes(w!.week))) {
      for (const url of p.list ?? []) {
        const res = await asScoped(url);
        expect(res.statusCode, `${route}: ${url}`).toBe(200);
        const body = res.body.toLowerCase();
        expect(body, `${url} names bravo`).not.toContain(MARK);
        expect(body, `${url} shows alpha`).toContain("alpha");
        const control = await asWhole(url);
        expect(control.body.toLowerCase(), `admin/unscoped ${url}`).toContain(MARK);
      }
    }
  });

  it("admin-only pages and every admin action answer 403 to the scoped viewer", async () => {
    for (const p of Object.values(probes(w!.week))) {
      for (const url of p.adminOnly ?? []) expect((await scoped.get(url)).statusCode, url).toBe(403);
    }
    for (const action of ADMIN_ACTIONS) {
      const url = action.slice(5).replace(":week", w!.week).replace(":name", "bravo-01");
      const res = await scoped.post(url, { name: "bravo-01", group: "bravo", id: "1", server: "bravo-*" });
      expect(res.statusCode, action).toBe(403);
    }
  });

  it("a viewer token is no session and a session is no token; the writes refuse viewer tokens", async () => {
    for (const p of Object.values(probes(w!.week))) {
      for (const url of [...p.own, ...p.other, ...(p.list ?? [])]) {
        const res = isApi(url)
          ? await scoped.get(url)
          : await w!.app.inject({ url, headers: { authorization: `Bearer ${scopedToken}` } });
        expect([303, 401], `${url} with the other credential`).toContain(res.statusCode);
        expect(res.body.toLowerCase()).not.toContain(MARK);
      }
    }
    for (const write of WRITES) {
      const res = await w!.app.inject({
        method: "POST",
        url: write.slice(5),
        headers: { authorization: `Bearer ${scopedToken}`, "content-type": "text/csv" },
        payload: "x",
      });
      expect([400, 401, 403, 415], write).toContain(res.statusCode);
    }
  });

  it("the allow-listed routes name nothing of bravo", async () => {
    for (const [route, { url }] of Object.entries(NO_SERVER_DATA)) {
      for (const res of [await scoped.get(url), await asScoped(url)]) {
        expect(res.body.toLowerCase(), route).not.toContain(MARK);
      }
    }
  });

  it("the fleet's counts count alpha's servers only", async () => {
    const mine = (await scoped.get("/")).body;
    const all = (await admin.get("/")).body;
    expect(mine).toContain('<a href="/">All <strong>2</strong></a>');
    expect(all).toContain('<a href="/">All <strong>4</strong></a>');
    // The open alert of bravo-db is not in alpha's "Alerts: N firing".
    expect(mine).toMatch(/1<\/strong> firing|1 firing/);
    // Its "Needs action" links to its own group's report, not the whole fleet's.
    expect(mine).toContain(`href="/reports/${w!.week}?group=alpha"`);
  });

  it("unknown group names are refused at creation with the groups the file has", async () => {
    await admin.get("/admin/users");
    const res = await admin.post("/admin/users", {
      name: "bob",
      password: "viewer password 2",
      role: "viewer",
      groups: "alpha,charlie",
    });
    expect(res.statusCode).toBe(400);
    expect(res.body).toContain("unknown group &#39;charlie&#39;");
    expect(res.body).toContain("has default, alpha, bravo");
    expect(await w!.store.users.findUser("bob")).toBeNull();
    const admin2 = await admin.post("/admin/users", {
      name: "bob",
      password: "viewer password 2",
      role: "admin",
      groups: "alpha",
    });
    expect(admin2.statusCode).toBe(400);
    expect(admin2.body).toContain("groups limit viewers only");
    await admin.get("/admin/tokens");
    const token = await admin.post("/admin/tokens", { role: "viewer", name: "t2", groups: "nope" });
    expect(token.statusCode).toBe(400);
    expect(token.body).toContain("unknown group &#39;nope&#39;");
    expect((await w!.store.tokens.list("viewer")).map((t) => t.server)).not.toContain("t2");
    // What was stored: the scope, on this backend.
    expect((await w!.store.users.findUser(SCOPED.name))?.groups).toEqual(["alpha"]);
    const stored = (await w!.store.tokens.list("viewer")).find((t) => t.server === "ann-script");
    expect(stored?.groups).toEqual(["alpha"]);
    expect(
      (await w!.store.tokens.list("viewer")).find((t) => t.server === "everything")?.groups ?? null,
    ).toBeNull();
  });
});
