import { BlockList, isIPv4, isIPv6 } from "node:net";

/**
 * Address lists of the central's settings: the networks the seed bridge
 * accepts (SRVUTIL_SEED_COMPAT_NETWORKS) and the reverse proxies whose
 * X-Forwarded-For is believed (SRVUTIL_TRUSTED_PROXIES, ./client-address.ts).
 */

/**
 * Splits and checks a comma-separated list of CIDR networks; throws an Error
 * naming the bad entry. With `bareAddresses` an entry may also be a single
 * address (taken as /32 or /128).
 */
export function parseNetworkList(text: string, opts: { bareAddresses?: boolean } = {}): string[] {
  const entries = text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  const form = opts.bareAddresses ? "addresses or CIDR networks" : "CIDR networks";
  if (entries.length === 0) throw new Error(`expected a comma-separated list of ${form}`);
  return entries.map((entry) => {
    if (opts.bareAddresses && !entry.includes("/")) {
      const address = normalizeAddress(entry);
      if (isIPv4(address)) return `${address}/32`;
      if (isIPv6(address)) return `${address}/128`;
      throw new Error(`'${entry}': expected an IPv4 or IPv6 address, or a network ADDRESS/PREFIX`);
    }
    const problem = cidrProblem(entry, opts.bareAddresses === true);
    if (problem !== null) throw new Error(`'${entry}': ${problem}`);
    return entry;
  });
}

function cidrProblem(entry: string, bareAllowed: boolean): string | null {
  const slash = entry.indexOf("/");
  if (slash === -1) return "expected ADDRESS/PREFIX, e.g. 10.0.0.0/8 or fd00::/8";
  const address = entry.slice(0, slash);
  const prefixText = entry.slice(slash + 1);
  const max = isIPv4(address) ? 32 : isIPv6(address) ? 128 : -1;
  if (max === -1) return `not an IPv4 or IPv6 ${bareAllowed ? "address or network" : "address"}`;
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > max) return `prefix must be 0-${max}`;
  return null;
}

/** A matcher for a checked CIDR list (see parseNetworkList); false for anything that is not an address. */
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

const LOOPBACK = networkMatcher(["127.0.0.0/8", "::1/128"]);

/** 127.0.0.0/8 or ::1 (IPv4-mapped included). */
export function isLoopback(address: string | undefined): boolean {
  return LOOPBACK(address);
}
