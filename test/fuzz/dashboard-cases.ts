/**
 * The properties of the dashboard, shared by the SQLite run (dashboard.test.ts)
 * and the PostgreSQL pass (postgres.test.ts). The central must hold the data
 * of test/central/dashboard/harness.ts `seed()` (alice, victor, an archived
 * report of REPORT_WEEK).
 */
import fc from "fast-check";
import { expect } from "vitest";
import { newToken, SESSION_COOKIE, SESSION_IDLE_MS, sha256 } from "../../src/central/dashboard/sessions.js";
import { ADMIN, REPORT_WEEK, VIEWER } from "../central/dashboard/harness.js";
import { enc, hostileString, queryValue } from "./arbitraries.js";
import type { FuzzCentral } from "./central.js";
import { type FuzzRun, fuzzParams } from "./harness.js";

const FORM = "application/x-www-form-urlencoded";

/** A session of `user` made the way sign-in makes one (without paying scrypt for each). */
export async function newSession(c: FuzzCentral, user: string): Promise<{ cookie: string; csrf: string }> {
  const id = newToken();
  const csrf = newToken();
  const now = Date.now();
  await c.store.users.createSession({
    idHash: sha256(id),
    user,
    csrfToken: csrf,
    createdAt: now,
    expiresAt: now + SESSION_IDLE_MS,
  });
  return { cookie: `${SESSION_COOKIE}=${encodeURIComponent(id)}`, csrf };
}

const hostileCookie = fc.oneof(
  hostileString(60).map((s) => `${SESSION_COOKIE}=${s}`),
  fc.constantFrom(
    `${SESSION_COOKIE}=`,
    `${SESSION_COOKIE}=${"a".repeat(43)}`,
    `${SESSION_COOKIE}=${"a".repeat(5000)}`,
    `${SESSION_COOKIE}=%E0%A4%A`,
    `${SESSION_COOKIE}=%`,
    `${SESSION_COOKIE}="${"a".repeat(43)}"`,
    `${SESSION_COOKIE}=a; ${SESSION_COOKIE}=b`,
    "=; ; ;;",
    `${"x=y; ".repeat(500)}`,
    "srvutil_login=%ff%fe",
  ),
);

