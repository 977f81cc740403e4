import { BlockList, isIPv4, isIPv6 } from "node:net";

/**
 * The networks the seed bridge accepts uploads from (SRVUTIL_SEED_COMPAT_NETWORKS):
 * the seed agent cannot authenticate, so where a request comes from is the
 * only check besides the enrolled server name.
 */

export const DEFAULT_SEED_NETWORKS = ["127.0.0.0/8", "::1/128"] as const;

/** Splits and checks a comma-separated CIDR list; throws an Error naming the bad entry. */
export function parseNetworkList(text: string): string[] {
  const entries = text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  if (entries.length === 0) throw new Error("expected a comma-separated list of CIDR networks");
  for (const entry of entries) {
    const problem = cidrProblem(entry);
    if (problem !== null) throw new Error(`'${entry}': ${problem}`);
  }
  return entries;
}

function cidrProblem(entry: string): string | null {
  const slash = entry.indexOf("/");
  if (slash === -1) return "expected ADDRESS/PREFIX, e.g. 10.0.0.0/8 or fd00::/8";
  const address = entry.slice(0, slash);
  const prefixText = entry.slice(slash + 1);
  const max = isIPv4(address) ? 32 : isIPv6(address) ? 128 : -1;
  if (max === -1) return "not an IPv4 or IPv6 address";
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > max) return `prefix must be 0-${max}`;
  return null;
}

/** A matcher for a checked CIDR list (see parseNetworkList). */
export function networkMatcher(cidrs: readonly string[]): (address: string | undefined) => boolean {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [address, prefix] = cidr.split("/") as [string, string];
    list.addSubnet(address, Number(prefix), isIPv4(address) ? "ipv4" : "ipv6");
  }
  return (raw) => {
    if (raw === undefined) return false;
    const address = normalizeAddress(raw);
    if (isIPv4(address)) return list.check(address, "ipv4");
    if (isIPv6(address)) return list.check(address, "ipv6");
    return false;
  };
}

/** `::ffff:10.1.2.3` (an IPv4 client on a dual-stack socket) → `10.1.2.3`; drops a zone id. */
export function normalizeAddress(address: string): string {
  const noZone = address.split("%")[0]!;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(noZone);
  return mapped === null ? noZone : mapped[1]!;
}
