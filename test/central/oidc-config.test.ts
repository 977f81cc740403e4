import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadCentralConfig } from "../../src/central/config.js";
import { claimValues, mapClaimsToPrincipal } from "../../src/central/dashboard/oidc-roles.js";

/** SRVUTIL_OIDC_* and SRVUTIL_LOCAL_LOGIN in the central's one schema, and the claim-to-role mapping. */
const BASE = {
  SRVUTIL_PUBLIC_URL: "https://srvutil.example.com",
  SRVUTIL_OIDC_ISSUER: "https://login.example.com/realms/main",
  SRVUTIL_OIDC_CLIENT_ID: "srvutil",
  SRVUTIL_OIDC_CLIENT_SECRET: "s3cret-value-never-shown",
  SRVUTIL_OIDC_ADMIN_VALUES: "srvutil-admins",
};

const problems = (env: Record<string, string>): string => {
  try {
    loadCentralConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error("the configuration was accepted");
};

describe("OIDC settings", () => {
  it("are off by default, local sign-in on", () => {
    expect(loadCentralConfig({}).signIn).toEqual({ oidc: null, localLogin: true });
  });

  it("read every variable, with the defaults of the rest", () => {
    const c = loadCentralConfig({
      ...BASE,
      SRVUTIL_OIDC_VIEWER_VALUES: "ops, support",
      SRVUTIL_OIDC_GROUP_VIEWERS: "team-pay:payments+billing, team-web:web",
      SRVUTIL_LOCAL_LOGIN: "off",
    });
    expect(c.signIn).toEqual({
      localLogin: false,
      oidc: {
        issuer: BASE.SRVUTIL_OIDC_ISSUER,
        clientId: "srvutil",
        clientSecret: BASE.SRVUTIL_OIDC_CLIENT_SECRET,
        scopes: ["openid", "profile", "email", "groups"],
        roleClaim: "groups",
        adminValues: ["srvutil-admins"],
        viewerValues: ["ops", "support"],
        groupViewers: [
          { value: "team-pay", groups: ["payments", "billing"] },
          { value: "team-web", groups: ["web"] },
        ],
        providerName: "login.example.com",
        timeoutMs: 10_000,
      },
    });
  });

  it("take the client secret from a file, and refuse both at once", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-oidc-"));
    try {
      const file = path.join(dir, "secret");
      writeFileSync(file, "from-the-file\n");
      const { SRVUTIL_OIDC_CLIENT_SECRET: _, ...rest } = BASE;
      const c = loadCentralConfig({ ...rest, SRVUTIL_OIDC_CLIENT_SECRET_FILE: file });
      expect(c.signIn.oidc?.clientSecret).toBe("from-the-file");
      expect(problems({ ...BASE, SRVUTIL_OIDC_CLIENT_SECRET_FILE: file })).toContain(
        "SRVUTIL_OIDC_CLIENT_SECRET_FILE: must not be set together with SRVUTIL_OIDC_CLIENT_SECRET",
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("report every setting that is missing or wrong together at once, without the secret", () => {
    const message = problems({
      SRVUTIL_OIDC_ISSUER: "http://login.example.com",
      SRVUTIL_OIDC_CLIENT_SECRET: "s3cret-value-never-shown",
      SRVUTIL_OIDC_SCOPES: "profile email",
      SRVUTIL_LOCAL_LOGIN: "maybe",
    });
    for (const part of [
      "SRVUTIL_OIDC_CLIENT_ID: must be set with SRVUTIL_OIDC_ISSUER",
      "SRVUTIL_PUBLIC_URL: must be set with SRVUTIL_OIDC_ISSUER",
      "no claim value maps to a role",
      "SRVUTIL_OIDC_SCOPES: must include openid",
      "SRVUTIL_OIDC_ISSUER: must be https://",
      "SRVUTIL_LOCAL_LOGIN: expected on or off",
    ]) {
      expect(message).toContain(part);
    }
    expect(message).not.toContain("s3cret");
  });

  it("refuse local sign-in off without a provider, and provider settings without an issuer", () => {
    const message = problems({ SRVUTIL_LOCAL_LOGIN: "off", SRVUTIL_OIDC_CLIENT_ID: "x" });
    expect(message).toContain("SRVUTIL_LOCAL_LOGIN: can be off only when SRVUTIL_OIDC_ISSUER is set");
    expect(message).toContain("SRVUTIL_OIDC_CLIENT_ID: must not be set without SRVUTIL_OIDC_ISSUER");
  });

  it("allow plain http only for a provider on loopback", () => {
    for (const issuer of ["http://127.0.0.1:9000", "http://localhost:8080/realms/x", "http://[::1]:9000"]) {
      expect(loadCentralConfig({ ...BASE, SRVUTIL_OIDC_ISSUER: issuer }).signIn.oidc?.issuer).toBe(issuer);
    }
    expect(problems({ ...BASE, SRVUTIL_OIDC_ISSUER: "http://10.0.0.5" })).toContain("must be https://");
  });
});

describe("claims to a role", () => {
  const settings = {
    roleClaim: "groups",
    adminValues: ["admins"],
    viewerValues: ["viewers"],
    groupViewers: [
      { value: "team-a", groups: ["a"] },
      { value: "team-b", groups: ["b", "shared"] },
    ],
  };

  it("gives the most any value grants: admin, viewer, then the scoped viewers' groups together", () => {
    expect(mapClaimsToPrincipal({ groups: ["team-a", "admins"] }, settings)).toEqual({
      role: "admin",
      groups: null,
    });
    expect(mapClaimsToPrincipal({ groups: ["viewers", "team-a"] }, settings)).toEqual({
      role: "viewer",
      groups: null,
    });
    expect(mapClaimsToPrincipal({ groups: ["team-b", "team-a"] }, settings)).toEqual({
      role: "viewer",
      groups: ["a", "b", "shared"],
    });
    expect(mapClaimsToPrincipal({ groups: "viewers" }, settings)).toEqual({ role: "viewer", groups: null });
  });

  it("refuses no value, another claim, other types and near misses", () => {
    for (const claims of [
      {},
      { groups: [] },
      { roles: ["admins"] },
      { groups: [1, null, { admins: 1 }] },
      { groups: ["Admins", "admins "] },
    ]) {
      expect(mapClaimsToPrincipal(claims, settings)).toBeNull();
    }
  });

  it("reads a dotted path into nested claims (Keycloak's realm_access.roles)", () => {
    const claims = { realm_access: { roles: ["admins", "offline_access"] } };
    expect(claimValues(claims, "realm_access.roles")).toEqual(["admins", "offline_access"]);
    expect(mapClaimsToPrincipal(claims, { ...settings, roleClaim: "realm_access.roles" })?.role).toBe(
      "admin",
    );
    expect(claimValues({ realm_access: ["x"] }, "realm_access.roles")).toEqual([]);
  });
});
