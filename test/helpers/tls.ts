import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";

export interface SelfSignedCert {
  key: Buffer;
  cert: Buffer;
  keyFile: string;
  certFile: string;
}

/**
 * A self-signed certificate for 127.0.0.1 and localhost, made with the
 * openssl CLI (Debian's `openssl` package; npm test's pretest installs it when missing),
 * written into `dir`. Without openssl the calling test fails and says so.
 */
export function makeSelfSignedCert(dir: string): SelfSignedCert {
  const keyFile = path.join(dir, "key.pem");
  const certFile = path.join(dir, "cert.pem");
  runOpenssl(keyFile, certFile);
  return { key: readFileSync(keyFile), cert: readFileSync(certFile), keyFile, certFile };
}

function runOpenssl(keyFile: string, certFile: string): void {
  try {
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        keyFile,
        "-out",
        certFile,
        "-days",
        "2",
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=IP:127.0.0.1,DNS:localhost",
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      throw new Error("openssl is not installed: the TLS tests need it (Debian: apt-get install openssl)");
    }
    throw err;
  }
}
