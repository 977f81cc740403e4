import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { authenticate, createAgentToken } from "../../../src/central/auth/tokens.js";
import { isoMinute } from "../../../src/central/dashboard/layout.js";
import type { MetricRow } from "../../../src/protocol/index.js";
import { ADMIN, type DashboardHarness, dashboardBackends, InjectClient, NOW, VIEWER } from "./harness.js";

/**
 * Issue 25's smaller points over app.inject, on SQLite and PostgreSQL: the
 * memory size next to the memory %, the tokens page's "last used", and each
 * finding once under "Needs action". A harness of its own: the fleet page
 * caches its read, and the first test changes web-01's memory before any read.
 */
const backends = await dashboardBackends();
const GiB = 1024 ** 3;

describe.each(backends)("dashboard figures and tokens: %s", (_name, skipReason, make) => {
  let h: DashboardHarness | undefined;
  beforeAll(async () => {
    if (skipReason === undefined) h = await make();
  });
  afterAll(async () => h?.close());
  beforeEach((ctx) => {
    if (skipReason !== undefined) ctx.skip(skipReason);
  });

  it("shows each server's memory size next to its memory %, from its newest sample", async () => {
    // web-01 had 8 GB in every sample so far; its RAM is upgraded to 16 GiB a minute ago.
    const upgraded: MetricRow = {
      timestamp: NOW - 60_000,
      server: "web-01",
      cpuPercent: 10,
      cpuPeakPercent: 20,
      intervalSeconds: 900,
      memTotalBytes: 16 * GiB,
      memUsedBytes: 4 * GiB,
      memAvailableBytes: 12 * GiB,
      diskMount: "/",
      diskTotalBytes: 100_000_000_000,
      diskUsedBytes: 41_000_000_000,
      diskFreeBytes: 59_000_000_000,
    };
    await h!.store.ingest(
      {
        uploadId: "ram-upgrade",
        server: "web-01",
        receivedAt: NOW,
        rawPath: "seed/ram.csv",
        sha256: "sha-ram",
        bytes: 1,
      },
      [upgraded],
    );
    await h!.store.rollups.refresh();
    const c = new InjectClient(h!.app);
    await c.signIn(VIEWER);
    const fleet = (await c.get("/?sort=name")).body;
    const memoryCell = (server: string) => {
      const row = new RegExp(
        `<tr><th scope="row"><a href="/servers/${server}">${server}</a></th>.*?</tr>`,
      ).exec(fleet);
      expect(row, server).not.toBeNull();
      // Status, CPU, then memory.
      return [...row![0].matchAll(/<td class="num">(.*?)<\/td>/g)][1]![1]!;
    };
    // The newest hour's average %, then the size of its last sample.
    expect(memoryCell("web-01")).toMatch(/^\d+\.\d\u00a0% <span class="of">of\u00a016\.0\u00a0GiB<\/span>$/);
    // 8,000,000,000 bytes in every sample.
    expect(memoryCell("web-02")).toBe('50.0\u00a0% <span class="of">of\u00a07.5\u00a0GiB</span>');

    const server = (await c.get("/servers/web-01?range=24h")).body;
    expect(server).toContain('<tr><th scope="row">Memory (16.0 GiB)</th>');
    expect(server).toContain("Memory used, average and peak (% of 16.0 GiB)");
    const other = (await c.get("/servers/web-02?range=24h")).body;
    expect(other).toContain('<tr><th scope="row">Memory (7.5 GiB)</th>');
  });

  it("lists when each token was last used, as `central token list` does, and 'never' for an unused one", async () => {
    const used = await createAgentToken(h!.store, "used-01");
    await createAgentToken(h!.store, "unused-01");
    expect((await authenticate(h!.store, `Bearer ${used}`, "agent")).ok).toBe(true);
    // The use is written after the answer, off the request path (auth/tokens.ts): wait for it.
    let lastUsedAt: number | null = null;
    for (let i = 0; i < 100 && lastUsedAt === null; i++) {
      await new Promise((r) => setTimeout(r, 20));
      lastUsedAt =
        (await h!.store.tokens.list("agent")).find((t) => t.server === "used-01")?.lastUsedAt ?? null;
    }
    expect(lastUsedAt).not.toBeNull();
    const c = new InjectClient(h!.app);
    await c.signIn(ADMIN);
    const page = (await c.get("/admin/tokens")).body;
    const header = /<thead><tr>(.*?)<\/tr><\/thead>/.exec(page)![1]!;
    const columns = [...header.matchAll(/<th scope="col">(.*?)<\/th>/g)].map((m) => m[1]);
    expect(columns).toEqual(["Name", "Role", "Sees", "Token id", "Created", "Last used", "Status", "Action"]);
    const cells = (name: string) => {
      const row = new RegExp(`<tr><th scope="row">${name}</th>(.*?)</tr>`, "s").exec(page);
      expect(row, name).not.toBeNull();
      return [...row![1]!.matchAll(/<td>(.*?)<\/td>/gs)].map((m) => m[1]!.trim());
    };
    // Role, what it sees, token id, created, last used.
    expect(cells("used-01")[4]).toBe(isoMinute(lastUsedAt!, "UTC"));
    expect(cells("unused-01")[4]).toBe("never");
  });

  it("lists each finding of a server needing action once, not its first one again as the reason", async () => {
    const c = new InjectClient(h!.app);
    await c.signIn(VIEWER);
    const fleet = (await c.get("/")).body;
    const needs = fleet.slice(
      fleet.indexOf('<ul class="needs">'),
      fleet.indexOf("</section>", fleet.indexOf('id="na-h"')),
    );
    const servers = needs.split(/<li><span class="badge /).slice(1);
    expect(servers.length).toBeGreaterThan(0);
    let findings = 0;
    for (const entry of servers) {
      for (const m of entry.matchAll(/<span class="kind">[^<]*<\/span>: (.*?)<\/li>/g)) {
        findings++;
        expect(entry.split(m[1]!).length - 1, m[1]).toBe(1);
      }
    }
    expect(findings).toBeGreaterThan(0);
  });
});
