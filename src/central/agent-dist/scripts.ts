import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/**
 * GET /install.sh and /install.ps1: the installers in this folder, with the
 * central's base URL put in. They hold no secret (the enrolment token is the
 * caller's argument), so they are served to anyone.
 *
 * The files are read from src/central/agent-dist/ of the checkout, from
 * src/ (tsx) and dist/ (built) alike, so `npm run build` has nothing to copy.
 */
export type InstallScript = "install.sh" | "install.ps1";

/** The placeholder in the files, replaced by the base URL. */
const PLACEHOLDER = "@@CENTRAL_URL@@";

export function loadInstallScript(name: InstallScript): string {
  const file = fileURLToPath(new URL(`../../../src/central/agent-dist/${name}`, import.meta.url));
  const text = readFileSync(file, "utf8");
  if (!text.includes(PLACEHOLDER)) throw new Error(`${file} has no ${PLACEHOLDER}`);
  return text;
}

/**
 * A base URL safe to put between single quotes in sh and PowerShell: http(s),
 * a host of letters, digits, dots, dashes (or a bracketed IPv6 address), an
 * optional port and path of plain characters. No quote, space, `$` or backtick
 * can reach a script.
 */
const SAFE_BASE_URL =
  /^https?:\/\/(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?(?:\/[A-Za-z0-9._~/-]*)?$/;

export function isSafeBaseUrl(url: string): boolean {
  return SAFE_BASE_URL.test(url);
}

/** The script with its base URL (no trailing slash) put in; throws on a URL that is not safe. */
export function renderInstallScript(template: string, baseUrl: string): string {
  const base = baseUrl.replace(/\/+$/, "");
  if (!isSafeBaseUrl(base)) throw new Error(`unsafe base URL '${base}'`);
  return template.split(PLACEHOLDER).join(base);
}

const SAFE_HOST = /^(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;

/**
 * The base URL a script fetches from: SRVUTIL_PUBLIC_URL when set; otherwise
 * the origin the request came to (Host, or X-Forwarded-Host/-Proto from a
 * trusted proxy). The Host header is the client's to choose, so it is only
 * accepted in host[:port] form and the answer is not cacheable; a central
 * that others reach through a proxy or a cache sets SRVUTIL_PUBLIC_URL.
 * Null: no usable origin (the route answers 400).
 */
export function scriptBaseUrl(o: {
  publicUrl: string | null;
  tls: boolean;
  viaTrustedProxy: boolean;
  host: string | undefined;
  forwardedHost: string | undefined;
  forwardedProto: string | undefined;
}): string | null {
  if (o.publicUrl !== null) return o.publicUrl.replace(/\/+$/, "");
  const host = (o.viaTrustedProxy ? (o.forwardedHost?.split(",")[0]?.trim() ?? o.host) : o.host) ?? "";
  if (!SAFE_HOST.test(host)) return null;
  const proto = o.viaTrustedProxy ? o.forwardedProto?.split(",")[0]?.trim() : undefined;
  const scheme = proto === "https" || proto === "http" ? proto : o.tls ? "https" : "http";
  return `${scheme}://${host}`;
}
