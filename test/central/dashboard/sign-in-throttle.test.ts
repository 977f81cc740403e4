/**
 * The sign-in throttle against a real central (startCentral, SQLite, the real
 * clock, real sockets from chosen loopback addresses). Issue 24, point 4:
 * five wrong passwords from anyone locked the real admin out for 15 minutes,
 * 30 parallel guesses were all checked, and behind a proxy everyone shared
 * one key.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningCentral } from "../../../src/central/central-process.js";
import { LOGIN_THROTTLE } from "../../../src/central/dashboard/login-throttle.js";
import { ADMIN, DashboardClient, dashboardCentral, sleep } from "./http-client.js";

const WRONG = { username: ADMIN.name, password: "not the password at all" };

/**
 * Attempts of one user name from one address that may be checked within
 * `ms`: the five free ones, then one more each time a delay (1 s, 2 s, 4 s …)
 * has passed while the requests were still arriving.
 */
function checkedAtMost(ms: number): number {
  let bound = LOGIN_THROTTLE.freePerUserAndAddress;
  for (let waited = 1000, step = 1000; waited <= ms; step *= 2, waited += step) bound++;
  return bound;
}

/** `n` clients that share `first`'s sign-in form (cookie and token) but each add their own headers. */
function sharingForm(first: DashboardClient, headers: Record<string, string>[]): DashboardClient[] {
  return headers.map((h) => {
    const c = new DashboardClient(first.base, first.localAddress, h);
    for (const [k, v] of first.cookies) c.cookies.set(k, v);
    c.csrf = first.csrf;
    return c;
  });
}

