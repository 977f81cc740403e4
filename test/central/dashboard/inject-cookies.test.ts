import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOGIN_CSRF_COOKIE, SESSION_COOKIE } from "../../../src/central/dashboard/sessions.js";
import { ADMIN, type DashboardHarness, dashboardHarness, InjectClient } from "./harness.js";

/**
 * app.inject's `cookies` option: light-my-request writes the Cookie header
 * with the `cookie` package's stringifySetCookie. package.json overrides that
 * package to 1.x for light-my-request (2.x needs Node 22); this holds the
 * override to working: cookies given that way reach the dashboard intact.
 */
describe("app.inject with the cookies option (light-my-request on cookie 1.x)", () => {
  let h: DashboardHarness;
  beforeAll(async () => {
    h = await dashboardHarness({ kind: "sqlite" });
  });
  afterAll(async () => h.close());

  it("signs in with the login cookie given as an object and uses the session cookie given as a list", async () => {
    const form = await h.app.inject({ method: "GET", url: "/login" });
    const csrf = /name="_csrf" value="([^"]+)"/.exec(form.body)![1]!;
    const signIn = await h.app.inject({
      method: "POST",
      url: "/login",
      cookies: { [LOGIN_CSRF_COOKIE]: csrf },
      headers: { "content-type": "application/x-www-form-urlencoded" },
      payload: new URLSearchParams({
        _csrf: csrf,
        username: ADMIN.name,
        password: ADMIN.password,
      }).toString(),
    });
    expect(signIn.statusCode).toBe(303);
    const session = signIn.cookies.find((c) => c.name === SESSION_COOKIE);
    expect(session?.value.length).toBeGreaterThanOrEqual(32);

    const fleet = await h.app.inject({
      method: "GET",
      url: "/",
      cookies: [{ name: SESSION_COOKIE, value: session!.value }],
    });
    expect(fleet.statusCode).toBe(200);
    expect(fleet.body).toContain(ADMIN.name);
    // And without it: the sign-in page, so the 200 above came from the cookie.
    const anonymous = await h.app.inject({ method: "GET", url: "/" });
    expect(anonymous.statusCode).toBe(303);
    // The same session through the harness's own header: both ways agree.
    const c = new InjectClient(h.app);
    c.cookies.set(SESSION_COOKIE, session!.value);
    expect((await c.get("/")).statusCode).toBe(200);
  });
});