/** Pages and their query strings, with and without a session; a GET stores nothing. */
export async function dashboardPages(run: FuzzRun, numRuns: number, label: string): Promise<void> {
  const c = run.c;
  const week = fc.oneof(
    fc.constant(REPORT_WEEK),
    fc.constantFrom("2026-W53", "2026-W00", "0000-W01", "9999-W52", "2026-W1", "2026-w10", "2026-W10x"),
    hostileString(20).map(enc),
  );
  const path = fc.oneof(
    fc.constantFrom(
      "/",
      "/reports",
      "/admin/tokens",
      "/admin/users",
      "/admin/groups",
      "/admin/add-server",
      "/admin/agent-updates",
      "/login",
      "/favicon.ico",
    ),
    fc.constantFrom("web-01", "web-02", enc('db-<b>"x"'), "nope").map((s) => `/servers/${s}`),
    hostileString(70).map((s) => `/servers/${enc(s)}`),
    week.map((w) => `/reports/${w}`),
    fc
      .tuple(
        week,
        fc.oneof(
          fc.constantFrom("report.html", "email.html", "report.json", "daily.csv"),
          hostileString(20).map(enc),
        ),
      )
      .map(([w, f]) => `/reports/${w}/${f}`),
    fc
      .oneof(
        fc.constantFrom("app.js", "app.css", "..%2F..%2Fpackage.json", "%2e%2e"),
        hostileString(20).map(enc),
      )
      .map((f) => `/assets/${f}`),
  );
  const param = fc.oneof(
    fc.constantFrom(
      "range=24h",
      "range=1y",
      "range=custom&from=2026-02-01&to=2026-03-11",
      "range=custom&from=0001-01-01&to=9999-12-31",
      "range=custom&from=2026-03-11&to=2026-02-01",
      "from=2026-02-30&to=2026-03-01",
      "week=2026-W10",
      "week=9999-W52",
      "week=0000-W01",
      "per=all",
      "per=500",
      "page=999999999999",
      "page=-1",
      "sort=cpu&dir=desc",
      "status=critical",
      "group=web",
      "group=default",
      "resent=default",
      "next=/",
      "next=//evil.example",
      "next=/%09/evil.example",
      "next=/%0D%0ASet-Cookie:%20x=y",
      "next=https://evil.example/",
      "next=/\\evil.example",
    ),
    fc
      .tuple(
        fc.constantFrom(
          "range",
          "from",
          "to",
          "week",
          "q",
          "status",
          "group",
          "sort",
          "dir",
          "per",
          "page",
          "resent",
          "next",
          "__proto__",
          "x",
        ),
        queryValue,
      )
      .map(([k, v]) => `${k}=${v}`),
  );
  const query = fc.array(param, { maxLength: 5 }).map((ps) => (ps.length === 0 ? "" : `?${ps.join("&")}`));
  const who = fc.oneof(
    fc.constantFrom("none", "viewer", "admin", "admin", "viewer"),
    hostileCookie.map((cookie) => `cookie:${cookie}`),
  );
  const sessions = { viewer: await newSession(c, VIEWER.name), admin: await newSession(c, ADMIN.name) };
  await fc.assert(
    fc.asyncProperty(path, query, who, async (p, q, w) => {
      const headers: Record<string, string> = {};
      if (w === "viewer" || w === "admin") headers.cookie = sessions[w].cookie;
      else if (w.startsWith("cookie:")) headers.cookie = w.slice(7);
      const x = await run.exchange({ method: "GET", url: p + q, headers });
      expect(x.after, "a GET stores nothing").toEqual(x.before);
      if (
        x.answer.status === 200 &&
        !p.startsWith("/assets/") &&
        !p.startsWith("/reports/2026-W10/") &&
        p !== "/favicon.ico"
      ) {
        expect(String(x.answer.headers["content-type"])).toMatch(/^text\/html/);
      }
      // Pages need a session: without one the answer is the way to the sign-in page.
      if (
        (w === "none" || w.startsWith("cookie:")) &&
        !["/login", "/favicon.ico"].includes(p) &&
        !p.startsWith("/assets/")
      ) {
        expect([303, 400, 404, 414], `${p}${q} without a session`).toContain(x.answer.status);
      }
    }),
    fuzzParams(label, numRuns),
  );
}

