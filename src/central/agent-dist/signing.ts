import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign } from "node:crypto";
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { ConfigError } from "../../errors.js";
import { manifestSigningText, type SignedAgentManifest } from "../../protocol/agent-manifest.js";

/**
 * The central's agent-signing key (Ed25519), kept apart from the executables
 * (SRVUTIL_AGENT_SIGNING_KEY_FILE, default <data dir>/agent-signing.key):
 * whoever can only write dist/ cannot make an agent accept a file, since the
 * agents verify the manifest's signature with the public key they pinned at
 * install. Created at first use with mode 0600.
 */
export class ManifestSigner {
  /** base64 DER SubjectPublicKeyInfo, as manifest.json's public_key and the agents' pin. */
  readonly publicKey: string;

  constructor(private readonly privateKey: KeyObject) {
    this.publicKey = createPublicKey(privateKey).export({ format: "der", type: "spki" }).toString("base64");
  }

  /** base64 Ed25519 signature of the manifest's canonical text. */
  sign(m: SignedAgentManifest): string {
    return sign(null, Buffer.from(manifestSigningText(m), "utf8"), this.privateKey).toString("base64");
  }

  static generate(): ManifestSigner {
    return new ManifestSigner(generateKeyPairSync("ed25519").privateKey);
  }

  /** Reads the PEM key at `file`, or creates it (mode 0600, exclusive) when it does not exist. */
  static loadOrCreate(file: string): ManifestSigner {
    let pem: string;
    try {
      pem = readFileSync(file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
        throw new ConfigError(
          `SRVUTIL_AGENT_SIGNING_KEY_FILE: cannot read ${file}: ${(err as Error).message}`,
        );
      }
      pem = create(file);
    }
    if (process.platform !== "win32" && (statSync(file).mode & 0o077) !== 0) {
      throw new ConfigError(
        `SRVUTIL_AGENT_SIGNING_KEY_FILE: ${file} is readable by others; chmod 600 it (it signs what agents install)`,
      );
    }
    let key: KeyObject;
    try {
      key = createPrivateKey(pem);
    } catch (err) {
      throw new ConfigError(
        `SRVUTIL_AGENT_SIGNING_KEY_FILE: ${file} is not a PEM private key: ${(err as Error).message}`,
      );
    }
    if (key.asymmetricKeyType !== "ed25519") {
      throw new ConfigError(
        `SRVUTIL_AGENT_SIGNING_KEY_FILE: ${file} holds a ${key.asymmetricKeyType} key; expected Ed25519`,
      );
    }
    return new ManifestSigner(key);
  }
}

function create(file: string): string {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const pem = generateKeyPairSync("ed25519").privateKey.export({ format: "pem", type: "pkcs8" }).toString();
  let fd: number;
  try {
    fd = openSync(file, "wx", 0o600);
  } catch (err) {
    // Another central process created it first: use theirs.
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return readFileSync(file, "utf8");
    throw new ConfigError(`SRVUTIL_AGENT_SIGNING_KEY_FILE: cannot create ${file}: ${(err as Error).message}`);
  }
  try {
    writeSync(fd, pem);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return pem;
}
