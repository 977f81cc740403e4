import { generateKeyPairSync, sign } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  compareVersions,
  manifestSigningText,
  type SignedAgentManifest,
  verifyManifestSignature,
} from "../../src/protocol/agent-manifest.js";

const m: SignedAgentManifest = {
  version: "0.2.0",
  autoUpdate: true,
  agents: [{ platform: "node", size: 1234, sha256: "a".repeat(64) }],
};

function signer() {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  return {
    key: publicKey.export({ format: "der", type: "spki" }).toString("base64"),
    sign: (x: SignedAgentManifest) =>
      sign(null, Buffer.from(manifestSigningText(x)), privateKey).toString("base64"),
  };
}

describe("agent manifest signature", () => {
  it("verifies with the signing key, and not after any signed field changes or with another key", () => {
    const s = signer();
    const sig = s.sign(m);
    expect(verifyManifestSignature(m, sig, s.key)).toBe(true);
    expect(verifyManifestSignature({ ...m, version: "0.2.1" }, sig, s.key)).toBe(false);
    expect(verifyManifestSignature({ ...m, autoUpdate: false }, sig, s.key)).toBe(false);
    expect(
      verifyManifestSignature({ ...m, agents: [{ ...m.agents[0]!, sha256: "b".repeat(64) }] }, sig, s.key),
    ).toBe(false);
    expect(verifyManifestSignature({ ...m, agents: [{ ...m.agents[0]!, size: 1235 }] }, sig, s.key)).toBe(
      false,
    );
    expect(verifyManifestSignature(m, sig, signer().key)).toBe(false);
    expect(verifyManifestSignature(m, "not base64 at all", s.key)).toBe(false);
    expect(verifyManifestSignature(m, sig, "garbage")).toBe(false);
  });

  it("refuses a key that is not Ed25519", () => {
    const rsa = generateKeyPairSync("rsa", { modulusLength: 1024 });
    const key = rsa.publicKey.export({ format: "der", type: "spki" }).toString("base64");
    const sig = sign("sha256", Buffer.from(manifestSigningText(m)), rsa.privateKey).toString("base64");
    expect(verifyManifestSignature(m, sig, key)).toBe(false);
  });
});

describe("compareVersions", () => {
  it("orders dotted numbers numerically, a pre-release before its release, and refuses what it cannot order", () => {
    expect(compareVersions("0.1.10", "0.1.9")).toBe(1);
    expect(compareVersions("0.1.0", "0.1.0")).toBe(0);
    expect(compareVersions("0.1", "0.1.0")).toBe(0);
    expect(compareVersions("0.0.9", "0.1.0")).toBe(-1);
    expect(compareVersions("1.0.0-rc.1", "1.0.0")).toBe(-1);
    expect(compareVersions("1.0.0", "1.0.0-rc.1")).toBe(1);
    expect(compareVersions("latest", "0.1.0")).toBeNull();
  });
});
