import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ReleaseRecord } from "../../../src/central/agent-dist/release.js";
import { ManifestSigner } from "../../../src/central/agent-dist/signing.js";
import { verifyManifestSignature } from "../../../src/protocol/agent-manifest.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "srvutil-signing-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("the central's agent-signing key", () => {
  it("is created 0600 at first use and the same key is read back", () => {
    const file = join(dir, "keys", "agent-signing.key");
    const first = ManifestSigner.loadOrCreate(file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, "utf8")).toContain("BEGIN PRIVATE KEY");
    const again = ManifestSigner.loadOrCreate(file);
    expect(again.publicKey).toBe(first.publicKey);
    const m = { version: "0.1.0", autoUpdate: true, agents: [] };
    expect(verifyManifestSignature(m, again.sign(m), first.publicKey)).toBe(true);
  });

  it("refuses a key file others can read, and a file that is not an Ed25519 key", () => {
    const file = join(dir, "agent-signing.key");
    ManifestSigner.loadOrCreate(file);
    chmodSync(file, 0o644);
    expect(() => ManifestSigner.loadOrCreate(file)).toThrow(/readable by others; chmod 600/);
    writeFileSync(file, "not a key", { mode: 0o600 });
    chmodSync(file, 0o600);
    expect(() => ManifestSigner.loadOrCreate(file)).toThrow(/not a PEM private key/);
  });
});

describe("the recorded release", () => {
  const file = (platform: "node" | "linux-x64", sha: string, size = 10) => ({
    platform,
    file: `f-${platform}`,
    size,
    sha256: sha.repeat(64),
  });

  it("keeps a platform's recorded digest when its file changes, records new platforms, and starts over for a new version", async () => {
    const path = join(dir, "agent-release.json");
    const r = new ReleaseRecord(path, "0.1.0");
    expect((await r.reconcile([file("node", "a")])).agents).toEqual([
      { platform: "node", size: 10, sha256: "a".repeat(64) },
    ]);
    const later = await new ReleaseRecord(path, "0.1.0").reconcile([
      file("node", "b", 11),
      file("linux-x64", "c"),
    ]);
    expect(later.agents).toEqual([
      { platform: "node", size: 10, sha256: "a".repeat(64) },
      { platform: "linux-x64", size: 10, sha256: "c".repeat(64) },
    ]);
    expect(later.changed).toEqual(["node"]);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const upgraded = await new ReleaseRecord(path, "0.2.0").reconcile([file("node", "b", 11)]);
    expect(upgraded).toEqual({
      agents: [{ platform: "node", size: 11, sha256: "b".repeat(64) }],
      changed: [],
    });
  });
});
