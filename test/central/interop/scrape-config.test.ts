import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadScrapeTargets, scrapeTargetsFromJson } from "../../../src/central/scrape/config.js";
import { ownerOf } from "../../../src/central/scrape/ownership.js";
import { ConfigError } from "../../../src/errors.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-scrape-config-"));
const file = (name: string, content: string): string => {
  const p = path.join(dir, name);
  writeFileSync(p, content);
  return p;
};

function problems(json: unknown): string {
  try {
    scrapeTargetsFromJson(json, "targets.json");
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error("accepted");
}

describe("scrape config (SRVUTIL_SCRAPE_CONFIG)", () => {
  it("reads the documented shape, with defaults, auth from files and a CA", () => {
    const token = file("token", "s3cret-token\n");
    const password = file("password", "hunter2\n");
    const ca = file("ca.pem", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
    const targets = scrapeTargetsFromJson(
      {
        targets: [
          { server: "web-01", url: "http://10.0.0.5:9100/metrics", interval_seconds: 60 },
          {
            server: "web-02",
            url: "http://10.0.0.6:9100/metrics",
            bearer_token: "abc",
            timeout_seconds: 2.5,
          },
          {
            server: "web-03",
            url: "https://10.0.0.7:9100/metrics",
            bearer_token_file: token,
            tls_ca_file: ca,
          },
          {
            server: "win-01",
            url: "http://10.0.0.8:9182/metrics",
            basic_auth: { username: "prom", password_file: password },
          },
        ],
      },
      "targets.json",
    );
    expect(targets).toEqual([
      {
        server: "web-01",
        url: "http://10.0.0.5:9100/metrics",
        intervalMs: 60_000,
        timeoutMs: 10_000,
        auth: null,
        tlsCa: null,
      },
      {
        server: "web-02",
        url: "http://10.0.0.6:9100/metrics",
        intervalMs: 60_000,
        timeoutMs: 2_500,
        auth: { kind: "bearer", token: "abc" },
        tlsCa: null,
      },
      {
        server: "web-03",
        url: "https://10.0.0.7:9100/metrics",
        intervalMs: 60_000,
        timeoutMs: 10_000,
        auth: { kind: "bearer", token: "s3cret-token" },
        tlsCa: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
      },
      {
        server: "win-01",
        url: "http://10.0.0.8:9182/metrics",
        intervalMs: 60_000,
        timeoutMs: 10_000,
        auth: { kind: "basic", username: "prom", password: "hunter2" },
        tlsCa: null,
      },
    ]);
  });

  it("reports every mistake at once, each with its path", () => {
    const message = problems({
      targets: [
        { server: "web 01", url: "http://10.0.0.5:9100/metrics" },
        { server: "web-02", url: "ftp://10.0.0.6/metrics", interval_seconds: 0 },
        { server: "web-03", url: "not a url", intervals: 60 },
        { server: "web-04", url: "http://u:p@10.0.0.9/metrics", basic_auth: { username: "x" } },
      ],
    });
    expect(message).toMatch(/^SRVUTIL_SCRAPE_CONFIG \(targets\.json\): /);
    expect(message).toContain("targets[0].server: server name must be");
    expect(message).toContain("targets[1].url: must be an http:// or https:// URL");
    expect(message).toContain("targets[1].interval_seconds:");
    expect(message).toContain("targets[2].url: 'not a url' is not a URL");
    expect(message).toContain('targets[2]: Unrecognized key: "intervals"');
    expect(message).toContain("targets[3].url: must not hold credentials");
    expect(message).toContain("targets[3].basic_auth: give exactly one of password and password_file");
    // Files are read even when the rest is wrong: a missing secret is named with the bad URL.
    expect(
      problems({
        targets: [
          { server: "a", url: "ftp://x/m" },
          { server: "b", url: "http://h/m", bearer_token_file: path.join(dir, "absent") },
        ],
      }),
    ).toMatch(/targets\[0\]\.url: .*; targets\[1\]\.bearer_token_file: cannot read .*absent \(ENOENT\)/);
  });

  it("refuses cross-field mistakes: two auths, a timeout over the interval, a CA for http, a duplicate server", () => {
    const message = problems({
      targets: [
        { server: "a", url: "http://h:1/m", bearer_token: "t", basic_auth: { username: "u", password: "p" } },
        { server: "b", url: "http://h:2/m", interval_seconds: 5, timeout_seconds: 10 },
        { server: "c", url: "http://h:3/m", tls_ca_file: "/etc/ca.pem" },
        { server: "a", url: "http://h:4/m" },
      ],
    });
    expect(message).toContain(
      "targets[0]: give at most one of bearer_token, bearer_token_file and basic_auth",
    );
    expect(message).toContain("targets[1].timeout_seconds: must not be longer than interval_seconds");
    expect(message).toContain("targets[2].tls_ca_file: is for https:// URLs only");
  });

  it("names each unreadable secret file, and the file itself when it is missing or not JSON", () => {
    const message = problems({
      targets: [
        {
          server: "a",
          url: "https://h:1/m",
          bearer_token_file: path.join(dir, "nope"),
          tls_ca_file: file("empty", ""),
        },
      ],
    });
    expect(message).toContain(`targets[0].bearer_token_file: cannot read ${path.join(dir, "nope")} (ENOENT)`);
    expect(message).toContain(`targets[0].tls_ca_file: ${path.join(dir, "empty")} is empty`);
    expect(() => loadScrapeTargets(path.join(dir, "missing.json"))).toThrow(
      /SRVUTIL_SCRAPE_CONFIG: cannot read .*ENOENT/,
    );
    expect(() => loadScrapeTargets(file("bad.json", "{targets:"))).toThrow(/not JSON/);
    expect(
      problems({
        targets: [
          { server: "a", url: "http://h/m" },
          { server: "a", url: "http://h2/m" },
        ],
      }),
    ).toContain("targets[1].server: 'a' is already the server of targets[0]");
  });
});

describe("ownerOf (rendezvous hashing)", () => {
  const targets = Array.from(
    { length: 300 },
    (_, i) => `web-${i} http://10.0.${i >> 8}.${i & 255}:9100/metrics`,
  );

  it("gives every target one owner, the same whatever the order of the list, spread over the instances", () => {
    const ids = ["host-a pid 1 x1", "host-b pid 2 y2", "host-c pid 3 z3"];
    const counts = new Map<string, number>();
    for (const t of targets) {
      const owner = ownerOf(t, ids);
      expect(ownerOf(t, [...ids].reverse())).toBe(owner);
      counts.set(owner, (counts.get(owner) ?? 0) + 1);
    }
    expect([...counts.keys()].sort()).toEqual([...ids].sort());
    for (const n of counts.values()) expect(n).toBeGreaterThan(60);
  });

  it("moves only the leaving instance's targets", () => {
    const ids = ["a", "b", "c"];
    for (const t of targets) {
      const before = ownerOf(t, ids);
      const after = ownerOf(t, ["a", "c"]);
      if (before !== "b") expect(after).toBe(before);
    }
  });
});
