/**
 * One clear line for the connection errors an operator meets while setting
 * up an agent, instead of OpenSSL's or libuv's own words ("wrong version
 * number", "getaddrinfo ENOTFOUND"). Each says whether the fix is a setting
 * (`configuration`: resending cannot help, so the upload round stops at
 * once and `run --once` exits 78) or waiting (the central is down: retried).
 */

export interface ConnectionProblem {
  /** What is wrong and what to do, one line, with the original code at the end. */
  message: string;
  /** true when a setting must change (URL, CA file); false when trying again later may help. */
  configuration: boolean;
}

/** Node's and OpenSSL's codes for a certificate the agent does not trust. */
const UNTRUSTED_CERTIFICATE = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_UNTRUSTED",
  "CERT_SIGNATURE_FAILURE",
]);

export function describeConnectionError(err: NodeJS.ErrnoException, url: URL): ConnectionProblem {
  const code = err.code ?? "";
  const original = code ? `${code}: ${err.message}` : err.message;
  const where = `${url.protocol}//${url.host}`;
  if (code === "ERR_SSL_WRONG_VERSION_NUMBER" || /wrong version number/i.test(err.message)) {
    return {
      message: `the central does not speak HTTPS at ${where} (use http:// in SRVUTIL_CENTRAL_URL, or enable TLS on the central) [${code || "wrong version number"}]`,
      configuration: true,
    };
  }
  if (UNTRUSTED_CERTIFICATE.has(code)) {
    return {
      message: `the central's certificate at ${where} is not signed by a CA this agent trusts: set SRVUTIL_AGENT_CA_FILE (ca_file) to the PEM file of its CA [${original}]`,
      configuration: true,
    };
  }
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID") {
    return {
      message: `the central's certificate is not made out for '${url.hostname}': use the host name the certificate names in SRVUTIL_CENTRAL_URL [${original}]`,
      configuration: true,
    };
  }
  if (code === "CERT_HAS_EXPIRED" || code === "CERT_NOT_YET_VALID") {
    return {
      message: `the central's certificate at ${where} is ${code === "CERT_HAS_EXPIRED" ? "expired" : "not valid yet"}: renew it on the central (or check this host's clock) [${original}]`,
      configuration: true,
    };
  }
  if (code === "ENOTFOUND") {
    return {
      message: `the host name '${url.hostname}' does not resolve: check SRVUTIL_CENTRAL_URL (and this host's DNS) [${original}]`,
      configuration: true,
    };
  }
  if (code === "ECONNREFUSED") {
    return {
      message: `nothing accepts connections at ${where}: the central is down, or the port in SRVUTIL_CENTRAL_URL is wrong [${original}]`,
      configuration: false,
    };
  }
  if (code === "EHOSTUNREACH" || code === "ENETUNREACH") {
    return {
      message: `${where} cannot be reached from this host (network or firewall) [${original}]`,
      configuration: false,
    };
  }
  return { message: original, configuration: false };
}
