import { describe, expect, it } from "vitest";
import { clientAddressResolver } from "../../../src/central/auth/client-address.js";
import { parseNetworkList } from "../../../src/central/auth/networks.js";

/** The rules of the one client address, case by case; the tests over real sockets are in the route tests. */
describe("client address", () => {
  const trusting = clientAddressResolver(
    parseNetworkList("127.0.0.9, 10.0.0.0/8, fd00::/8", { bareAddresses: true }),
  );
  const nobody = clientAddressResolver([]);
  const resolve = (r: typeof trusting, peer: string, xForwardedFor?: string | string[], forwarded?: string) =>
    r(peer, { xForwardedFor, forwarded });

  it("is the peer when no proxy is trusted, and marks a request that carries forwarding headers", () => {
    expect(resolve(nobody, "127.0.0.1")).toEqual({
      address: "127.0.0.1",
      peer: "127.0.0.1",
      forwarded: false,
      viaTrustedProxy: false,
    });
    expect(resolve(nobody, "::ffff:127.0.0.1", "203.0.113.5")).toEqual({
      address: "127.0.0.1",
      peer: "127.0.0.1",
      forwarded: true,
      viaTrustedProxy: false,
    });
    expect(resolve(nobody, "127.0.0.1", undefined, "for=203.0.113.5").forwarded).toBe(true);
    expect(resolve(nobody, "127.0.0.1", "").forwarded).toBe(true);
  });

  it("takes the right-most hop that is not a trusted proxy, from a trusted peer only", () => {
    const cases: [string, string | string[] | undefined, string | undefined, string][] = [
      ["127.0.0.9", "203.0.113.5", undefined, "203.0.113.5"],
      // What a client writes stands left of what the proxy appends.
      ["127.0.0.9", "10.20.1.5, 203.0.113.5", undefined, "203.0.113.5"],
      ["127.0.0.9", "198.51.100.1, 203.0.113.5, 10.1.1.1", undefined, "203.0.113.5"],
      // Several headers are one list.
      ["127.0.0.9", ["198.51.100.1", "203.0.113.5"], undefined, "203.0.113.5"],
      ["127.0.0.9", "203.0.113.5:4711", undefined, "203.0.113.5"],
      ["127.0.0.9", "[2001:db8::5]:443", undefined, "2001:db8::5"],
      ["127.0.0.9", "::ffff:203.0.113.5", undefined, "203.0.113.5"],
      // Every hop trusted: the left-most, the request began inside.
      ["127.0.0.9", "10.1.1.1, 10.2.2.2", undefined, "10.1.1.1"],
      // Not an address where the client should be, or nothing: unknown, never the proxy.
      ["127.0.0.9", "garbage, 10.1.1.1", undefined, "unknown"],
      ["127.0.0.9", "", undefined, "unknown"],
      ["127.0.0.9", "unknown", undefined, "unknown"],
      // Forwarded (RFC 7239) when there is no X-Forwarded-For.
      ["127.0.0.9", undefined, 'for=198.51.100.1, for="[2001:db8::7]:80";proto=https', "2001:db8::7"],
      ["127.0.0.9", undefined, "for=203.0.113.5;by=10.0.0.1, for=10.3.3.3", "203.0.113.5"],
      ["127.0.0.9", undefined, "proto=https", "unknown"],
      ["127.0.0.9", undefined, "for=_hidden", "unknown"],
      // X-Forwarded-For wins when both are there.
      ["127.0.0.9", "203.0.113.5", "for=198.51.100.1", "203.0.113.5"],
      // A peer that is not listed: its headers are not read.
      ["127.0.0.1", "203.0.113.5", undefined, "127.0.0.1"],
    ];
    for (const [peer, xff, fwd, expected] of cases) {
      expect(resolve(trusting, peer, xff, fwd).address, `${peer} ${String(xff)} ${String(fwd)}`).toBe(
        expected,
      );
    }
  });

  it("reads at most 32 trusted hops", () => {
    const chain = Array.from({ length: 40 }, (_, i) => `10.0.0.${i + 1}`).join(", ");
    expect(resolve(trusting, "127.0.0.9", chain).address).toBe("unknown");
    expect(resolve(trusting, "127.0.0.9", `203.0.113.5, ${chain}`).address).toBe("unknown");
    expect(resolve(trusting, "127.0.0.9", `${chain}, 203.0.113.5`).address).toBe("203.0.113.5");
  });

  it("takes single addresses and networks in SRVUTIL_TRUSTED_PROXIES, and refuses anything else by name", () => {
    expect(parseNetworkList("127.0.0.1, ::1, 10.0.0.0/8", { bareAddresses: true })).toEqual([
      "127.0.0.1/32",
      "::1/128",
      "10.0.0.0/8",
    ]);
    expect(() => parseNetworkList("nginx.local", { bareAddresses: true })).toThrow(
      "'nginx.local': expected an IPv4 or IPv6 address, or a network ADDRESS/PREFIX",
    );
    expect(() => parseNetworkList("10.0.0.1", {})).toThrow(/expected ADDRESS\/PREFIX/);
  });
});
