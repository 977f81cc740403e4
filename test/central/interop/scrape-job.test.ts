import { mkdtempSync, readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import { AutomationLog } from "../../../src/central/automation-log.js";
import type {
  InteropSource,
  InteropWriter,
  PointGroup,
} from "../../../src/central/ingest/interop/point-group.js";
import type { InteropBatchResult } from "../../../src/central/ingest/interop/sink.js";
import type { ScrapeTarget } from "../../../src/central/scrape/config.js";
import { fetchExposition } from "../../../src/central/scrape/fetch-target.js";
import { Scraper } from "../../../src/central/scrape/scraper.js";
import { makeSelfSignedCert } from "../../helpers/tls.js";

const NODE_TEXT = readFileSync(
  new URL("../../fixtures/interop/node-exporter-1.5.0.prom", import.meta.url),
  "utf8",
);
const tmp = mkdtempSync(path.join(os.tmpdir(), "srvutil-scrape-job-"));

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;
const servers: (http.Server | https.Server)[] = [];
afterEach(async () => {
  await Promise.all(
    servers.splice(0).map((s) => {
      s.closeAllConnections();
      return new Promise((r) => s.close(r));
    }),
  );
});

async function serve(handler: Handler, tls?: { key: Buffer; cert: Buffer }): Promise<string> {
  const server = tls ? https.createServer(tls, handler) : http.createServer(handler);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return `${tls ? "https" : "http"}://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
}

const target = (url: string, more: Partial<ScrapeTarget> = {}): ScrapeTarget => ({
  server: "web-01",
  url,
  intervalMs: 60_000,
  timeoutMs: 2_000,
  auth: null,
  tlsCa: null,
  ...more,
});

/** The sink's accept, recorded (the real sink is the lead's; this test stops at its door). */
function recordingAccept() {
  const calls: { groups: readonly PointGroup[]; source: InteropSource; writer: InteropWriter }[] = [];
  const accept = async (groups: readonly PointGroup[], source: InteropSource, writer: InteropWriter) => {
    calls.push({ groups, source, writer });
    const result: InteropBatchResult = {
      samples: groups.length,
      rows: groups.length,
      inserted: groups.length,
      servers: [...new Set(groups.map((g) => g.server))],
      primed: 0,
      stale: 0,
      partial: 0,
      incomplete: [],
      incompleteCount: 0,
    };
    return result;
  };
  return { calls, accept };
}

const onlyMe = { liveInstances: async () => [] };

describe("fetchExposition", () => {
  it("sends the bearer token and the text-format Accept, and reads a gzip answer", async () => {
    let seen: http.IncomingHttpHeaders = {};
    const url = await serve((req, res) => {
      seen = req.headers;
      res.writeHead(200, { "content-type": "text/plain; version=0.0.4", "content-encoding": "gzip" });
      res.end(gzipSync(NODE_TEXT));
    });
    const text = await fetchExposition(target(url, { auth: { kind: "bearer", token: "tok-1" } }));
    expect(text).toBe(NODE_TEXT);
    expect(seen.authorization).toBe("Bearer tok-1");
    expect(seen.accept).toMatch(/^text\/plain;version=0\.0\.4/);
  });

  it("sends basic auth, and trusts the target's CA over https", async () => {
    const cert = makeSelfSignedCert(tmp);
    let auth = "";
    const url = await serve(
      (req, res) => {
        auth = req.headers.authorization ?? "";
        res.end("node_memory_MemTotal_bytes 1\n");
      },
      { key: cert.key, cert: cert.cert },
    );
    const t = target(url, {
      auth: { kind: "basic", username: "prom", password: "pw" },
      tlsCa: cert.cert.toString(),
    });
    expect(await fetchExposition(t)).toBe("node_memory_MemTotal_bytes 1\n");
    expect(auth).toBe(`Basic ${Buffer.from("prom:pw").toString("base64")}`);
    // Without the CA the self-signed certificate is refused.
    await expect(fetchExposition(target(url))).rejects.toThrow(/self-signed|certificate/i);
  });

  it("gives up at the timeout, at the size cap (after decompression), on non-2xx and on a refused connection", async () => {
    const hung = await serve(() => {});
    const started = Date.now();
    await expect(fetchExposition(target(hung, { timeoutMs: 300 }))).rejects.toThrow(
      "no complete answer within 0.3 s",
    );
    expect(Date.now() - started).toBeLessThan(2_000);

    const bomb = await serve((_req, res) => {
      res.writeHead(200, { "content-encoding": "gzip" });
      res.end(gzipSync(Buffer.alloc(5_000_000, 0x61)));
    });
    await expect(fetchExposition(target(bomb), { maxBytes: 1_000_000 })).rejects.toThrow(
      "over 1000000 bytes",
    );

    const denied = await serve((_req, res) => {
      res.writeHead(401);
      res.end("no");
    });
    await expect(fetchExposition(target(denied))).rejects.toThrow("HTTP 401 Unauthorized");

    const cut = await serve((_req, res) => {
      res.writeHead(200, { "content-length": "100000" });
      res.write("node_memory_MemTotal_bytes 1\n");
      setTimeout(() => res.socket?.destroy(), 50);
    });
    await expect(fetchExposition(target(cut))).rejects.toThrow(
      /closed before the answer was complete|aborted/,
    );

    const closed = await serve(() => {});
    const port = new URL(closed).port;
    await new Promise((r) => servers.pop()?.close(r));
    await expect(fetchExposition(target(`http://127.0.0.1:${port}/metrics`))).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe("Scraper", () => {
  it("scrapes node_exporter's text into one group for the target's server, through accept('scrape')", async () => {
    const url = await serve((_req, res) => res.end(NODE_TEXT));
    const { calls, accept } = recordingAccept();
    const scraper = new Scraper({
      targets: [target(url)],
      accept,
      coordination: onlyMe,
      instanceId: "me",
      log: null,
    });
    const before = Date.now();
    await scraper.scrapeOnce(target(url));
    expect(calls).toHaveLength(1);
    expect(calls[0]?.source).toBe("scrape");
    expect(calls[0]?.writer).toEqual({ kind: "scrape" });
    const g = calls[0]?.groups[0];
    expect(g?.server).toBe("web-01");
    expect(g?.timestamp).toBeGreaterThanOrEqual(before);
    expect(g?.memory).toEqual({ totalBytes: 25_276_157_952, availableBytes: 23_811_547_136 });
    expect(g?.disks.map((d) => d.mount)).toEqual(["/"]);
    expect(scraper.targets()[0]).toMatchObject({ state: "up", scrapedBy: "me", lastError: null });
  });

  it("logs a target going down once, keeps its last error, and logs it coming back once", async () => {
    let answer: "ok" | "500" | "junk" = "500";
    const url = await serve((_req, res) => {
      if (answer === "500") {
        res.writeHead(500);
        res.end();
      } else res.end(answer === "junk" ? "<html>hello</html>\n" : NODE_TEXT);
    });
    const logFile = path.join(tmp, "automation.log");
    const log = new AutomationLog(logFile);
    const { calls, accept } = recordingAccept();
    const t = target(url);
    const scraper = new Scraper({ targets: [t], accept, coordination: onlyMe, instanceId: "me", log });
    for (let i = 0; i < 3; i += 1) await scraper.scrapeOnce(t);
    expect(scraper.targets()[0]).toMatchObject({
      state: "down",
      lastError: "HTTP 500 Internal Server Error",
    });
    answer = "junk";
    await scraper.scrapeOnce(t);
    expect(scraper.targets()[0]?.lastError).toMatch(/line 1: not a valid metric name/);
    answer = "ok";
    await scraper.scrapeOnce(t);
    await scraper.scrapeOnce(t);
    expect(calls).toHaveLength(2);
    log.close();
    const lines = readFileSync(logFile, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { event: string; server?: string; error?: string });
    expect(lines.map((l) => l.event)).toEqual(["scrape target down", "scrape target up"]);
    expect(lines[0]).toMatchObject({ server: "web-01", error: "HTTP 500 Internal Server Error" });
  });

  it("marks a target another instance owns as elsewhere, without fetching it", async () => {
    let hits = 0;
    const url = await serve((_req, res) => {
      hits += 1;
      res.end(NODE_TEXT);
    });
    const { calls, accept } = recordingAccept();
    const live = (ids: string[]) => ({
      liveInstances: async () =>
        ids.map((id) => ({ id, description: id, startedAt: 0, lastSeen: 0, expiresAt: 0 })),
    });
    const t = target(url);
    // Two instances that read the same list: exactly one of them fetches.
    const a = new Scraper({
      targets: [t],
      accept,
      coordination: live(["a", "b"]),
      instanceId: "a",
      log: null,
    });
    const b = new Scraper({
      targets: [t],
      accept,
      coordination: live(["a", "b"]),
      instanceId: "b",
      log: null,
    });
    await a.scrapeOnce(t);
    await b.scrapeOnce(t);
    expect(hits).toBe(1);
    expect(calls).toHaveLength(1);
    const states = [a.targets()[0]?.state, b.targets()[0]?.state].sort();
    expect(states).toEqual(["elsewhere", "up"]);
    expect(a.targets()[0]?.scrapedBy).toBe(b.targets()[0]?.scrapedBy);
  });

  it("stop() abandons a scrape under way at once, whatever its timeout", async () => {
    const hung = await serve(() => {});
    const { calls, accept } = recordingAccept();
    const t = target(hung, { timeoutMs: 600_000, intervalMs: 600_000 });
    const scraper = new Scraper({ targets: [t], accept, coordination: onlyMe, instanceId: "me", log: null });
    const turn = scraper.scrapeOnce(t);
    await new Promise((r) => setTimeout(r, 200));
    const started = Date.now();
    await scraper.stop();
    await turn;
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(calls).toHaveLength(0);
    expect(scraper.targets()[0]?.lastError).toBe("the scraper stopped");
  });

  it("runs on its own timer and stops with stop()", async () => {
    const url = await serve((_req, res) => res.end(NODE_TEXT));
    const { calls, accept } = recordingAccept();
    const t = target(url, { intervalMs: 1_000, timeoutMs: 1_000 });
    const scraper = new Scraper({ targets: [t], accept, coordination: onlyMe, instanceId: "me", log: null });
    scraper.start();
    await new Promise((r) => setTimeout(r, 2_600));
    await scraper.stop();
    const n = calls.length;
    expect(n).toBeGreaterThanOrEqual(2);
    expect(n).toBeLessThanOrEqual(3);
    await new Promise((r) => setTimeout(r, 1_200));
    expect(calls).toHaveLength(n);
  });
});
