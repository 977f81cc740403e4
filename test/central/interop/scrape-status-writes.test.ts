/**
 * The scraper writes each target's state to store.scrapeStatus (a real
 * SQLite store): on the first scrape, when the state or the error changes,
 * and otherwise only when the refresh is due, not on every scrape; the
 * instance that does not own a target writes nothing; a failing write is
 * logged once and scraping goes on.
 */
import { readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AutomationLog } from "../../../src/central/automation-log.js";
import type { PointGroup } from "../../../src/central/ingest/interop/point-group.js";
import type { InteropBatchResult } from "../../../src/central/ingest/interop/sink.js";
import type { ScrapeTarget } from "../../../src/central/scrape/config.js";
import { ownerOf } from "../../../src/central/scrape/ownership.js";
import { Scraper } from "../../../src/central/scrape/scraper.js";
import type { ScrapeStatus } from "../../../src/central/storage/scrape-status-store.js";
import { type TempStore, tempStore } from "../../helpers/store-backends.js";

const NODE_TEXT = readFileSync(
  new URL("../../fixtures/interop/node-exporter-1.5.0.prom", import.meta.url),
  "utf8",
);

const servers: http.Server[] = [];
let t: TempStore | undefined;
afterEach(async () => {
  await Promise.all(
    servers.splice(0).map((s) => {
      s.closeAllConnections();
      return new Promise((r) => s.close(r));
    }),
  );
  await t?.cleanup();
  t = undefined;
});

async function serve(handler: http.RequestListener): Promise<string> {
  const server = http.createServer(handler);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
}

const target = (url: string): ScrapeTarget => ({
  server: "web-01",
  url,
  intervalMs: 60_000,
  timeoutMs: 2_000,
  auth: null,
  tlsCa: null,
});

/** Counts the scrapes the sink was given (the sink itself is tested in sink.test.ts). */
function countingAccept() {
  const scrapes: number[] = [];
  const accept = async (groups: readonly PointGroup[]): Promise<InteropBatchResult> => {
    scrapes.push(groups.length);
    return {
      samples: groups.length,
      rows: groups.length,
      inserted: groups.length,
      servers: ["web-01"],
      primed: 0,
      stale: 0,
      partial: 0,
      incomplete: [],
      incompleteCount: 0,
    };
  };
  return { scrapes, accept };
}

const onlyMe = { liveInstances: async () => [] };

/** The real store's scrapeStatus, with every write it was given kept. */
async function storeWithWrites() {
  t = await tempStore();
  const store = t.store;
  const writes: ScrapeStatus[] = [];
  return {
    store,
    writes,
    statusStore: {
      record: async (s: ScrapeStatus) => {
        writes.push(s);
        await store.scrapeStatus.record(s);
      },
      forgetOthers: (keep: readonly string[]) => store.scrapeStatus.forgetOthers(keep),
    },
  };
}