/** Every form with and without session and CSRF, hostile fields and content types; a refused form acts on nothing. */
export async function dashboardForms(run: FuzzRun, numRuns: number, label: string): Promise<void> {
  const c = run.c;
  const action = fc.oneof(
    fc.constantFrom(
      "/logout",
      "/admin/tokens",
      "/admin/tokens",
      "/admin/tokens/revoke",
      "/admin/users",
      "/admin/users",
      "/admin/users/remove",
      "/admin/add-server",
      "/admin/add-server",
      "/admin/add-server/revoke",
      "/admin/agent-updates",
      `/reports/${REPORT_WEEK}/resend`,
      "/login",
    ),
    hostileString(12).map((w) => `/reports/${enc(w)}/resend`),
  );
  const csrf = fc.oneof(
    { weight: 5, arbitrary: fc.constant("valid") },
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        "missing",
        "empty",
        "other-session",
        "twice",
        "non-ascii-43",
        "ascii-43",
        "cross-site",
        "foreign-origin",
        "null-origin",
      ),
    },
    { weight: 1, arbitrary: hostileString(60).map((s) => `raw:${s}`) },
  );
  const who = fc.constantFrom("admin", "admin", "admin", "viewer", "none");
  const name = fc.oneof(
    fc.constantFrom("web-09", "ops-viewer", "carol", "web-01", "WEB-01", "fuzz-user", ""),
    hostileString(80),
    fc.integer({ min: 200, max: 70_000 }).map((n) => "n".repeat(n)),
  );
  const fields = fc.record({
    name,
    role: fc.oneof(fc.constantFrom("agent", "viewer", "admin", ""), hostileString(20)),
    // A user that can be added costs a scrypt hash (tens of ms): kept to about one form in twenty.
    password: fc.oneof(
      {
        weight: 1,
        arbitrary: fc.constantFrom("long enough password", "\u0000".repeat(12), "é".repeat(10)),
      },
      { weight: 4, arbitrary: fc.oneof(fc.constant("short"), hostileString(9)) },
      { weight: 1, arbitrary: hostileString(80) },
    ),
    group: fc.oneof(fc.constantFrom("default", "web", ""), hostileString(40)),
    username: fc.oneof(fc.constantFrom("alice", "victor", ""), hostileString(40)),
    next: fc.oneof(fc.constantFrom("/", "//evil.example"), hostileString(40)),
    // The Add server form (an enrolment token) and its revoke (id).
    servers: fc.oneof(fc.constantFrom("web-*", "*", "", "web/*"), hostileString(40)),
    uses: fc.oneof(fc.constantFrom("1", "0", "100001", "-1", "1e3", ""), hostileString(10)),
    expires: fc.oneof(fc.constantFrom("24h", "30m", "400d", "0h", ""), hostileString(10)),
    tags: fc.oneof(fc.constantFrom("", "env=prod", "a=b, c=d", "novalue"), hostileString(40)),
    allowReenrol: fc.constantFrom("", "yes"),
    id: fc.oneof(fc.constantFrom("0123456789ab", ""), hostileString(20)),
    // The Agent updates form: the fleet's setting and a group's.
    fleet: fc.oneof(fc.constantFrom("on", "off", "default", ""), hostileString(12)),
    groupWeb: fc.oneof(fc.constantFrom("on", "off", "default", ""), hostileString(12)),
    extra: fc.array(fc.tuple(hostileString(10), hostileString(20)), { maxLength: 4 }),
  });
  const type = fc.oneof(
    { weight: 6, arbitrary: fc.constant(FORM) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        `${FORM}; charset=utf-8`,
        `${FORM}; charset=latin1`,
        "application/json",
        "multipart/form-data; boundary=x",
        "text/plain",
        "",
      ),
    },
  );
  await fc.assert(
    fc.asyncProperty(action, csrf, who, fields, type, fc.boolean(), async (a, k, w, f, t, rawEncoding) => {
      // A removed user cannot be alice or victor: the run's own sessions must stay valid.
      if (a === "/admin/users/remove" && (f.name === ADMIN.name || f.name === VIEWER.name)) f.name = "nobody";
      const headers: Record<string, string> = {};
      if (t !== "") headers["content-type"] = t;
      let token: string | null = null;
      if (w !== "none") {
        const s = await newSession(c, w === "admin" ? ADMIN.name : VIEWER.name);
        headers.cookie = s.cookie;
        token = s.csrf;
      }
      const form: [string, string][] = [
        ["name", f.name],
        ["role", f.role],
        ["password", f.password],
        ["group", f.group],
        ["username", f.username],
        ["next", f.next],
        ["servers", f.servers],
        ["uses", f.uses],
        ["expires", f.expires],
        ["tags", f.tags],
        ["allow_reenrol", f.allowReenrol],
        ["id", f.id],
        ["fleet", f.fleet],
        ["group:web", f.groupWeb],
        ...f.extra,
      ];
      let csrfOk = false;
      if (k === "valid" && token !== null) {
        form.unshift(["_csrf", token]);
        csrfOk = true;
      } else if (k === "empty") form.unshift(["_csrf", ""]);
      else if (k === "other-session") form.unshift(["_csrf", (await newSession(c, ADMIN.name)).csrf]);
      else if (k === "twice" && token !== null) form.unshift(["_csrf", "wrong"], ["_csrf", token]);
      else if (k === "non-ascii-43") form.unshift(["_csrf", "é".repeat(43)]);
      else if (k === "ascii-43") form.unshift(["_csrf", "A".repeat(43)]);
      else if (k === "cross-site" && token !== null) {
        form.unshift(["_csrf", token]);
        headers["sec-fetch-site"] = "cross-site";
      } else if (k === "foreign-origin" && token !== null) {
        form.unshift(["_csrf", token]);
        headers.origin = "https://evil.example";
      } else if (k === "null-origin" && token !== null) {
        form.unshift(["_csrf", token]);
        headers.origin = "null";
      } else if (k.startsWith("raw:")) form.unshift(["_csrf", k.slice(4)]);
      const body = rawEncoding
        ? form.map(([key, v]) => `${key}=${v}`).join("&")
        : new URLSearchParams(form).toString();
      const x = await run.exchange({ method: "POST", url: a, headers, body });
      if (x.answer.status === 0) return;
      const acted = x.answer.status < 400;
      // Sign-out without a session is a plain redirect to the sign-in page, whatever the form says.
      const signOutAlone = a === "/logout" && w === "none";
      if (acted && !signOutAlone) {
        expect(csrfOk && t.startsWith(FORM), `${a} acted without its CSRF token (${k}, ${t})`).toBe(true);
        if (a !== "/login" && a !== "/logout") expect(w, `${a} acted for ${w}`).toBe("admin");
      }
      if (!acted) expect(x.after).toEqual(x.before);
    }),
    fuzzParams(label, numRuns),
  );
}

