import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadCentralConfig } from "../../../src/central/config.js";
import { SESSION_COOKIE } from "../../../src/central/dashboard/sessions.js";
import { ADMIN, dashboardHarness } from "./harness.js";
import { type OidcSetup, oidcSetup } from "./oidc-fixture.js";

/**
 * The sign-in settings around OpenID Connect that do not depend on the
 * backend (SQLite): a provider whose metadata names another issuer, one
 * that never answers, and SRVUTIL_LOCAL_LOGIN=off.
 */
const sqlite = (options?: Parameters<typeof dashboardHarness>[1]) =>
  dashboardHarness({ kind: "sqlite" }, options);
const CODE = "x-srvutil-error-code";

describe("an issuer that is not the one configured", () => {
  let s: OidcSetup;
  let relay: net.Server;
  // The same provider reached through a TCP relay on another port: its metadata names its own
  // address, which is not the configured one. (No host name: a bare machine may resolve none.)
  beforeAll(async () => {
    let target = 0;
    relay = net.createServer((client) => {
      const upstream = net.connect(target, "127.0.0.1");
      client.pipe(upstream).pipe(client);
      client.on("error", () => upstream.destroy());
      upstream.on("error", () => client.destroy());
    });
    await new Promise<void>((resolve) => relay.listen(0, "127.0.0.1", resolve));
    const relayPort = (relay.address() as net.AddressInfo).port;
    s = await oidcSetup(sqlite, {
      issuer: (real) => {
        target = Number(new URL(real).port);
        return `http://127.0.0.1:${relayPort}`;
      },
    });
  });
  afterAll(async () => {
    await s?.close();
    await new Promise<void>((resolve) => relay?.close(() => resolve()));
  });

  it("is refused at discovery: no authorization request is sent, the page says the provider is unavailable", async () => {
    const jar = s.browser();
    const res = await jar.request(`${s.base}/auth/oidc/login`);
    expect(res.status).toBe(502);
    expect(res.location).toBeNull();
    expect(res.headers.get(CODE)).toBe("SRVUTIL_E_OIDC_UNAVAILABLE");
    expect(res.body).toContain("Test IdP could not be reached");
    const { readFileSync } = await import("node:fs");
    expect(readFileSync(s.h.logFile, "utf8")).toMatch(/dashboard\.oidc_unavailable.*issuer/);
  });
});

describe("SRVUTIL_LOCAL_LOGIN=off", () => {
  let s: OidcSetup;
  beforeAll(async () => {
    s = await oidcSetup(sqlite, {
      env: { SRVUTIL_LOCAL_LOGIN: "off", SRVUTIL_OIDC_GROUP_VIEWERS: "team-web:web+nosuch" },
    });
  });
  afterAll(async () => s.close());

  it("hides the password form and keeps the provider's button", async () => {
    const page = await s.browser().request(`${s.base}/login`);
    expect(page.status).toBe(200);
    expect(page.body).toContain("Sign in with Test IdP");
    expect(page.body).not.toContain('name="password"');
    expect(page.body).not.toContain('action="/login"');
  });

  it("refuses a password sign-in even with a right password", async () => {
    const jar = s.browser();
    const form = await jar.request(`${s.base}/login`);
    const token = decodeURIComponent(jar.cookies.get("srvutil_login")!);
    expect(form.status).toBe(200);
    const res = await jar.request(`${s.base}/login`, {
      method: "POST",
      form: { _csrf: token, username: ADMIN.name, password: ADMIN.password, next: "/" },
    });
    expect(res.status).toBe(403);
    expect(res.headers.get(CODE)).toBe("SRVUTIL_E_LOCAL_LOGIN_OFF");
    expect(res.body).toContain("turned off");
    expect(jar.cookies.has(SESSION_COOKIE)).toBe(false);
  });

  it("warns at start about a mapped group the groups file does not have", async () => {
    const { readFileSync } = await import("node:fs");
    const log = readFileSync(s.h.logFile, "utf8");
    expect(log).toMatch(/dashboard\.oidc_unknown_group.*"claim_value":"team-web".*"groups":\["nosuch"\]/);
  });

  it("still signs in with the provider", async () => {
    const { jar, landing } = await s.signIn("ada");
    expect(landing.status).toBe(303);
    expect((await jar.request(`${s.base}/admin/users`)).status).toBe(200);
  });
});

describe("a provider that accepts the connection and never answers", () => {
  it("gives up after SRVUTIL_OIDC_TIMEOUT_SECONDS with the unavailable page", async () => {
    const held: net.Socket[] = [];
    const silent = net.createServer((socket) => held.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const issuer = `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
    const config = loadCentralConfig({
      SRVUTIL_PUBLIC_URL: "http://127.0.0.1:1",
      SRVUTIL_OIDC_ISSUER: issuer,
      SRVUTIL_OIDC_CLIENT_ID: "srvutil",
      SRVUTIL_OIDC_ADMIN_VALUES: "admins",
      SRVUTIL_OIDC_TIMEOUT_SECONDS: "1",
    });
    const h = await sqlite({ publicUrl: "http://127.0.0.1:1", clock: Date.now, signIn: config.signIn });
    try {
      const started = Date.now();
      const res = await h.app.inject({ method: "GET", url: "/auth/oidc/login", remoteAddress: "127.0.0.1" });
      const took = Date.now() - started;
      expect(res.statusCode).toBe(502);
      expect(res.headers[CODE]).toBe("SRVUTIL_E_OIDC_UNAVAILABLE");
      expect(held.length, "the central did connect").toBeGreaterThan(0);
      expect(took).toBeGreaterThanOrEqual(900);
      expect(took).toBeLessThan(5000);
    } finally {
      await h.close();
      for (const socket of held) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});