describe("Scraper → store.scrapeStatus", () => {
  it("writes the first scrape, each change of state or error, and an unchanged state only when due", async () => {
    let answer: "ok" | "500" | "junk" = "ok";
    const url = await serve((_req, res) => {
      if (answer === "500") {
        res.writeHead(500);
        res.end();
      } else res.end(answer === "junk" ? "<html>hello</html>\n" : NODE_TEXT);
    });
    const { store, writes, statusStore } = await storeWithWrites();
    const { scrapes, accept } = countingAccept();
    const tg = target(url);
    const scraper = new Scraper({
      targets: [tg],
      accept,
      coordination: onlyMe,
      instanceId: "inst-a",
      log: null,
      statusStore,
      statusRefreshMs: 400,
    });
    const before = Date.now();
    for (let i = 0; i < 3; i += 1) await scraper.scrapeOnce(tg);
    expect(scrapes).toHaveLength(3);
    expect(writes).toHaveLength(1);
    const [first] = await store.scrapeStatus.list();
    expect(first).toMatchObject({ server: "web-01", url, instance: "inst-a", state: "up", lastError: null });
    expect(first?.lastSuccessAt).toBeGreaterThanOrEqual(before);

    // Unchanged but due: written again, with the newer last success.
    await new Promise((r) => setTimeout(r, 450));
    await scraper.scrapeOnce(tg);
    expect(writes).toHaveLength(2);
    expect((await store.scrapeStatus.list())[0]?.lastSuccessAt).toBeGreaterThan(first?.lastSuccessAt ?? 0);
    const lastUp = (await store.scrapeStatus.list())[0]?.lastSuccessAt;

    answer = "500";
    const wentDown = Date.now();
    await scraper.scrapeOnce(tg);
    await scraper.scrapeOnce(tg);
    expect(writes).toHaveLength(3);
    const down = (await store.scrapeStatus.list())[0];
    expect(down).toMatchObject({
      state: "down",
      lastError: "HTTP 500 Internal Server Error",
      lastSuccessAt: lastUp,
    });
    expect(down?.downSince).toBeGreaterThanOrEqual(wentDown);

    // Another error: written, still down since the same moment.
    answer = "junk";
    await scraper.scrapeOnce(tg);
    expect(writes).toHaveLength(4);
    const junk = (await store.scrapeStatus.list())[0];
    expect(junk?.lastError).toMatch(/line 1: not a valid metric name/);
    expect(junk?.downSince).toBe(down?.downSince);

    answer = "ok";
    await scraper.scrapeOnce(tg);
    expect(writes).toHaveLength(5);
    expect((await store.scrapeStatus.list())[0]).toMatchObject({
      state: "up",
      lastError: null,
      downSince: null,
    });
  });

  it("writes nothing for a target another instance owns", async () => {
    const url = await serve((_req, res) => res.end(NODE_TEXT));
    const { store, writes, statusStore } = await storeWithWrites();
    const { accept } = countingAccept();
    const tg = target(url);
    const live = {
      liveInstances: async () =>
        ["a", "b"].map((id) => ({ id, description: id, startedAt: 0, lastSeen: 0, expiresAt: 0 })),
    };
    const scrapers = ["a", "b"].map(
      (id) =>
        new Scraper({ targets: [tg], accept, coordination: live, instanceId: id, log: null, statusStore }),
    );
    for (const s of scrapers) await s.scrapeOnce(tg);
    expect(writes).toHaveLength(1);
    const owner = scrapers[0]?.targets()[0]?.scrapedBy;
    expect((await store.scrapeStatus.list()).map((s) => s.instance)).toEqual([owner]);
  });

  it("logs a failing write once and keeps scraping", async () => {
    const url = await serve((_req, res) => res.end(NODE_TEXT));
    const { store, statusStore } = await storeWithWrites();
    const logFile = path.join(t?.dir ?? "", "automation.log");
    const log = new AutomationLog(logFile);
    const { scrapes, accept } = countingAccept();
    const tg = target(url);
    const scraper = new Scraper({
      targets: [tg],
      accept,
      coordination: onlyMe,
      instanceId: "me",
      log,
      statusStore,
    });
    // The database goes away under the scraper: every write now fails for real.
    await store.close();
    for (let i = 0; i < 3; i += 1) await scraper.scrapeOnce(tg);
    expect(scrapes).toHaveLength(3);
    expect(scraper.targets()[0]).toMatchObject({ state: "up", lastError: null });
    log.close();
    const lines = readFileSync(logFile, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { event: string; server?: string; error?: string });
    expect(lines.map((l) => l.event)).toEqual(["scrape status not stored"]);
    expect(lines[0]).toMatchObject({ server: "web-01" });
    expect(lines[0]?.error).toMatch(/not open/i);
  });
});

describe("Scraper → store.scrapeStatus at start", () => {
  it("forgets the states of targets taken out of the config", async () => {
    const url = await serve((_req, res) => res.end(NODE_TEXT));
    const { store, statusStore } = await storeWithWrites();
    const { accept } = countingAccept();
    const now = Date.now();
    for (const server of ["web-01", "gone-01"]) {
      await store.scrapeStatus.record({
        server,
        url,
        instance: "old",
        state: "down",
        lastSuccessAt: null,
        downSince: now,
        lastError: "HTTP 500 Internal Server Error",
        updatedAt: now,
      });
    }
    const tg = target(url);
    const scraper = new Scraper({
      targets: [tg],
      accept,
      coordination: onlyMe,
      instanceId: "me",
      log: null,
      statusStore,
    });
    scraper.start();
    await scraper.stop();
    expect((await store.scrapeStatus.list()).map((s) => s.server)).toEqual(["web-01"]);
  });
});

describe("Scraper → store.scrapeStatus while instances disagree", () => {
  it("the owner writes again once the instances' lists have settled, over a write made on an older list", async () => {
    const url = await serve((_req, res) => res.end(NODE_TEXT));
    const { store, statusStore } = await storeWithWrites();
    const { accept } = countingAccept();
    const tg = { ...target(url), timeoutMs: 200 };
    const owner = ownerOf(`${tg.server} ${tg.url}`, ["x", "y"]);
    const stale = owner === "x" ? "y" : "x";
    const live = (ids: string[]) => ({
      liveInstances: async () =>
        ids.map((id) => ({ id, description: id, startedAt: 0, lastSeen: 0, expiresAt: 0 })),
    });
    const common = { targets: [tg], accept, log: null, statusStore, membershipTtlMs: 100 };
    // The owner sees both instances; the other still reads a list without the owner.
    const ownerScraper = new Scraper({ ...common, coordination: live(["x", "y"]), instanceId: owner });
    const staleScraper = new Scraper({ ...common, coordination: live([stale]), instanceId: stale });
    await ownerScraper.scrapeOnce(tg);
    await staleScraper.scrapeOnce(tg);
    expect((await store.scrapeStatus.list())[0]?.instance).toBe(stale);
    await ownerScraper.scrapeOnce(tg);
    expect((await store.scrapeStatus.list())[0]?.instance).toBe(stale);
    // Past the owner's settle point (TTL 100 ms + timeout 200 ms): its next scrape writes again.
    await new Promise((r) => setTimeout(r, 350));
    await ownerScraper.scrapeOnce(tg);
    expect((await store.scrapeStatus.list())[0]?.instance).toBe(owner);
  });
});
