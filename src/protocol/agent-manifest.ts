import { createPublicKey, verify as verifySignature } from "node:crypto";

/**
 * The signed part of GET /agent/manifest.json, shared by the central (which
 * signs) and the agent (which verifies): the version, the auto-update switch
 * and each platform's SHA-256 and size, as one canonical text. The signature
 * is Ed25519 over exactly these bytes, so both sides never have to agree on
 * how JSON is serialized.
 */
export interface SignedAgentManifest {
  version: string;
  autoUpdate: boolean;
  /**
   * The server the decision is for, when the request named one (the agent
   * sent its token): bound into the signed text, so a manifest fetched for
   * one server does not verify as another's. Absent (or null): a manifest for
   * anyone, signed as before (agents from before the binding verify it).
   */
  server?: string | null;
  agents: readonly { platform: string; size: number; sha256: string }[];
}

/**
 * The text that is signed: one line per fact, platforms in the order given.
 * Server names hold no whitespace or newline (serverNameProblem, ./metrics.ts), so the
 * `server` line cannot forge another line.
 */
export function manifestSigningText(m: SignedAgentManifest): string {
  const lines = [
    "srvutil-agent-manifest v1",
    `version ${m.version}`,
    `auto_update ${m.autoUpdate ? "on" : "off"}`,
    ...(m.server == null ? [] : [`server ${m.server}`]),
    ...m.agents.map((a) => `agent ${a.platform} ${a.size} ${a.sha256}`),
  ];
  return `${lines.join("\n")}\n`;
}

/** The public key as the base64 of its DER SubjectPublicKeyInfo (what manifest.json's public_key holds). */
export const PUBLIC_KEY_PATTERN = /^[A-Za-z0-9+/]{40,200}={0,2}$/;

/** True when `signature` (base64) is a valid Ed25519 signature of the manifest by `publicKey` (base64 SPKI DER). */
export function verifyManifestSignature(
  m: SignedAgentManifest,
  signature: string,
  publicKey: string,
): boolean {
  try {
    const key = createPublicKey({ key: Buffer.from(publicKey, "base64"), format: "der", type: "spki" });
    if (key.asymmetricKeyType !== "ed25519") return false;
    return verifySignature(
      null,
      Buffer.from(manifestSigningText(m), "utf8"),
      key,
      Buffer.from(signature, "base64"),
    );
  } catch {
    return false;
  }
}

/**
 * Orders release versions (1.2.10 > 1.2.9). A version with anything but
 * dotted numbers (and an optional -suffix, which sorts before the release)
 * compares as not newer, so an agent never updates to what it cannot order.
 */
export function compareVersions(a: string, b: string): number | null {
  const parse = (v: string) => {
    const m = /^(\d+(?:\.\d+)*)(?:-([0-9A-Za-z.-]+))?$/.exec(v);
    return m === null ? null : { nums: m[1]!.split(".").map(Number), pre: m[2] ?? null };
  };
  const x = parse(a);
  const y = parse(b);
  if (x === null || y === null) return null;
  for (let i = 0; i < Math.max(x.nums.length, y.nums.length); i++) {
    const d = (x.nums[i] ?? 0) - (y.nums[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  if (x.pre === y.pre) return 0;
  if (x.pre === null) return 1;
  if (y.pre === null) return -1;
  return x.pre < y.pre ? -1 : 1;
}
