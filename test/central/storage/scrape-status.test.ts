import { afterEach, describe, expect, it } from "vitest";
import {
  SCRAPE_ERROR_MAX_CHARS,
  type ScrapeStatus,
} from "../../../src/central/storage/scrape-status-store.js";
import { type StoreBackend, storeBackends, type TempStore } from "../../helpers/store-backends.js";

/**
 * store.scrapeStatus on SQLite and PostgreSQL: what one instance records,
 * another instance on the same database lists and gets; an older write does not
 * replace a newer one; a takeover keeps the last success and the time the
 * target went down; errors are cleaned and clipped; URLs lose credentials.
 */
const BACKENDS = await storeBackends();

describe.each(BACKENDS)("store.scrapeStatus: $name", (backend: StoreBackend) => {
  let t: TempStore | undefined;
  afterEach(async () => {
    await t?.cleanup();
    t = undefined;
  });
  const open = async (ctx: { skip: (why: string) => void }) => {
    if (backend.skipReason !== undefined) ctx.skip(backend.skipReason);
    t = await backend.make();
    return { a: t.store, b: await t.another() };
  };
  const now = Date.now();
  const up = (over: Partial<ScrapeStatus> = {}): ScrapeStatus => ({
    server: "web-01",
    url: "http://10.0.0.5:9100/metrics",
    instance: "inst-a",
    state: "up",
    lastSuccessAt: now - 60_000,
    downSince: null,
    lastError: null,
    updatedAt: now - 60_000,
    ...over,
  });

  it("lists what another instance recorded, newest write per server, ordered by server", async (ctx) => {
    const { a, b } = await open(ctx);
    expect(await b.scrapeStatus.list()).toEqual([]);
    await a.scrapeStatus.record(up({ server: "web-02" }));
    await a.scrapeStatus.record(up());
    expect(await b.scrapeStatus.list()).toEqual([up(), up({ server: "web-02" })]);
    await b.scrapeStatus.record(
      up({
        instance: "inst-b",
        state: "down",
        downSince: now - 30_000,
        lastError: "connect ECONNREFUSED 10.0.0.5:9100",
        updatedAt: now - 30_000,
      }),
    );
    // A write older than the stored one (another instance a moment late) changes nothing.
    await a.scrapeStatus.record(up({ updatedAt: now - 45_000, lastSuccessAt: now - 45_000 }));
    const [web01] = await a.scrapeStatus.list();
    expect(web01).toEqual({
      server: "web-01",
      url: "http://10.0.0.5:9100/metrics",
      instance: "inst-b",
      state: "down",
      lastSuccessAt: now - 60_000,
      downSince: now - 30_000,
      lastError: "connect ECONNREFUSED 10.0.0.5:9100",
      updatedAt: now - 30_000,
    });
  });

  it("gets one server's state as another instance recorded it, and null for a server never stored", async (ctx) => {
    const { a, b } = await open(ctx);
    expect(await b.scrapeStatus.get("web-01")).toBeNull();
    await a.scrapeStatus.record(up({ server: "web-02" }));
    await a.scrapeStatus.record(
      up({ state: "down", downSince: now - 20_000, lastError: "HTTP 503", updatedAt: now - 20_000 }),
    );
    expect(await b.scrapeStatus.get("web-01")).toEqual(
      up({ state: "down", downSince: now - 20_000, lastError: "HTTP 503", updatedAt: now - 20_000 }),
    );
    expect(await b.scrapeStatus.get("web-02")).toEqual(up({ server: "web-02" }));
    // An exact match: no prefix, pattern or case folding.
    expect(await b.scrapeStatus.get("web-0")).toBeNull();
    expect(await b.scrapeStatus.get("web-0%")).toBeNull();
    expect(await b.scrapeStatus.get("WEB-01")).toBeNull();
    await b.scrapeStatus.forgetOthers(["web-02"]);
    expect(await a.scrapeStatus.get("web-01")).toBeNull();
  });

  it("keeps the stored last success and down-since when a new owner knows neither", async (ctx) => {
    const { a, b } = await open(ctx);
    await a.scrapeStatus.record(up());
    await a.scrapeStatus.record(
      up({ state: "down", downSince: now - 50_000, lastError: "HTTP 500", updatedAt: now - 50_000 }),
    );
    // Instance b takes the target over: its first scrape fails with another error.
    await b.scrapeStatus.record(
      up({
        instance: "inst-b",
        state: "down",
        lastSuccessAt: null,
        downSince: now - 10_000,
        lastError: "timeout",
        updatedAt: now - 10_000,
      }),
    );
    expect((await a.scrapeStatus.list())[0]).toMatchObject({
      instance: "inst-b",
      state: "down",
      lastSuccessAt: now - 60_000,
      downSince: now - 50_000,
      lastError: "timeout",
    });
    // Back up: no error, no down-since, the new success.
    await b.scrapeStatus.record(up({ instance: "inst-b", lastSuccessAt: now, updatedAt: now }));
    expect((await a.scrapeStatus.list())[0]).toEqual(
      up({ instance: "inst-b", lastSuccessAt: now, updatedAt: now }),
    );
  });

  it("forgets every server but the ones kept", async (ctx) => {
    const { a, b } = await open(ctx);
    for (const server of ["web-01", "web-02", "web-03", "it's-04"])
      await a.scrapeStatus.record(up({ server }));
    expect(await b.scrapeStatus.forgetOthers(["web-02", "it's-04", "never-stored"])).toBe(2);
    expect((await a.scrapeStatus.list()).map((s) => s.server)).toEqual(["it's-04", "web-02"]);
    expect(await b.scrapeStatus.forgetOthers([])).toBe(2);
    expect(await a.scrapeStatus.list()).toEqual([]);
  });

  it("stores errors without control characters, clipped, and URLs without credentials", async (ctx) => {
    const { a } = await open(ctx);
    const hostile = `line 1: not a valid metric name\u0000\u001b[31m<script>alert(1)</script>\r\n\u2028${"x".repeat(2_000)}`;
    await a.scrapeStatus.record(
      up({
        url: "http://prom:secret@10.0.0.5:9100/metrics",
        state: "down",
        downSince: now,
        lastError: hostile,
        updatedAt: now,
      }),
    );
    const [s] = await a.scrapeStatus.list();
    expect(s?.url).toBe("http://10.0.0.5:9100/metrics");
    expect(
      s?.lastError?.startsWith("line 1: not a valid metric name [31m<script>alert(1)</script> xxx"),
    ).toBe(true);
    expect([...(s?.lastError ?? "")]).toHaveLength(SCRAPE_ERROR_MAX_CHARS);
    expect(s?.lastError?.endsWith("x…")).toBe(true);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: asserting there are none
    expect(s?.lastError).not.toMatch(/[\u0000-\u001f\u007f]/);
  });
});
