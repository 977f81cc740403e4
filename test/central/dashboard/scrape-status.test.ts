import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { ScrapeStatus } from "../../../src/central/storage/scrape-status-store.js";
import { type DashboardHarness, dashboardBackends, InjectClient, NOW, VIEWER } from "./harness.js";

/**
 * A scrape target's state (store.scrapeStatus) on the dashboard, on SQLite
 * and PostgreSQL: a failing scrape is a warning with its error on the
 * server page and makes the fleet row silent saying why; back up, the
 * server page says where it is scraped from and when; a target that never
 * answered is listed too; the error text is escaped.
 */
const backends = await dashboardBackends();
const MIN = 60_000;
const HOSTILE_ERROR = `connect ECONNREFUSED <script>alert("x")</script> & 'more'\u0000\u001b[2J`;

/** The row of `server` in the fleet table. */
function fleetRow(body: string, server: string): string {
  const start = body.indexOf(`<tr><th scope="row"><a href="/servers/${encodeURIComponent(server)}">`);
  expect(start, `fleet row of ${server}`).toBeGreaterThan(-1);
  return body.slice(start, body.indexOf("</tr>", start));
}

describe.each(backends)("dashboard: scrape state, %s", (_name, skipReason, make) => {
  let h: DashboardHarness | undefined;
  const c = () => new InjectClient(h!.app);
  let viewer: InjectClient;
  beforeAll(async () => {
    if (skipReason !== undefined) return;
    h = await make();
    viewer = c();
    await viewer.signIn(VIEWER);
  });
  afterAll(async () => h?.close());
  beforeEach((ctx) => {
    if (skipReason !== undefined) ctx.skip(skipReason);
  });

  const status = (over: Partial<ScrapeStatus>): ScrapeStatus => ({
    server: "web-01",
    url: "http://10.0.0.5:9100/metrics",
    instance: "central-a:812:3f9c1e",
    state: "up",
    lastSuccessAt: NOW - MIN,
    downSince: null,
    lastError: null,
    updatedAt: NOW - MIN,
    ...over,
  });

  it("shows a failing scrape's error, escaped, on the server page and as the fleet row's why", async () => {
    await h!.store.scrapeStatus.record(
      status({
        state: "down",
        lastSuccessAt: NOW - 40 * MIN,
        downSince: NOW - 20 * MIN,
        lastError: HOSTILE_ERROR,
        updatedAt: NOW - 2 * MIN,
      }),
    );
    const page = await viewer.get("/servers/web-01");
    expect(page.statusCode).toBe(200);
    const escaped =
      "connect ECONNREFUSED &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;more&#39; [2J";
    expect(page.body).toContain(
      `<strong>Scrape failing since <time datetime="${new Date(NOW - 20 * MIN).toISOString()}">2026-03-11 12:10</time>:</strong> <span class="scrape-error">${escaped}</span>`,
    );
    expect(page.body).toContain(
      'Scraped from <code>http://10.0.0.5:9100/metrics</code> by <span class="instance">central-a:812:3f9c1e</span>; last success <time',
    );
    expect(page.body).toContain(">2026-03-11 11:50</time>");
    expect(page.body).not.toContain("<script>alert");
    expect(page.body).not.toContain(": up, last scrape");

    const fleet = await viewer.get("/");
    expect(fleet.statusCode).toBe(200);
    const row = fleetRow(fleet.body, "web-01");
    expect(row).toContain('<span class="badge st-silent">');
    expect(row).toContain(`<span class="why">scrape failing: ${escaped}</span>`);
    expect(fleet.body).not.toContain("<script>alert");
    // The other servers keep their own status.
    expect(fleetRow(fleet.body, "web-02")).not.toContain("scrape failing");
  });

  it("shows the up state with where and when it was scraped once the target is back", async () => {
    await h!.store.scrapeStatus.record(status({ lastSuccessAt: NOW - MIN, updatedAt: NOW - MIN }));
    const page = await viewer.get("/servers/web-01");
    expect(page.body).toContain(
      `<p class="scrape scrape-up">Scraped from <code>http://10.0.0.5:9100/metrics</code> by <span class="instance">central-a:812:3f9c1e</span>: up, last scrape <time datetime="${new Date(NOW - MIN).toISOString()}">2026-03-11 12:29</time></p>`,
    );
    expect(page.body).not.toContain("Scrape failing");
    const row = fleetRow((await viewer.get("/")).body, "web-01");
    expect(row).not.toContain("scrape failing");
    expect(row).not.toContain("st-silent");
    // A server that is not a scrape target has no scrape line.
    expect((await viewer.get("/servers/web-02")).body).not.toContain("Scraped from");
  });

  it("lists a target that never answered as silent, with its own page", async () => {
    await h!.store.scrapeStatus.record(
      status({
        server: "new-01",
        url: "http://10.0.0.9:9100/metrics",
        state: "down",
        lastSuccessAt: null,
        downSince: NOW - 5 * MIN,
        lastError: "connect EHOSTUNREACH 10.0.0.9:9100",
        updatedAt: NOW - 5 * MIN,
      }),
    );
    const fleet = (await viewer.get("/")).body;
    const row = fleetRow(fleet, "new-01");
    expect(row).toContain('<span class="badge st-silent">');
    expect(row).toContain('<span class="why">scrape failing: connect EHOSTUNREACH 10.0.0.9:9100</span>');
    expect(row).toContain("<td>never</td>");
    const page = await viewer.get("/servers/new-01");
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain("No samples from this server yet");
    expect(page.body).toContain("Scrape failing since");
    expect(page.body).toContain("connect EHOSTUNREACH 10.0.0.9:9100");
    expect(page.body).toContain("last success never");
    // Still a 404 for a name that is neither a server nor a target.
    expect((await viewer.get("/servers/nobody")).statusCode).toBe(404);
  });
});