describe("sign-in throttle, direct clients", () => {
  let c: RunningCentral & { dataDir: string };
  beforeAll(async () => {
    c = await dashboardCentral();
  });
  afterAll(async () => c?.close());

  it("reserves each attempt before verifying it: of 30 parallel wrong guesses only the first 5 (and one per delay) are checked", async () => {
    const attacker = new DashboardClient(c.url, "127.0.0.2");
    await attacker.get("/login");
    const started = performance.now();
    const answers = await Promise.all(Array.from({ length: 30 }, () => attacker.post("/login", WRONG)));
    const ms = performance.now() - started;
    const count = (s: number) => answers.filter((a) => a.status === s).length;
    console.log(
      `30 parallel wrong guesses: ${count(401)} × 401 (checked), ${count(429)} × 429 in ${ms.toFixed(0)} ms`,
    );
    expect(count(401)).toBeGreaterThanOrEqual(LOGIN_THROTTLE.freePerUserAndAddress);
    expect(count(401)).toBeLessThanOrEqual(checkedAtMost(ms));
    expect(count(401) + count(429)).toBe(30);
    const throttled = answers.find((a) => a.status === 429)!;
    expect(Number(throttled.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    expect(throttled.text).toContain("Too many failed sign-ins from this address.");
  });

  it("does not lock the real admin out: from another address at once, from the guessing one after the delay", async () => {
    const there = new DashboardClient(c.url, "127.0.0.7");
    await there.get("/login");
    for (let i = 0; i < LOGIN_THROTTLE.freePerUserAndAddress; i++) {
      expect((await there.post("/login", WRONG)).status).toBe(401);
    }
    // Even the right password waits at the guessing address, but only for the delay it was told …
    const waiting = await there.post("/login", { username: ADMIN.name, password: ADMIN.password });
    expect(waiting.status).toBe(429);
    // … while the admin signs in from another address right away.
    const admin = new DashboardClient(c.url, "127.0.0.3");
    expect((await admin.signIn(ADMIN)).status).toBe(303);
    expect((await admin.get("/")).status).toBe(200);
    await sleep(Number(waiting.headers["retry-after"]) * 1000 + 50);
    expect((await there.signIn(ADMIN)).status).toBe(303);
  });

  it("grows the delay with each failure (1 s, 2 s, …) instead of locking", async () => {
    const client = new DashboardClient(c.url, "127.0.0.4");
    // One form, then POSTs only: each delay runs from the last failure, and a loaded machine must
    // not spend it on a GET between the failure and the next guess.
    await client.get("/login");
    const guess = () => client.post("/login", { username: "bob", password: "wrong password here" });
    for (let i = 0; i < LOGIN_THROTTLE.freePerUserAndAddress; i++) expect((await guess()).status).toBe(401);
    const delays: string[] = [];
    for (let round = 0; round < 3; round++) {
      const refused = await guess();
      expect(refused.status).toBe(429);
      delays.push(String(refused.headers["retry-after"]));
      await sleep(Number(refused.headers["retry-after"]) * 1000 + 50);
      expect((await guess()).status).toBe(401);
    }
    expect(delays).toEqual(["1", "2", "4"]);
  });

  it("slows one address guessing many user names after 20 failures", async () => {
    const sprayer = new DashboardClient(c.url, "127.0.0.5");
    await sprayer.get("/login");
    const statuses: number[] = [];
    for (let i = 0; i < LOGIN_THROTTLE.freePerAddress + 2; i++) {
      statuses.push(
        (await sprayer.post("/login", { username: `user${i}`, password: "guess guess guess" })).status,
      );
    }
    expect(statuses.slice(0, LOGIN_THROTTLE.freePerAddress).every((s) => s === 401)).toBe(true);
    expect(statuses.slice(LOGIN_THROTTLE.freePerAddress)).toEqual([429, 429]);
  });

  it("takes no key from X-Forwarded-For of a peer that is not a trusted proxy", async () => {
    // Without SRVUTIL_TRUSTED_PROXIES a client cannot get a fresh key per guess by inventing headers.
    const first = new DashboardClient(c.url, "127.0.0.6");
    await first.get("/login");
    const spoofers = sharingForm(
      first,
      Array.from({ length: 12 }, (_, i) => ({ "x-forwarded-for": `198.51.100.${i}` })),
    );
    const started = performance.now();
    const answers = await Promise.all(spoofers.map((s) => s.post("/login", WRONG)));
    const ms = performance.now() - started;
    const checked = answers.filter((a) => a.status === 401).length;
    expect(checked).toBeGreaterThanOrEqual(LOGIN_THROTTLE.freePerUserAndAddress);
    expect(checked).toBeLessThanOrEqual(checkedAtMost(ms));
    expect(answers.filter((a) => a.status === 429).length).toBe(12 - checked);
  });
});

describe("sign-in throttle behind a trusted proxy (SRVUTIL_TRUSTED_PROXIES=127.0.0.9)", () => {
  let c: RunningCentral & { dataDir: string };
  beforeAll(async () => {
    c = await dashboardCentral({ SRVUTIL_TRUSTED_PROXIES: "127.0.0.9" });
  });
  afterAll(async () => c?.close());

  it("keys on the forwarded client: a guesser behind the proxy does not slow the admin behind it", async () => {
    const viaProxy = (client: string) =>
      new DashboardClient(c.url, "127.0.0.9", { "x-forwarded-for": client });
    const attacker = viaProxy("203.0.113.1");
    await attacker.get("/login");
    const started = performance.now();
    const answers = await Promise.all(Array.from({ length: 12 }, () => attacker.post("/login", WRONG)));
    const checked = answers.filter((a) => a.status === 401).length;
    expect(checked).toBeLessThanOrEqual(checkedAtMost(performance.now() - started));
    expect(answers.filter((a) => a.status === 429).length).toBe(12 - checked);
    expect((await viaProxy("203.0.113.2").signIn(ADMIN)).status).toBe(303);

    const log = readFileSync(path.join(c.dataDir, "Logs", "automation.log"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { event: string; address?: string });
    const addresses = (event: string) => new Set(log.filter((e) => e.event === event).map((e) => e.address));
    expect(addresses("dashboard.sign_in_refused")).toEqual(new Set(["203.0.113.1"]));
    expect(addresses("dashboard.sign_in_throttled")).toEqual(new Set(["203.0.113.1"]));
    expect(addresses("dashboard.signed_in")).toEqual(new Set(["203.0.113.2"]));
  });
});
