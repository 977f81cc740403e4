import { createPublicKey, type JsonWebKey, type KeyObject, verify } from "node:crypto";

/**
 * The logout token of OpenID Connect Back-Channel Logout 1.0: a JWT the
 * provider POSTs when a user's session there ends. Its signature is checked
 * against the provider's published keys (jwks_uri) with node:crypto, as
 * openid-client has no helper for it; then the claims the specification
 * requires (§2.6): iss, aud, iat, the back-channel logout event, sub or sid,
 * and no nonce.
 */
export interface LogoutTarget {
  subject: string | null;
  providerSid: string | null;
}

const EVENT = "http://schemas.openid.net/event/backchannel-logout";
/** A token older than this (by its iat) is refused: a replay window, not the provider's clock skew. */
const MAX_AGE_S = 5 * 60;
const SKEW_S = 60;

type Alg = { hash: string; pss?: boolean; ec?: boolean; ed?: boolean };
const ALGS: Readonly<Record<string, Alg>> = {
  RS256: { hash: "sha256" },
  RS384: { hash: "sha384" },
  RS512: { hash: "sha512" },
  PS256: { hash: "sha256", pss: true },
  PS384: { hash: "sha384", pss: true },
  PS512: { hash: "sha512", pss: true },
  ES256: { hash: "sha256", ec: true },
  ES384: { hash: "sha384", ec: true },
  ES512: { hash: "sha512", ec: true },
  EdDSA: { hash: "", ed: true },
};

export class LogoutTokenError extends Error {}

const part = (s: string): Record<string, unknown> => {
  const v: unknown = JSON.parse(Buffer.from(s, "base64url").toString("utf8"));
  if (typeof v !== "object" || v === null || Array.isArray(v))
    throw new LogoutTokenError("not a JSON object");
  return v as Record<string, unknown>;
};

/**
 * Checks a logout token; `keys` gives the provider's JWKS (fetched again
 * once when the token names a key it does not hold: a rotated key).
 */
export async function verifyLogoutToken(
  token: string,
  o: {
    issuer: string;
    clientId: string;
    nowS: number;
    keys: (refresh: boolean) => Promise<readonly JsonWebKey[]>;
  },
): Promise<LogoutTarget> {
  const parts = token.split(".");
  if (parts.length !== 3) throw new LogoutTokenError("not a signed JWT");
  let header: Record<string, unknown>;
  let claims: Record<string, unknown>;
  try {
    header = part(parts[0]!);
    claims = part(parts[1]!);
  } catch {
    throw new LogoutTokenError("not a JWT");
  }
  const alg = typeof header.alg === "string" ? ALGS[header.alg] : undefined;
  if (alg === undefined)
    throw new LogoutTokenError(`algorithm ${String(header.alg).slice(0, 20)} is not accepted`);
  const kid = typeof header.kid === "string" ? header.kid : null;
  let key = pickKey(await o.keys(false), kid, header.alg as string);
  if (key === null) key = pickKey(await o.keys(true), kid, header.alg as string);
  if (key === null) throw new LogoutTokenError("no key of the provider matches the token");
  const signature = Buffer.from(parts[2]!, "base64url");
  const data = Buffer.from(`${parts[0]}.${parts[1]}`);
  const ok = verify(
    alg.ed ? null : alg.hash,
    data,
    alg.pss
      ? { key, padding: 6 /* RSA_PKCS1_PSS_PADDING */, saltLength: -1 }
      : alg.ec
        ? { key, dsaEncoding: "ieee-p1363" }
        : key,
    signature,
  );
  if (!ok) throw new LogoutTokenError("bad signature");

  if (claims.iss !== o.issuer) throw new LogoutTokenError("another issuer");
  const aud = claims.aud;
  if (!(aud === o.clientId || (Array.isArray(aud) && aud.includes(o.clientId)))) {
    throw new LogoutTokenError("not for this client");
  }
  const iat = claims.iat;
  if (typeof iat !== "number" || iat > o.nowS + SKEW_S || iat < o.nowS - MAX_AGE_S) {
    throw new LogoutTokenError("iat missing or out of range");
  }
  if (typeof claims.exp === "number" && claims.exp < o.nowS - SKEW_S) throw new LogoutTokenError("expired");
  const events = claims.events;
  if (typeof events !== "object" || events === null || !(EVENT in events)) {
    throw new LogoutTokenError("no back-channel logout event");
  }
  if ("nonce" in claims) throw new LogoutTokenError("a logout token carries no nonce");
  const subject = typeof claims.sub === "string" ? claims.sub : null;
  const providerSid = typeof claims.sid === "string" ? claims.sid : null;
  if (subject === null && providerSid === null) throw new LogoutTokenError("neither sub nor sid");
  return { subject, providerSid };
}

function pickKey(keys: readonly JsonWebKey[], kid: string | null, alg: string): KeyObject | null {
  for (const jwk of keys) {
    if (kid !== null && jwk.kid !== kid) continue;
    if (jwk.use !== undefined && jwk.use !== "sig") continue;
    if (jwk.alg !== undefined && jwk.alg !== alg) continue;
    const kty = alg.startsWith("ES") ? "EC" : alg === "EdDSA" ? "OKP" : "RSA";
    if (jwk.kty !== kty) continue;
    try {
      return createPublicKey({ key: jwk, format: "jwk" });
    } catch {
      // A key node cannot read is skipped.
    }
  }
  return null;
}
