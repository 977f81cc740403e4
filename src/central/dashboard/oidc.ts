import { createHash, createHmac, type JsonWebKey, randomBytes } from "node:crypto";
import * as client from "openid-client";
import { loopbackHost, type OidcSettings } from "../oidc-config.js";
import { type LogoutTarget, verifyLogoutToken } from "./oidc-logout-token.js";
import { sameToken } from "./sessions.js";

/** The cookie that carries a sign-in in progress from /auth/oidc/login to the callback. */
export const OIDC_PENDING_COOKIE = "srvutil_oidc";
/** How long the provider's sign-in may take before the callback is refused. */
export const OIDC_PENDING_MS = 10 * 60_000;

/** A sign-in in progress: what the callback checks the provider's answer against. */
export interface PendingSignIn {
  state: string;
  nonce: string;
  /** PKCE code verifier. */
  verifier: string;
  /** Where to go afterwards (already safeNext'ed). */
  next: string;
  /** Epoch ms after which the callback refuses it. */
  expiresAt: number;
}

/** What the callback learned: the claims (ID token, then userinfo for what it lacks) and the ID token. */
export interface SignedInAccount {
  claims: Record<string, unknown>;
  idToken: string;
}

/**
 * Why an OpenID Connect step failed: `unavailable` when the provider could
 * not be reached or answered garbage in time (502), `refused` when its answer
 * did not pass the checks (state, nonce, issuer, code; 400).
 */
export class OidcError extends Error {
  constructor(
    readonly kind: "unavailable" | "refused",
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * The relying party: discovery (once, retried after a failure), the
 * authorization request with PKCE, state and nonce, the code exchange with
 * every check openid-client makes (state, nonce, issuer, audience, signature),
 * and the end-session URL. Every request to the provider has the configured
 * timeout.
 */
export class OidcRelyingParty {
  private config: Promise<client.Configuration> | null = null;
  /** Signs the pending cookie; derived from the client secret so that every central instance accepts it. */
  private readonly cookieKey: Buffer;
  readonly redirectUri: string;
  readonly postLogoutRedirectUri: string;

  constructor(
    readonly settings: OidcSettings,
    publicUrl: string,
  ) {
    const base = publicUrl.replace(/\/+$/, "");
    this.redirectUri = `${base}/auth/oidc/callback`;
    this.postLogoutRedirectUri = `${base}/login`;
    this.cookieKey =
      settings.clientSecret === null
        ? randomBytes(32)
        : createHash("sha256").update(`srvutil oidc pending cookie\0${settings.clientSecret}`).digest();
  }

  /** The provider's configuration (discovery), cached; a failed discovery is tried again next time. */
  configuration(): Promise<client.Configuration> {
    if (this.config === null) {
      const s = this.settings;
      const issuer = new URL(s.issuer);
      const auth = s.clientSecret === null ? client.None() : client.ClientSecretBasic(s.clientSecret);
      const attempt = client
        .discovery(issuer, s.clientId, undefined, auth, {
          timeout: Math.ceil(s.timeoutMs / 1000),
          // Plain http only to a provider on this machine (the config refuses any other).
          execute:
            issuer.protocol === "http:" && loopbackHost(issuer.hostname)
              ? [client.allowInsecureRequests]
              : [],
        })
        .catch((err: unknown) => {
          this.config = null;
          throw new OidcError("unavailable", `discovery at ${s.issuer} failed: ${describe(err)}`, {
            cause: err,
          });
        });
      this.config = attempt;
    }
    return this.config;
  }

  /** The authorization request's URL and the pending sign-in to keep in the cookie. */
  async start(next: string, now: number): Promise<{ url: URL; pending: PendingSignIn }> {
    const config = await this.configuration();
    const pending: PendingSignIn = {
      state: client.randomState(),
      nonce: client.randomNonce(),
      verifier: client.randomPKCECodeVerifier(),
      next,
      expiresAt: now + OIDC_PENDING_MS,
    };
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: this.redirectUri,
      scope: this.settings.scopes.join(" "),
      code_challenge: await client.calculatePKCECodeChallenge(pending.verifier),
      code_challenge_method: "S256",
      state: pending.state,
      nonce: pending.nonce,
    });
    return { url, pending };
  }

