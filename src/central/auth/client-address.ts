import { isIP } from "node:net";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { networkMatcher, normalizeAddress } from "./networks.js";

/**
 * The one client address of a request, that the seed bridge's allow-list,
 * the sign-in throttle, the per-address limits and the logs all use.
 *
 * A request's forwarding headers are believed only when its TCP peer is one
 * of the proxies listed in SRVUTIL_TRUSTED_PROXIES: the client is then the
 * right-most address of X-Forwarded-For (or, without that header, of the
 * `for=` parameters of Forwarded) that is not itself a listed proxy. What a
 * client writes into these headers can only stand left of what the proxy
 * appends, so it is never reached. From any other peer the headers are
 * ignored and the client is the peer; such a request is still marked
 * `forwarded`, so that code trusting the address (the seed bridge) can refuse
 * a request that came through a proxy it does not know, instead of taking it
 * for one from the proxy's own (often loopback) address.
 */
export interface ClientAddress {
  /** The client's address, or "unknown" when a trusted proxy's header names none. */
  address: string;
  /** The TCP peer. */
  peer: string;
  /** The request carries X-Forwarded-For or Forwarded, whoever sent it. */
  forwarded: boolean;
  /** The peer is a trusted proxy and `address` was read from its header. */
  viaTrustedProxy: boolean;
}

declare module "fastify" {
  interface FastifyRequest {
    /** Set by registerClientAddress before any route's own hooks run. */
    client: ClientAddress;
  }
}

/** The address of a request whose trusted proxy names no usable client. */
export const UNKNOWN_ADDRESS = "unknown";

/** Hops read at most, from the right: a chain of more trusted proxies than this gives "unknown". */
const MAX_HOPS = 32;

export type HeaderValue = string | string[] | undefined;

/** A resolver for a checked proxy list (parseNetworkList with bareAddresses); empty: no proxy is trusted. */
export function clientAddressResolver(
  trustedProxies: readonly string[],
): (
  peer: string | undefined,
  headers: { xForwardedFor: HeaderValue; forwarded: HeaderValue },
) => ClientAddress {
  const trusted = trustedProxies.length === 0 ? () => false : networkMatcher(trustedProxies);
  return (rawPeer, headers) => {
    const peer = rawPeer === undefined ? UNKNOWN_ADDRESS : normalizeAddress(rawPeer);
    const xff = joined(headers.xForwardedFor);
    const fwd = joined(headers.forwarded);
    const forwarded = xff !== undefined || fwd !== undefined;
    if (!forwarded || !trusted(peer)) return { address: peer, peer, forwarded, viaTrustedProxy: false };
    const hops = xff !== undefined ? xForwardedForHops(xff) : forwardedForHops(fwd!);
    return { address: clientHop(hops, trusted), peer, forwarded, viaTrustedProxy: true };
  };
}

/** Decorates every request with `client` (ClientAddress), first thing on arrival. */
export function registerClientAddress(app: FastifyInstance, trustedProxies: readonly string[]): void {
  const resolve = clientAddressResolver(trustedProxies);
  app.decorateRequest("client", null as unknown as ClientAddress);
  app.addHook("onRequest", async (req: FastifyRequest) => {
    req.client = resolve(req.socket.remoteAddress, {
      xForwardedFor: req.headers["x-forwarded-for"],
      forwarded: req.headers.forwarded,
    });
  });
}

/**
 * The right-most hop that is not a trusted proxy. When every hop is one, the
 * left-most (the request started inside the trusted networks). A hop that is
 * not an address, an empty header, or more than MAX_HOPS trusted hops give
 * "unknown": the proxy's own address is never the answer for a forwarded request.
 */
function clientHop(hops: readonly (string | null)[], trusted: (address: string) => boolean): string {
  for (let i = hops.length - 1; i >= 0 && i >= hops.length - MAX_HOPS; i--) {
    const hop = hops[i]!;
    if (hop === null) return UNKNOWN_ADDRESS;
    if (!trusted(hop) || i === 0) return hop;
  }
  return UNKNOWN_ADDRESS;
}

function joined(value: HeaderValue): string | undefined {
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value.join(",") : value;
}

/** `client, proxy1, proxy2` → addresses, null for an entry that is not one. */
function xForwardedForHops(value: string): (string | null)[] {
  return value.split(",").map((s) => hopAddress(s.trim()));
}

/** RFC 7239: `for=192.0.2.60;proto=https, for="[2001:db8::17]:4711"` → the `for` addresses. */
function forwardedForHops(value: string): (string | null)[] {
  const hops: (string | null)[] = [];
  for (const element of value.split(",")) {
    let hop: string | null = null;
    for (const pair of element.split(";")) {
      const eq = pair.indexOf("=");
      if (eq === -1 || pair.slice(0, eq).trim().toLowerCase() !== "for") continue;
      hop = hopAddress(
        pair
          .slice(eq + 1)
          .trim()
          .replace(/^"|"$/g, ""),
      );
    }
    hops.push(hop);
  }
  return hops;
}

/** `10.1.2.3`, `10.1.2.3:5000`, `[2001:db8::1]:443`, `2001:db8::1` → the address; anything else → null. */
function hopAddress(text: string): string | null {
  let candidate = text;
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(candidate);
  if (bracketed !== null) candidate = bracketed[1]!;
  else if (/^[\d.]+:\d+$/.test(candidate)) candidate = candidate.slice(0, candidate.lastIndexOf(":"));
  const address = normalizeAddress(candidate);
  return isIP(address) === 0 ? null : address;
}
