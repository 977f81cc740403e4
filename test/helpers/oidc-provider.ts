import http from "node:http";
import type { AddressInfo } from "node:net";
import Provider from "oidc-provider";

/**
 * A real OpenID provider on loopback for the sign-in tests: oidc-provider
 * (a certified implementation) with its development login and consent
 * pages, static accounts whose `groups` claim the central maps to roles,
 * and one confidential client registered with the central's redirect URI.
 */
export interface TestAccount {
  groups: string[];
  email?: string;
}

export interface TestProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  close(): Promise<void>;
}

export async function startTestProvider(o: {
  /** The central's SRVUTIL_PUBLIC_URL. */
  centralUrl: string;
  accounts: Record<string, TestAccount>;
}): Promise<TestProvider> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clientId = "srvutil-test";
  const clientSecret = "test-client-secret-3f9a1c";
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: [`${o.centralUrl}/auth/oidc/callback`],
        post_logout_redirect_uris: [`${o.centralUrl}/login`],
        backchannel_logout_uri: `${o.centralUrl}/auth/oidc/backchannel-logout`,
        backchannel_logout_session_required: true,
        grant_types: ["authorization_code"],
        response_types: ["code"],
        token_endpoint_auth_method: "client_secret_basic",
      },
    ],
    claims: {
      openid: ["sub"],
      profile: ["preferred_username", "name"],
      email: ["email"],
      groups: ["groups"],
    },
    findAccount: async (_ctx: unknown, id: string) => {
      const account = o.accounts[id];
      if (account === undefined) return undefined;
      return {
        accountId: id,
        claims: () => ({
          sub: id,
          preferred_username: id,
          name: id,
          email: account.email ?? `${id}@example.com`,
          groups: account.groups,
        }),
      };
    },
    features: {
      devInteractions: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      backchannelLogout: { enabled: true },
    },
    cookies: { keys: ["srvutil-test-provider-cookie-key"] },
    ttl: {
      Interaction: 600,
      Session: 3600,
      Grant: 3600,
      AccessToken: 600,
      IdToken: 600,
      AuthorizationCode: 60,
    },
    // The dev interactions' pages carry inline styles; nothing else is needed from the defaults.
    renderError: async (ctx: { type: string; body: string }, out: Record<string, string>) => {
      ctx.type = "html";
      ctx.body = `<h1>oops</h1><pre>${JSON.stringify(out)}</pre>`;
    },
  });
  // oidc-provider warns about its development keys and pages; the tests want exactly those.
  const handler = provider.callback();
  server.on("request", handler);
  return {
    issuer,
    clientId,
    clientSecret,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * A browser's cookie jar and redirects over fetch, for both the central and
 * the provider (all on 127.0.0.1: cookies do not tell ports apart, and no
 * name is shared between the two).
 */
export class Browserless {
  cookies = new Map<string, string>();

  async request(url: string, init: { method?: string; form?: Record<string, string> } = {}) {
    const res = await fetch(url, {
      method: init.method ?? "GET",
      redirect: "manual",
      headers: {
        cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; "),
        ...(init.form === undefined ? {} : { "content-type": "application/x-www-form-urlencoded" }),
      },
      body: init.form === undefined ? undefined : new URLSearchParams(init.form).toString(),
      signal: AbortSignal.timeout(10_000),
    });
    for (const c of res.headers.getSetCookie()) {
      const pair = c.split(";")[0]!;
      const i = pair.indexOf("=");
      const maxAgeZero = /;\s*max-age=0/i.test(c) || /expires=Thu, 01 Jan 1970/i.test(c);
      if (pair.slice(i + 1) === "" || maxAgeZero) this.cookies.delete(pair.slice(0, i));
      else this.cookies.set(pair.slice(0, i), pair.slice(i + 1));
    }
    const body = await res.text();
    const location = res.headers.get("location");
    return {
      status: res.status,
      headers: res.headers,
      body,
      location: location === null ? null : new URL(location, url).href,
    };
  }

  /**
   * Signs `account` in at the provider from its authorization URL (the
   * login page, then the consent page) and returns the URL the provider
   * sends the browser back to: the central's callback, not yet visited.
   */
  async authorizeAt(authorizationUrl: string, account: string, callbackPrefix: string): Promise<string> {
    let url = authorizationUrl;
    for (let step = 0; step < 20; step++) {
      if (url.startsWith(callbackPrefix)) return url;
      const res = await this.request(url);
      if (res.location !== null) {
        url = res.location;
        continue;
      }
      const form = /<form[^>]*action="([^"]+)"[^>]*method="post"/.exec(res.body);
      const prompt = /name="prompt" value="(\w+)"/.exec(res.body);
      if (res.status !== 200 || form === null || prompt === null) {
        throw new Error(`provider page ${url}: ${res.status} ${res.body.slice(0, 400)}`);
      }
      const fields: Record<string, string> =
        prompt[1] === "login" ? { prompt: "login", login: account, password: "any" } : { prompt: prompt[1]! };
      const posted = await this.request(new URL(form[1]!, url).href, { method: "POST", form: fields });
      if (posted.location === null) throw new Error(`provider ${prompt[1]} answered ${posted.status}`);
      url = posted.location;
    }
    throw new Error("the provider never sent the browser back");
  }
}