  /**
   * Exchanges the callback's code and checks the answer against the pending
   * sign-in. `query` is the callback's query string, put on the registered
   * redirect URI (never the request's Host).
   */
  async finish(query: string, pending: PendingSignIn): Promise<SignedInAccount> {
    const config = await this.configuration();
    const current = new URL(this.redirectUri);
    current.search = query;
    try {
      const tokens = await client.authorizationCodeGrant(config, current, {
        pkceCodeVerifier: pending.verifier,
        expectedState: pending.state,
        expectedNonce: pending.nonce,
        idTokenExpected: true,
      });
      const idClaims = tokens.claims();
      if (idClaims === undefined || tokens.id_token === undefined) {
        throw new OidcError("refused", "the provider sent no ID token");
      }
      const claims: Record<string, unknown> = { ...idClaims };
      // Many providers put groups only in userinfo (oidc-provider, Authentik, Keycloak per mapper).
      if (config.serverMetadata().userinfo_endpoint !== undefined) {
        const info = await client.fetchUserInfo(config, tokens.access_token, idClaims.sub);
        for (const [k, v] of Object.entries(info)) if (!(k in claims)) claims[k] = v;
      }
      return { claims, idToken: tokens.id_token };
    } catch (err) {
      if (err instanceof OidcError) throw err;
      const unreachable =
        err instanceof TypeError ||
        (err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError"));
      throw new OidcError(unreachable ? "unavailable" : "refused", describe(err), { cause: err });
    }
  }

  /** RP-initiated logout at the provider, or null when it advertises no end_session_endpoint. */
  async endSessionUrl(idToken: string): Promise<URL | null> {
    const config = await this.configuration();
    if (config.serverMetadata().end_session_endpoint === undefined) return null;
    return client.buildEndSessionUrl(config, {
      id_token_hint: idToken,
      post_logout_redirect_uri: this.postLogoutRedirectUri,
    });
  }

  /**
   * Checks a back-channel logout token (./oidc-logout-token.ts) and
   * resolves to whose sessions end. Throws OidcError: `refused` for a bad
   * token, `unavailable` when the provider's keys cannot be fetched.
   */
  async backchannelLogout(token: string, nowS: number): Promise<LogoutTarget> {
    const config = await this.configuration();
    const meta = config.serverMetadata();
    try {
      return await verifyLogoutToken(token, {
        issuer: meta.issuer,
        clientId: this.settings.clientId,
        nowS,
        keys: (refresh) => this.providerKeys(meta.jwks_uri, refresh),
      });
    } catch (err) {
      if (err instanceof OidcError) throw err;
      throw new OidcError("refused", `logout token: ${describe(err)}`, { cause: err });
    }
  }

  private keys: Promise<JsonWebKey[]> | null = null;

  /** The provider's signing keys (jwks_uri), cached; fetched again when asked or after a failure. */
  private providerKeys(uri: string | undefined, refresh: boolean): Promise<JsonWebKey[]> {
    if (uri === undefined)
      return Promise.reject(new OidcError("refused", "the provider publishes no jwks_uri"));
    if (this.keys === null || refresh) {
      const attempt = fetch(uri, { signal: AbortSignal.timeout(this.settings.timeoutMs), redirect: "error" })
        .then(async (res) => {
          if (!res.ok) throw new Error(`HTTP ${res.status}`);
          const body = (await res.json()) as { keys?: unknown };
          return Array.isArray(body.keys) ? (body.keys as JsonWebKey[]) : [];
        })
        .catch((err: unknown) => {
          this.keys = null;
          throw new OidcError("unavailable", `keys at ${uri}: ${describe(err)}`, { cause: err });
        });
      this.keys = attempt;
    }
    return this.keys;
  }

  /** The pending sign-in as a signed cookie value (it holds the PKCE verifier: HttpOnly, never logged). */
  sealPending(p: PendingSignIn): string {
    const body = Buffer.from(JSON.stringify(p)).toString("base64url");
    return `${body}.${this.mac(body)}`;
  }

  /** The pending sign-in from the cookie, or null when absent, altered or expired. */
  openPending(value: string | undefined, now: number): PendingSignIn | null {
    if (value === undefined || value.length > 4096) return null;
    const dot = value.lastIndexOf(".");
    if (dot <= 0 || !sameToken(value.slice(dot + 1), this.mac(value.slice(0, dot)))) return null;
    let p: unknown;
    try {
      p = JSON.parse(Buffer.from(value.slice(0, dot), "base64url").toString("utf8"));
    } catch {
      return null;
    }
    if (!isPending(p) || p.expiresAt <= now) return null;
    return p;
  }

  private mac(body: string): string {
    return createHmac("sha256", this.cookieKey).update(body).digest("base64url");
  }
}

function isPending(p: unknown): p is PendingSignIn {
  if (typeof p !== "object" || p === null) return false;
  const o = p as Record<string, unknown>;
  return (
    ["state", "nonce", "verifier", "next"].every((k) => typeof o[k] === "string") &&
    typeof o.expiresAt === "number"
  );
}

/** An error's message with its code, for the log and the refusal page (never a token or the secret). */
function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: unknown }).code;
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : "";
  return `${err.message}${typeof code === "string" ? ` (${code})` : ""}${cause}`.slice(0, 300);
}
