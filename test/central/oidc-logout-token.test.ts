import { generateKeyPairSync, type JsonWebKey, type KeyObject, sign } from "node:crypto";
import { describe, expect, it } from "vitest";
import { verifyLogoutToken } from "../../src/central/dashboard/oidc-logout-token.js";

/** The back-channel logout token's checks (OpenID Connect Back-Channel Logout 1.0 §2.6), key by key and claim by claim. */
const ISSUER = "https://login.example.com";
const CLIENT = "srvutil";
const EVENT = "http://schemas.openid.net/event/backchannel-logout";
const nowS = Math.floor(Date.now() / 1000);
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");

const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
const jwk = (key: KeyObject, kid: string): JsonWebKey => ({
  ...key.export({ format: "jwk" }),
  kid,
  use: "sig",
});
const KEYS = [jwk(rsa.publicKey, "r1"), jwk(ec.publicKey, "e1")];

function token(
  claims: Record<string, unknown>,
  o: { alg?: string; kid?: string; key?: KeyObject } = {},
): string {
  const alg = o.alg ?? "RS256";
  const unsigned = `${b64({ alg, kid: o.kid ?? (alg === "ES256" ? "e1" : "r1"), typ: "logout+jwt" })}.${b64(claims)}`;
  const key = o.key ?? (alg === "ES256" ? ec.privateKey : rsa.privateKey);
  const sig = sign(
    "sha256",
    Buffer.from(unsigned),
    alg === "ES256" ? { key, dsaEncoding: "ieee-p1363" } : key,
  );
  return `${unsigned}.${sig.toString("base64url")}`;
}

const good = {
  iss: ISSUER,
  aud: CLIENT,
  iat: nowS,
  jti: "j1",
  sub: "ada",
  sid: "s1",
  events: { [EVENT]: {} },
};
const check = (t: string, keys = KEYS) =>
  verifyLogoutToken(t, { issuer: ISSUER, clientId: CLIENT, nowS, keys: async () => keys });

describe("back-channel logout token", () => {
  it("accepts a token signed with the provider's RSA or EC key and names whose sessions end", async () => {
    await expect(check(token(good))).resolves.toEqual({ subject: "ada", providerSid: "s1" });
    await expect(check(token({ ...good, sub: undefined }, { alg: "ES256" }))).resolves.toEqual({
      subject: null,
      providerSid: "s1",
    });
    await expect(check(token({ ...good, aud: ["other", CLIENT] }))).resolves.toMatchObject({
      subject: "ada",
    });
  });

  it("fetches the keys again once for a key it does not hold (rotation)", async () => {
    const asked: boolean[] = [];
    const t = token(good);
    await expect(
      verifyLogoutToken(t, {
        issuer: ISSUER,
        clientId: CLIENT,
        nowS,
        keys: async (refresh) => {
          asked.push(refresh);
          return refresh ? KEYS : [];
        },
      }),
    ).resolves.toEqual({ subject: "ada", providerSid: "s1" });
    expect(asked).toEqual([false, true]);
  });

  const refusals: [string, () => string][] = [
    [
      "another key",
      () => token(good, { key: generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey }),
    ],
    ["alg none", () => `${b64({ alg: "none" })}.${b64(good)}.`],
    ["HS256", () => `${b64({ alg: "HS256", kid: "r1" })}.${b64(good)}.AAAA`],
    ["another issuer", () => token({ ...good, iss: "https://evil.example" })],
    ["another audience", () => token({ ...good, aud: "other" })],
    ["no iat", () => token({ ...good, iat: undefined })],
    ["an old iat", () => token({ ...good, iat: nowS - 3600 })],
    ["an iat in the future", () => token({ ...good, iat: nowS + 3600 })],
    ["no event", () => token({ ...good, events: { other: {} } })],
    ["a nonce", () => token({ ...good, nonce: "n" })],
    ["neither sub nor sid", () => token({ ...good, sub: undefined, sid: undefined })],
    ["not a JWT", () => "a.b"],
    ["a payload that is not JSON", () => `${b64({ alg: "RS256" })}.bm90IGpzb24.x`],
  ];
  it.each(refusals)("refuses %s", async (_why, make) => {
    await expect(check(make())).rejects.toThrow();
  });
});