/** Sign-in with the right password and a hostile next=: a clean redirect that stays on the site. */
export async function signInNext(run: FuzzRun, numRuns: number, label: string): Promise<void> {
  const next = fc.oneof(
    {
      weight: 2,
      arbitrary: fc.constantFrom("/\t/evil.example", "/%09/evil.example", "/\r\n/evil.example"),
    },
    fc.constantFrom(
      "/",
      "/servers/web-01?range=1y",
      "//evil.example",
      "/\\evil.example",
      "/\t/evil.example",
      "/\r\n/evil.example",
      "/%09/evil.example",
      "https://evil.example/",
      "javascript:alert(1)",
      "/\u0000",
      `/${"a".repeat(5000)}`,
    ),
    hostileString(40).map((s) => `/${s}`),
  );
  await fc.assert(
    fc.asyncProperty(next, async (n) => {
      const login = newToken();
      const x = await run.exchange({
        method: "POST",
        url: "/login",
        headers: { "content-type": FORM, cookie: `srvutil_login=${login}` },
        body: new URLSearchParams({
          _csrf: login,
          username: VIEWER.name,
          password: VIEWER.password,
          next: n,
        }).toString(),
      });
      if (x.answer.status === 303) expect(x.after.dashboard_sessions).toBe(x.before.dashboard_sessions! + 1);
    }),
    fuzzParams(label, numRuns),
  );
}

/** The sign-in form with hostile names, passwords, next= and login tokens: never signed in. */
export async function signInForm(run: FuzzRun, numRuns: number, label: string): Promise<void> {
  const login = fc.record({
    token: fc.constantFrom("match", "match", "match", "mismatch", "no-cookie", "no-field", "non-ascii-43"),
    username: fc.oneof(fc.constantFrom("alice", "victor", "ALICE", " alice ", ""), hostileString(80)),
    password: fc.oneof(
      fc.constantFrom("", "wrong password"),
      hostileString(100),
      fc.integer({ min: 1000, max: 60_000 }).map((n) => "p".repeat(n)),
    ),
    next: fc.oneof(fc.constant("/"), hostileString(40)),
    getNext: queryValue,
  });
  await fc.assert(
    fc.asyncProperty(login, async (l) => {
      // The form itself, with a hostile next= in its query.
      const form = await run.exchange({ method: "GET", url: `/login?next=${l.getNext}` });
      expect(form.after).toEqual(form.before);
      const cookieToken = newToken();
      const fieldToken =
        l.token === "match" ? cookieToken : l.token === "non-ascii-43" ? "é".repeat(43) : newToken();
      const body = new URLSearchParams({
        ...(l.token === "no-field" ? {} : { _csrf: fieldToken }),
        username: l.username,
        password: l.password,
        next: l.next,
      }).toString();
      const headers: Record<string, string> = { "content-type": FORM };
      if (l.token !== "no-cookie") headers.cookie = `srvutil_login=${cookieToken}`;
      const x = await run.exchange({ method: "POST", url: "/login", headers, body });
      expect(x.answer.status, "no sign-in without the right password").not.toBe(303);
      if (l.token !== "match") expect(x.answer.status, "a sign-in without the right CSRF token").toBe(403);
    }),
    fuzzParams(label, numRuns),
  );
}
