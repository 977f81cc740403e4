/**
 * Hostile values in the dashboard's forms and what the answers carry, against
 * a real central over real sockets (issue 24, point 4): the `next` redirect
 * after sign-in, the CSRF comparison, the cookies and Strict-Transport-Security.
 */

import { mkdtempSync, rmSync } from "node:fs";
import https from "node:https";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningCentral } from "../../../src/central/central-process.js";
import { httpRequest, setCookies } from "../../helpers/http.js";
import { makeSelfSignedCert } from "../../helpers/tls.js";
import { ADMIN, DashboardClient, dashboardCentral } from "./http-client.js";

describe("dashboard forms and answers on a plain-HTTP central reached on loopback (the demo)", () => {
  let c: RunningCentral & { dataDir: string };
  beforeAll(async () => {
    c = await dashboardCentral();
  });
  afterAll(async () => c?.close());

  // [next as sent in the form body (already URL-encoded), the Location expected].
  const NEXT_CASES: [string, string][] = [
    ["/%09/evil.example", "/"], // "/<TAB>/evil.example": browsers drop the tab and read //evil.example
    ["%2F%09%2Fevil.example", "/"],
    ["/%0A/evil.example", "/"],
    ["/%0D%0A/evil.example", "/"], // was a 500 (invalid header character) after the session was made
    ["/%0D%0ASet-Cookie:%20x=1", "/"],
    ["/%00/evil.example", "/"],
    ["//evil.example", "/"],
    ["//evil.example/%2F..", "/"],
    ["///evil.example", "/"],
    ["/%5Cevil.example", "/"], // /\evil.example
    ["/%5C/evil.example", "/"],
    ["%5C%5Cevil.example", "/"],
    ["/..//evil.example", "/"], // the parser normalizes it into //evil.example
    ["/./%2F/evil.example", "/"],
    ["https://evil.example/", "/"],
    ["http:evil.example", "/"],
    ["HTTPS:%2F%2Fevil.example", "/"],
    ["javascript:alert(1)", "/"],
    ["%20/evil.example", "/"],
    ["", "/"],
    [`/${"a".repeat(2100)}`, "/"],
    // Same-origin paths stay, in the parser's percent-encoded form.
    ["/servers/web-01%3Fweek%3D2026-W10", "/servers/web-01?week=2026-W10"],
    ["/%252F/evil.example", "/%2F/evil.example"],
    ["/reports?x=%E2%80%AE%22%3C#frag", "/reports?x=%E2%80%AE%22%3C#frag"],
    ["/a b", "/a%20b"],
  ];

  it.each(NEXT_CASES)("after sign-in, next=%j goes to %j, never off the site", async (next, location) => {
    const client = new DashboardClient(c.url, "127.0.0.20");
    await client.get("/login");
    const res = await client.postRaw(
      "/login",
      `_csrf=${encodeURIComponent(client.csrf)}&username=${ADMIN.name}&password=${encodeURIComponent(ADMIN.password)}&next=${next}`,
    );
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe(location);
    expect(new URL(String(res.headers.location), c.url).origin).toBe(new URL(c.url).origin);
    // The sign-in form echoes only a safe value of next, too.
    const form = await new DashboardClient(c.url, "127.0.0.20").get(`/login?next=${next}`);
    expect(form.status).toBe(200);
    const echoed = /name="next" value="([^"]*)"/.exec(form.text)?.[1];
    expect(echoed).toBeDefined();
    expect(new URL(echoed!.replace(/&amp;/g, "&"), c.url).origin).toBe(new URL(c.url).origin);
    if (location === "/") expect(echoed).toBe("/");
  });

  /** _csrf values as sent in a form body. */
  const HOSTILE_CSRF: [string, string][] = [
    [
      "43 non-ASCII characters (a real token's length; was a 500)",
      `_csrf=${encodeURIComponent("é".repeat(43))}`,
    ],
    ["43 astral characters", `_csrf=${encodeURIComponent("😀".repeat(43))}`],
    ["empty", "_csrf="],
    ["absent", "x=1"],
    ["60,000 characters", `_csrf=${"A".repeat(60_000)}`],
    ["twice (the first counts)", "_csrf=wrong&_csrf=wrong2"],
    ["as an array name", "_csrf[]=x&_csrf[0]=y"],
    ["a lone surrogate", "_csrf=%ED%A0%80"],
  ];

  it.each(HOSTILE_CSRF)(
    "refuses a _csrf %s with 403 on /login, /logout and /admin/tokens, never 500",
    async (_label, csrf) => {
      const anonymous = new DashboardClient(c.url, "127.0.0.21");
      await anonymous.get("/login");
      const login = await anonymous.postRaw("/login", `${csrf}&username=${ADMIN.name}&password=x`);
      expect(login.status).toBe(403);
      expect(login.text).toContain("The sign-in form expired or came from another site.");

      const admin = new DashboardClient(c.url, "127.0.0.21");
      expect((await admin.signIn(ADMIN)).status).toBe(303);
      const tokens = await admin.postRaw("/admin/tokens", `${csrf}&role=viewer&name=grafana`);
      expect(tokens.status).toBe(403);
      expect(tokens.text).toContain("missing or wrong CSRF token");
      const logout = await admin.postRaw("/logout", csrf);
      expect(logout.status).toBe(403);
      // Still signed in: the refused sign-out ended nothing.
      expect((await admin.get("/")).status).toBe(200);
    },
  );

  it("answers a form body above its 64 KiB limit with 413, not 500", async () => {
    const client = new DashboardClient(c.url, "127.0.0.21");
    await client.get("/login");
    const res = await client.postRaw("/login", `_csrf=${"A".repeat(70_000)}`);
    expect(res.status).toBe(413);
  });

  it("sends each cookie once, without Secure on loopback, and no HSTS over plain HTTP", async () => {
    const client = new DashboardClient(c.url, "127.0.0.22");
    const form = await client.get("/login");
    expect(setCookies(form)).toEqual([
      expect.stringMatching(/^srvutil_login=[^;]+; Path=\/; HttpOnly; SameSite=Lax; Max-Age=3600$/),
    ]);
    const res = await client.post("/login", { username: ADMIN.name, password: ADMIN.password });
    expect(res.status).toBe(303);
    const cookies = setCookies(res);
    // The session cookie once (it used to come twice), and the sign-in form's cookie cleared once.
    expect(cookies.filter((l) => l.startsWith("srvutil_session="))).toEqual([
      expect.stringMatching(/^srvutil_session=[^;]{43}; Path=\/; HttpOnly; SameSite=Lax; Max-Age=604800$/),
    ]);
    expect(cookies.filter((l) => l.startsWith("srvutil_login="))).toEqual([
      "srvutil_login=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0",
    ]);
    expect(cookies).toHaveLength(2);
    for (const url of ["/login", "/healthz", "/api/v1/servers"]) {
      expect((await httpRequest(c.url + url)).headers["strict-transport-security"], url).toBeUndefined();
    }
  });

  it("makes the cookies Secure for a request that came through a proxy, even from loopback", async () => {
    // nginx on this machine, not (yet) in SRVUTIL_TRUSTED_PROXIES: the browser is elsewhere, on https.
    const viaProxy = new DashboardClient(c.url, "127.0.0.1", { "x-forwarded-for": "198.51.100.30" });
    const form = await viaProxy.get("/login");
    expect(setCookies(form)).toEqual([expect.stringMatching(/; Secure$/)]);
    const res = await viaProxy.post("/login", { username: ADMIN.name, password: ADMIN.password });
    expect(res.status).toBe(303);
    expect(setCookies(res).every((l) => l.endsWith("; Secure"))).toBe(true);
  });

  it("warns a browser on another machine over plain HTTP that its cookie will be dropped", async () => {
    // Another machine cannot be had over loopback: fastify's inject gives the peer address.
    const res = await c.app.inject({ method: "GET", url: "/login", remoteAddress: "192.0.2.40" });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain("This page came over plain HTTP from another machine");
    expect(String(res.headers["set-cookie"])).toMatch(/; Secure$/);
    const local = await c.app.inject({ method: "GET", url: "/login" });
    expect(local.body).not.toContain("plain HTTP");
  });
});

