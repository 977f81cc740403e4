import { loadCentralConfig, type OidcSettings } from "../../../src/central/config.js";
import { OidcRelyingParty } from "../../../src/central/dashboard/oidc.js";
import { freePort } from "../../helpers/net.js";
import { Browserless, startTestProvider, type TestProvider } from "../../helpers/oidc-provider.js";
import type { DashboardHarness, HarnessOptions } from "./harness.js";

/** The provider's accounts: one of each role, and one the central maps to none. */
export const ACCOUNTS = {
  ada: { groups: ["srvutil-admins", "staff"] },
  vic: { groups: ["srvutil-viewers"] },
  sam: { groups: ["team-web"] },
  nora: { groups: ["marketing"] },
  // A name that is markup: every page must show it as text.
  '<img src=x onerror="alert(1)">': { groups: ["srvutil-viewers"] },
};

export interface OidcSetup {
  h: DashboardHarness;
  provider: TestProvider;
  /** The central's base URL (its SRVUTIL_PUBLIC_URL). */
  base: string;
  settings: OidcSettings;
  /** A relying party with the central's settings: it opens and seals the central's pending cookie. */
  rp: OidcRelyingParty;
  /** A cookie jar signed in at neither side yet. */
  browser(): Browserless;
  /** Signs `account` in end to end; the jar then holds the central's session. */
  signIn(
    account: string,
    next?: string,
  ): Promise<{ jar: Browserless; landing: Awaited<ReturnType<Browserless["request"]>> }>;
  close(): Promise<void>;
}

/**
 * A loopback provider and a central (the dashboard harness on the given
 * backend) configured through the real configuration schema, as an operator
 * would: the env lines of docs/dashboard.md.
 */
export async function oidcSetup(
  make: (options?: HarnessOptions) => Promise<DashboardHarness>,
  o: { env?: Record<string, string>; issuer?: (real: string) => string } = {},
): Promise<OidcSetup> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const provider = await startTestProvider({ centralUrl: base, accounts: ACCOUNTS });
  const config = loadCentralConfig({
    SRVUTIL_PUBLIC_URL: base,
    SRVUTIL_OIDC_ISSUER: o.issuer?.(provider.issuer) ?? provider.issuer,
    SRVUTIL_OIDC_CLIENT_ID: provider.clientId,
    SRVUTIL_OIDC_CLIENT_SECRET: provider.clientSecret,
    SRVUTIL_OIDC_PROVIDER_NAME: "Test IdP",
    SRVUTIL_OIDC_ADMIN_VALUES: "srvutil-admins",
    SRVUTIL_OIDC_VIEWER_VALUES: "srvutil-viewers",
    SRVUTIL_OIDC_GROUP_VIEWERS: "team-web:web",
    SRVUTIL_OIDC_TIMEOUT_SECONDS: "5",
    ...o.env,
  });
  const settings = config.signIn.oidc!;
  const h = await make({ publicUrl: base, clock: Date.now, signIn: config.signIn });
  await h.listen(port);
  const rp = new OidcRelyingParty(settings, base);
  const callback = `${base}/auth/oidc/callback`;
  return {
    h,
    provider,
    base,
    settings,
    rp,
    browser: () => new Browserless(),
    signIn: async (account, next = "/") => {
      const jar = new Browserless();
      const start = await jar.request(`${base}/auth/oidc/login?next=${encodeURIComponent(next)}`);
      if (start.location === null)
        throw new Error(`login answered ${start.status}: ${start.body.slice(0, 300)}`);
      const back = await jar.authorizeAt(start.location, account, callback);
      const landing = await jar.request(back);
      return { jar, landing };
    },
    close: async () => {
      await h.close();
      await provider.close();
    },
  };
}
