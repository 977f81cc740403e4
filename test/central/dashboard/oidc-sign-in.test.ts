import { readFileSync } from "node:fs";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { OIDC_PENDING_COOKIE } from "../../../src/central/dashboard/oidc.js";
import { SESSION_COOKIE, sha256 } from "../../../src/central/dashboard/sessions.js";
import type { Browserless } from "../../helpers/oidc-provider.js";
import { dashboardBackends } from "./harness.js";
import { type OidcSetup, oidcSetup } from "./oidc-fixture.js";

/**
 * Sign-in with OpenID Connect against a real provider (oidc-provider on
 * loopback), over real HTTP, on SQLite and PostgreSQL: each role and what
 * it opens, the refusal of an account without a role, sign-out at the
 * provider, and the checks of state, nonce and issuer.
 */
const backends = await dashboardBackends();
const CODE = "x-srvutil-error-code";

describe.each(backends)("sign-in with OpenID Connect: %s", (_name, skipReason, make) => {
  let s: OidcSetup | undefined;
  beforeAll(async () => {
    if (skipReason === undefined) s = await oidcSetup(make);
  });
  afterAll(async () => s?.close());
  beforeEach((ctx) => {
    if (skipReason !== undefined) ctx.skip(skipReason);
  });

  const sessionOf = async (jar: Browserless) => {
    const id = jar.cookies.get(SESSION_COOKIE);
    expect(id, "a session cookie").toBeDefined();
    return s!.h.store.users.findSession(sha256(decodeURIComponent(id!)), Date.now());
  };

  it("shows the provider's button next to the password form", async () => {
    const page = await s!.browser().request(`${s!.base}/login?next=/reports`);
    expect(page.status).toBe(200);
    expect(page.body).toContain('href="/auth/oidc/login?next=%2Freports">Sign in with Test IdP</a>');
    expect(page.body).toContain('name="password"');
  });

  it("signs an admin in: back to the page asked for, admin pages open", async () => {
    const { jar, landing } = await s!.signIn("ada", "/reports");
    expect(landing.status).toBe(303);
    expect(landing.location).toBe(`${s!.base}/reports`);
    expect(jar.cookies.has(OIDC_PENDING_COOKIE)).toBe(false);
    const fleet = await jar.request(`${s!.base}/`);
    expect(fleet.status).toBe(200);
    expect(fleet.body).toContain('ada <span class="role">(admin)</span>');
    expect((await jar.request(`${s!.base}/admin/users`)).status).toBe(200);
    const session = await sessionOf(jar);
    expect(session).toMatchObject({ user: "ada", role: "admin", groups: null });
    expect(session?.sso?.subject).toBe("ada");
  });

  it("signs a viewer in: the fleet opens, admin pages are refused", async () => {
    const { jar, landing } = await s!.signIn("vic");
    expect(landing.location).toBe(`${s!.base}/`);
    const fleet = await jar.request(`${s!.base}/`);
    expect(fleet.status).toBe(200);
    // The whole fleet, the hostile name included (what the scoped viewer below must not see).
    expect(fleet.body).toContain("db-&lt;b&gt;");
    const admin = await jar.request(`${s!.base}/admin/users`);
    expect(admin.status).toBe(403);
    expect(admin.headers.get(CODE)).toBe("SRVUTIL_E_FORBIDDEN");
    expect(await sessionOf(jar)).toMatchObject({ user: "vic", role: "viewer", groups: null });
  });

  it("signs a scoped viewer in: its session holds its groups, and the fleet shows only their servers", async () => {
    const { jar, landing } = await s!.signIn("sam");
    expect(landing.status).toBe(303);
    const fleet = await jar.request(`${s!.base}/`);
    expect(fleet.status).toBe(200);
    expect(fleet.body).toContain("web-01");
    expect(fleet.body).not.toContain("db-&lt;b&gt;");
    expect((await jar.request(`${s!.base}/servers/web-02`)).status).toBe(200);
    expect((await jar.request(`${s!.base}/servers/${encodeURIComponent('db-<b>"x"')}`)).status).toBe(404);
    expect((await jar.request(`${s!.base}/admin/tokens`)).status).toBe(403);
    const session = await sessionOf(jar);
    expect(session).toMatchObject({ user: "sam", role: "viewer", groups: ["web"] });
    expect(session?.sso?.groups).toEqual(["web"]);
  });

  it("refuses an account without a mapped role with a page that says what to ask for", async () => {
    const { jar, landing } = await s!.signIn("nora");
    expect(landing.status).toBe(403);
    expect(landing.headers.get(CODE)).toBe("SRVUTIL_E_OIDC_NO_ROLE");
    expect(landing.body).toContain("Your account has no srvutil role");
    expect(landing.body).toContain("srvutil-admins, srvutil-viewers, team-web");
    expect(landing.body).toContain("marketing");
    expect(jar.cookies.has(SESSION_COOKIE)).toBe(false);
    expect((await jar.request(`${s!.base}/`)).status).toBe(303);
  });

  it("signs out: the session ends and the browser goes to the provider's end-session endpoint, which comes back", async () => {
    const { jar } = await s!.signIn("vic");
    const fleet = await jar.request(`${s!.base}/`);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(fleet.body)![1]!;
    const idToken = (await sessionOf(jar))!.sso!.idToken;
    const out = await jar.request(`${s!.base}/logout`, { method: "POST", form: { _csrf: csrf } });
    expect(out.status).toBe(303);
    const end = new URL(out.location!);
    expect(`${end.origin}${end.pathname}`).toBe(`${s!.provider.issuer}/session/end`);
    expect(end.searchParams.get("id_token_hint")).toBe(idToken);
    expect(end.searchParams.get("post_logout_redirect_uri")).toBe(`${s!.base}/login`);
    expect(jar.cookies.has(SESSION_COOKIE)).toBe(false);
    // The old cookie opens nothing any more.
    const stale = await fetch(`${s!.base}/`, {
      redirect: "manual",
      headers: { cookie: `${SESSION_COOKIE}=${encodeURIComponent("x".repeat(43))}` },
    });
    expect(stale.status).toBe(303);
    // The provider accepts the hint and the registered URI: its confirmation form, then back to /login.
    const confirm = await jar.request(out.location!);
    expect(confirm.status).toBe(200);
    const action = /action="([^"]+)"/.exec(confirm.body)![1]!;
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(confirm.body)![1]!;
    const done = await jar.request(new URL(action, out.location!).href, {
      method: "POST",
      form: { xsrf, logout: "yes" },
    });
    expect(done.location).toBe(`${s!.base}/login`);
    // Signed out at the provider too: the next sign-in asks for the login again.
    const again = await jar.request(`${s!.base}/auth/oidc/login`);
    const atProvider = await jar.request(again.location!);
    const interaction = await jar.request(atProvider.location!);
    expect(interaction.body).toContain('name="prompt" value="login"');
  });

  it("shows a provider name that is markup as text, and logs no secret or token", async () => {
    const hostile = '<img src=x onerror="alert(1)">';
    const { jar } = await s!.signIn(hostile);
    const fleet = await jar.request(`${s!.base}/`);
    expect(fleet.status).toBe(200);
    expect(fleet.body).not.toContain(hostile);
    expect(fleet.body).toContain("&lt;img src=x onerror=");
    const idToken = (await sessionOf(jar))!.sso!.idToken;
    const log = readFileSync(s!.h.logFile, "utf8");
    expect(log).toContain('"via":"oidc"');
    expect(log).not.toContain(s!.provider.clientSecret);
    expect(log).not.toContain(idToken);
    expect(log).not.toContain(idToken.split(".")[2]!);
  });

  it("ends the session when the provider's session ends elsewhere (back-channel logout)", async () => {
    const { jar } = await s!.signIn("vic");
    const other = await s!.signIn("ada");
    expect((await jar.request(`${s!.base}/`)).status).toBe(200);
    expect((await sessionOf(jar))?.sso?.providerSid).toEqual(expect.any(String));
    // Sign-out at the provider itself, not through srvutil.
    const confirm = await jar.request(`${s!.provider.issuer}/session/end`);
    const action = /action="([^"]+)"/.exec(confirm.body)![1]!;
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(confirm.body)![1]!;
    await jar.request(new URL(action, s!.provider.issuer).href, {
      method: "POST",
      form: { xsrf, logout: "yes" },
    });
    const deadline = Date.now() + 5000;
    let after = await jar.request(`${s!.base}/`);
    while (after.status === 200 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      after = await jar.request(`${s!.base}/`);
    }
    expect(after.status).toBe(303);
    expect(after.location).toBe(`${s!.base}/login?next=%2F`);
    // Another account's session at another provider session is untouched.
    expect((await other.jar.request(`${s!.base}/`)).status).toBe(200);
    expect(readFileSync(s!.h.logFile, "utf8")).toContain("dashboard.oidc_backchannel_logout");
  });

  it("refuses a back-channel logout token it cannot verify, and ends nothing", async () => {
    const { jar } = await s!.signIn("vic");
    const session = (await sessionOf(jar))!;
    const { generateKeyPairSync, sign } = await import("node:crypto");
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
    const claims = {
      iss: s!.provider.issuer,
      aud: s!.provider.clientId,
      iat: Math.floor(Date.now() / 1000),
      jti: "x1",
      sub: "vic",
      sid: session.sso!.providerSid,
      events: { "http://schemas.openid.net/event/backchannel-logout": {} },
    };
    const unsigned = `${b64({ alg: "RS256", typ: "logout+jwt" })}.${b64(claims)}`;
    const forged = `${unsigned}.${sign("sha256", Buffer.from(unsigned), privateKey).toString("base64url")}`;
    for (const token of [forged, `${b64({ alg: "none" })}.${b64(claims)}.`, "garbage", ""]) {
      const res = await jar.request(`${s!.base}/auth/oidc/backchannel-logout`, {
        method: "POST",
        form: { logout_token: token },
      });
      expect(res.status, token).toBe(400);
      expect(res.headers.get(CODE)).toBe("SRVUTIL_E_OIDC_REFUSED");
      expect(JSON.parse(res.body)).toMatchObject({ error: "invalid_request" });
    }
    expect((await jar.request(`${s!.base}/`)).status).toBe(200);
  });

  it("refuses a callback whose state was altered", async () => {
    const jar = s!.browser();
    const start = await jar.request(`${s!.base}/auth/oidc/login`);
    const back = new URL(await jar.authorizeAt(start.location!, "ada", `${s!.base}/auth/oidc/callback`));
    back.searchParams.set("state", `${back.searchParams.get("state")}x`);
    const res = await jar.request(back.href);
    expect(res.status).toBe(400);
    expect(res.headers.get(CODE)).toBe("SRVUTIL_E_OIDC_REFUSED");
    expect(res.body).toContain("state");
    expect(jar.cookies.has(SESSION_COOKIE)).toBe(false);
  });

  it("refuses a code brought back with another sign-in's cookie, a nonce not its own, and a replay", async () => {
    const callback = `${s!.base}/auth/oidc/callback`;
    // Sign-in A is started and abandoned; sign-in B runs at the provider.
    const a = s!.browser();
    await a.request(`${s!.base}/auth/oidc/login`);
    const pendingA = s!.rp.openPending(decodeURIComponent(a.cookies.get(OIDC_PENDING_COOKIE)!), Date.now())!;
    const b = s!.browser();
    const startB = await b.request(`${s!.base}/auth/oidc/login`);
    const cookieB = b.cookies.get(OIDC_PENDING_COOKIE)!;
    const pendingB = s!.rp.openPending(decodeURIComponent(cookieB), Date.now())!;
    const backB = await b.authorizeAt(startB.location!, "ada", callback);

    // B's code with A's cookie (a login CSRF): the state does not match.
    a.cookies.set(OIDC_PENDING_COOKIE, encodeURIComponent(s!.rp.sealPending(pendingA)));
    const crossed = await a.request(backB);
    expect(crossed.status).toBe(400);
    expect(crossed.headers.get(CODE)).toBe("SRVUTIL_E_OIDC_REFUSED");

    // B's state and verifier but A's nonce (a validly sealed cookie): the ID token's nonce is refused.
    const forged = s!.rp.sealPending({ ...pendingB, nonce: pendingA.nonce });
    const c = s!.browser();
    c.cookies.set(OIDC_PENDING_COOKIE, encodeURIComponent(forged));
    const wrongNonce = await c.request(backB);
    expect(wrongNonce.status).toBe(400);
    expect(wrongNonce.headers.get(CODE)).toBe("SRVUTIL_E_OIDC_REFUSED");
    expect(wrongNonce.body).toMatch(/nonce/i);
    expect(c.cookies.has(SESSION_COOKIE)).toBe(false);

    // An altered cookie is not read at all.
    const d = s!.browser();
    d.cookies.set(OIDC_PENDING_COOKIE, encodeURIComponent(`${forged.slice(0, -2)}AA`));
    expect((await d.request(backB)).status).toBe(400);

    // A fresh sign-in succeeds once; the same callback and cookie again are refused (the code is spent).
    const e = s!.browser();
    const startE = await e.request(`${s!.base}/auth/oidc/login`);
    const cookieE = e.cookies.get(OIDC_PENDING_COOKIE)!;
    const backE = await e.authorizeAt(startE.location!, "ada", callback);
    expect((await e.request(backE)).status).toBe(303);
    const replay = s!.browser();
    replay.cookies.set(OIDC_PENDING_COOKIE, cookieE);
    const replayed = await replay.request(backE);
    expect(replayed.status).toBe(400);
    expect(replay.cookies.has(SESSION_COOKIE)).toBe(false);
  });

  it("refuses a callback whose iss is not the configured issuer (RFC 9207)", async () => {
    const jar = s!.browser();
    const start = await jar.request(`${s!.base}/auth/oidc/login`);
    const back = new URL(await jar.authorizeAt(start.location!, "ada", `${s!.base}/auth/oidc/callback`));
    expect(back.searchParams.get("iss")).toBe(s!.provider.issuer);
    back.searchParams.set("iss", "https://evil.example");
    const res = await jar.request(back.href);
    expect(res.status).toBe(400);
    expect(res.headers.get(CODE)).toBe("SRVUTIL_E_OIDC_REFUSED");
    expect(jar.cookies.has(SESSION_COOKIE)).toBe(false);
  });

  it("refuses a callback without a sign-in started in this browser", async () => {
    const res = await s!.browser().request(`${s!.base}/auth/oidc/callback?code=abc&state=def`);
    expect(res.status).toBe(400);
    expect(res.body).toContain("not started in this browser");
  });

  it("keeps the return path on this site", async () => {
    const jar = s!.browser();
    const start = await jar.request(
      `${s!.base}/auth/oidc/login?next=${encodeURIComponent("//evil.example/x")}`,
    );
    const back = await jar.authorizeAt(start.location!, "vic", `${s!.base}/auth/oidc/callback`);
    expect((await jar.request(back)).location).toBe(`${s!.base}/`);
  });
});