describe("Strict-Transport-Security", () => {
  it("is sent on every answer when SRVUTIL_PUBLIC_URL is https, with Secure cookies", async () => {
    const c = await dashboardCentral({ SRVUTIL_PUBLIC_URL: "https://srvutil.example.com" });
    try {
      for (const url of ["/login", "/healthz", "/api/v1/servers", "/no/such/page"]) {
        const res = await httpRequest(c.url + url);
        expect(res.headers["strict-transport-security"], url).toBe("max-age=31536000");
      }
      const form = await new DashboardClient(c.url).get("/login");
      expect(setCookies(form)).toEqual([expect.stringMatching(/; Secure$/)]);
    } finally {
      await c.close();
    }
  });

  it("is sent when the central serves TLS itself, with Secure cookies", async () => {
    const certDir = mkdtempSync(path.join(os.tmpdir(), "srvutil-hsts-tls-"));
    const cert = makeSelfSignedCert(certDir);
    const c = await dashboardCentral({ SRVUTIL_TLS_CERT: cert.certFile, SRVUTIL_TLS_KEY: cert.keyFile });
    try {
      expect(c.url).toMatch(/^https:/);
      const res = await new Promise<{ headers: Record<string, unknown> }>((resolve, reject) => {
        https
          .get(`${c.url}/login`, { ca: cert.cert }, (r) => {
            r.resume();
            r.on("end", () => resolve({ headers: r.headers }));
          })
          .on("error", reject);
      });
      expect(res.headers["strict-transport-security"]).toBe("max-age=31536000");
      expect(String(res.headers["set-cookie"])).toMatch(/; Secure$/);
    } finally {
      await c.close();
      rmSync(certDir, { recursive: true, force: true });
    }
  });
});
